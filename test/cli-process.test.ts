/**
 * The built `zeq-keyex` executable as real processes: `demo`, `serve` on a loopback socket with
 * `fingerprint` and `handshake` against it, clean exits on SIGINT/SIGTERM, and a restart of
 * `serve --store` (same fingerprint; a wrong field key refuses the machine and leaves its key file
 * byte for byte as it was).
 *
 * The package is built once with the project's tsup config into a private directory inside the
 * repository (so the runtime dependencies resolve from its node_modules, and a concurrent build
 * of `dist/` cannot pull files from under these processes).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ALG } from '../src/constants.js';
import { isSessionId } from '../src/identifiers.js';
import { FIELD_KEY, OTHER_FIELD_KEY } from './helpers/responder.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SLUG = 'edge-01';
const MACHINE_ID = 'm-1';
/** Upper bound for any one command; they take well under a second here. */
const RUN_LIMIT_MS = 10_000;
/** How long a server may take to stop after a signal. */
const STOP_LIMIT_MS = 5_000;

let buildDir: string;
let cliPath: string;
let scratch: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  await mkdir(join(ROOT, '.tmp'), { recursive: true });
  buildDir = await mkdtemp(join(ROOT, '.tmp', 'cli-build-'));
  scratch = await mkdtemp(join(tmpdir(), 'zeq-keyex-cli-process-'));
  const tsup = join(ROOT, 'node_modules', 'tsup', 'dist', 'cli-default.js');
  await promisify(execFile)(process.execPath, [tsup, '--out-dir', buildDir, '--no-dts', '--silent'], { cwd: ROOT, timeout: 25_000 });
  cliPath = join(buildDir, 'cli.js');
}, 30_000);

afterEach(() => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
});

afterAll(async () => {
  await rm(buildDir, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
});

/** A minimal environment: nothing inherited that could change the CLI's behaviour. */
function envWith(fieldKey?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '' };
  if (fieldKey !== undefined) env['ZEQ_FIELD_KEY'] = fieldKey;
  return env;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process exits, or rejects after `limitMs`. */
  exited(limitMs: number): Promise<Exit>;
}

function start(args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<Exit>((resolveExit) => {
    child.once('close', (code, signal) => resolveExit({ code, signal, stdout, stderr }));
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited: (limitMs) => {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`zeq-keyex ${args[0] ?? ''} did not exit within ${limitMs} ms; stderr: ${stderr}`)), limitMs);
      });
      return Promise.race([exit, limit]).finally(() => clearTimeout(timer));
    },
  };
}

/** Runs the CLI to completion. */
function run(args: string[], env: NodeJS.ProcessEnv = envWith()): Promise<Exit> {
  return start(args, env).exited(RUN_LIMIT_MS);
}

interface Server extends Running {
  origin: string;
  port: number;
}

/** Starts `serve` and waits (bounded) for its first stdout line. */
async function startServe(args: string[], fieldKey: string): Promise<Server> {
  const server = start(['serve', '--port', '0', ...args], envWith(fieldKey));
  const line = await new Promise<string>((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed nothing; stderr: ${server.stderr()}`)), RUN_LIMIT_MS);
    const check = (): void => {
      const newline = server.stdout().indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      server.child.stdout?.off('data', check);
      resolveLine(server.stdout().slice(0, newline));
    };
    server.child.stdout?.on('data', check);
    server.child.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`serve exited before listening; stderr: ${server.stderr()}`));
    });
    check();
  });
  const match = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
  expect(match, `unexpected first line: ${line}`).not.toBeNull();
  const port = Number(match?.[2]);
  expect(Number.isInteger(port) && port > 0 && port <= 65535).toBe(true);
  return { ...server, origin: match?.[1] as string, port };
}

/** Sends `signal` and expects a prompt, clean exit with the listening line as the only stdout. */
async function stop(server: Server, signal: NodeJS.Signals): Promise<Exit> {
  server.child.kill(signal);
  const exit = await server.exited(STOP_LIMIT_MS);
  expect(exit.signal).toBeNull();
  expect(exit.code).toBe(0);
  expect(exit.stdout).toBe(`listening on ${server.origin}\n`);
  return exit;
}

function jsonOf(exit: Exit): Record<string, unknown> {
  const lines = exit.stdout.split('\n');
  expect(lines).toHaveLength(2); // one line and its newline
  expect(lines[1]).toBe('');
  return JSON.parse(lines[0] as string) as Record<string, unknown>;
}

async function fingerprintOf(origin: string): Promise<string> {
  const exit = await run(['fingerprint', origin, SLUG]);
  expect(exit.code, exit.stderr).toBe(0);
  const fingerprint = exit.stdout.trim();
  expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
  return fingerprint;
}

describe('zeq-keyex (built)', () => {
  test('demo: exits 0, prints the fingerprint and "demo ok"', async () => {
    const exit = await run(['demo']);
    expect(exit.code, exit.stderr).toBe(0);
    const lines = exit.stdout.split('\n').map((line) => line.trim());
    expect(lines.some((line) => /^fingerprint [0-9a-f]{64}$/.test(line))).toBe(true);
    expect(lines).toContain('demo ok');
  });

  test('--help and field-key work from the executable', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout.length).toBeGreaterThan(0);
    const key = await run(['field-key']);
    expect(key.code).toBe(0);
    expect(key.stdout).toMatch(/^[0-9a-f]{64}\n$/);
  });

  test('serve --port 0: one listening line with the real port; fingerprint and pinned handshake over it; SIGINT stops it', async () => {
    const server = await startServe(['--machine', `${SLUG}=${MACHINE_ID}`], FIELD_KEY);
    const fingerprint = await fingerprintOf(server.origin);
    const exit = await run(['handshake', server.origin, SLUG, '--pin', fingerprint, '--json']);
    expect(exit.code, exit.stderr).toBe(0);
    const out = jsonOf(exit);
    expect(Object.keys(out)).toEqual(['ok', 'session_id', 'machine_id', 'fingerprint', 'alg', 'authenticated']);
    expect(out).toEqual({ ok: true, session_id: out['session_id'], machine_id: MACHINE_ID, fingerprint, alg: ALG, authenticated: true });
    expect(isSessionId(out['session_id'])).toBe(true);

    const stopped = await stop(server, 'SIGINT');
    expect(stopped.stderr).not.toContain(FIELD_KEY);
  });

  test('SIGTERM stops serve promptly, even with a keep-alive connection open', async () => {
    const server = await startServe(['--machine', `${SLUG}=${MACHINE_ID}`], FIELD_KEY);
    // This process's fetch keeps its connection alive after the response.
    const response = await fetch(`${server.origin}/api/keyex/${SLUG}/pubkey`);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    await stop(server, 'SIGTERM');
  });

  test('serve without ZEQ_FIELD_KEY exits 2 without listening', async () => {
    const exit = await run(['serve', '--port', '0', '--machine', `${SLUG}=${MACHINE_ID}`], envWith());
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr.length).toBeGreaterThan(0);
  });

  test('serve --store: same fingerprint after a restart; a wrong field key refuses the machine and leaves the key file alone', async () => {
    const store = join(scratch, 'keys');
    const machine = ['--store', store, '--machine', `${SLUG}=${MACHINE_ID}`];

    const first = await startServe(machine, FIELD_KEY);
    const fingerprint = await fingerprintOf(first.origin);
    await stop(first, 'SIGTERM');
    const files = await readdir(store);
    expect(files).toHaveLength(1);
    const keyFile = join(store, files[0] as string);
    const bytes = await readFile(keyFile);

    const again = await startServe(machine, FIELD_KEY);
    expect(await fingerprintOf(again.origin)).toBe(fingerprint);
    const handshake = await run(['handshake', again.origin, SLUG, '--pin', fingerprint, '--json']);
    expect(handshake.code, handshake.stderr).toBe(0);
    expect(jsonOf(handshake)).toMatchObject({ ok: true, fingerprint, machine_id: MACHINE_ID, authenticated: true });
    await stop(again, 'SIGTERM');
    expect(await readFile(keyFile)).toEqual(bytes);

    const wrong = await startServe(machine, OTHER_FIELD_KEY);
    const discovery = await run(['fingerprint', wrong.origin, SLUG, '--json']);
    expect(discovery.code).toBe(1);
    const refused = jsonOf(discovery);
    expect(refused).toMatchObject({ ok: false, code: 'http_error' });
    expect(String(refused['status'])).toBe('500');
    const pinned = await run(['handshake', wrong.origin, SLUG, '--pin', fingerprint, '--json']);
    expect(pinned.code).toBe(1);
    const pinnedOut = jsonOf(pinned);
    expect(pinnedOut).toMatchObject({ ok: false, code: 'http_error' });
    expect(String(pinnedOut['status'])).toBe('500');
    const stopped = await stop(wrong, 'SIGTERM');
    // The server says why in its log, without any secret.
    expect(stopped.stderr).toContain('machine_unavailable');
    expect(stopped.stderr).not.toContain(OTHER_FIELD_KEY);
    expect(stopped.stderr).not.toContain(FIELD_KEY);

    expect(await readdir(store)).toEqual(files);
    expect(await readFile(keyFile)).toEqual(bytes);

    // And the right key still opens it afterwards.
    const restored = await startServe(machine, FIELD_KEY);
    expect(await fingerprintOf(restored.origin)).toBe(fingerprint);
    await stop(restored, 'SIGINT');
  });
});
