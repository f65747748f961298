/**
 * The built `zeq-keyex` executable as real child processes, for the tests that need a real
 * process (exit codes, signals, a `serve` listening on a loopback socket).
 *
 * {@link useCliProcesses} is called once at the top of a test file: it runs the CLI that
 * test/global-setup.ts built once for the whole run, makes a private scratch directory, kills every
 * child still running after each test, and removes the directory at the end. Every wait is bounded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, inject } from 'vitest';

/** Upper bound for one command, and for `serve` to print its listening line. */
export const RUN_LIMIT_MS = 15_000;
/** How long a server may take to stop after a signal. */
export const STOP_LIMIT_MS = 5_000;

/** How a process ended, with everything it printed. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A process that was started. */
export interface Running {
  readonly child: ChildProcess;
  /** What it has printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process exits, or rejects after `limitMs`. */
  exited(limitMs?: number): Promise<Exit>;
}

/** A `serve` process that printed its listening line. */
export interface Server extends Running {
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  readonly port: number;
}

/** The processes of one test file. */
export interface CliProcesses {
  /** A private directory for the file's stores and token files (removed at the end). */
  scratch(): string;
  /** Starts the CLI with `args`, in `env` (by default {@link cliEnv}`()`). */
  start(args: readonly string[], env?: NodeJS.ProcessEnv): Running;
  /** Runs the CLI to completion (bounded by {@link RUN_LIMIT_MS}). */
  run(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Exit>;
  /**
   * Starts `serve --port PORT ...args` with `ZEQ_FIELD_KEY=fieldKey` and waits (bounded) for its
   * first stdout line, which must be exactly `listening on http://127.0.0.1:PORT`.
   * @param options - `port`: the port to listen on (to restart a server at the same origin);
   *   by default 0, a free one; `env`: more environment variables.
   */
  startServe(
    args: readonly string[],
    fieldKey: string,
    options?: { port?: number; env?: Readonly<Record<string, string>> },
  ): Promise<Server>;
  /** Sends `signal` and expects a prompt, clean exit with the listening line as the only stdout. */
  stop(server: Server, signal?: NodeJS.Signals): Promise<Exit>;
  /** `zeq-keyex fingerprint ORIGIN SLUG`, expected to succeed with one fingerprint. */
  fingerprintOf(origin: string, slug: string): Promise<string>;
  /** Writes `token` to a private file in the scratch directory and returns its path. */
  tokenFile(name: string, token: string): Promise<string>;
}

/**
 * A minimal environment: nothing inherited that could change the CLI's behaviour.
 * @param extra - variables to set (`ZEQ_FIELD_KEY`, `ZEQ_ADMIN_TOKEN`).
 * @returns `PATH` and `extra`.
 */
export function cliEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '', ...extra };
}

/**
 * The single JSON line a `--json` command prints.
 * @param exit - the command's exit.
 * @returns the parsed line.
 */
export function jsonLine(exit: Exit): Record<string, unknown> {
  const lines = exit.stdout.split('\n');
  expect(lines, exit.stdout + exit.stderr).toHaveLength(2); // one line and its newline
  expect(lines[1]).toBe('');
  return JSON.parse(lines[0] as string) as Record<string, unknown>;
}

function withLimit<T>(promise: Promise<T>, limitMs: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()} within ${limitMs} ms`)), limitMs);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * Registers the build, the per-test cleanup and the final removal for the calling test file.
 * @param name - names the build and scratch directories.
 * @returns the file's process helpers (usable inside tests, once the build has run).
 */
export function useCliProcesses(name: string): CliProcesses {
  let scratchDir: string | undefined;
  let cliPath = '';
  const children = new Map<ChildProcess, Promise<Exit>>();

  beforeAll(async () => {
    // The CLI itself is built once per run by test/global-setup.ts.
    scratchDir = await mkdtemp(join(tmpdir(), `zeq-keyex-${name}-`));
    cliPath = join(inject('cliBuildDir'), 'cli.js');
  });

  afterEach(async () => {
    const running = [...children].filter(
      ([child]) => child.exitCode === null && child.signalCode === null,
    );
    children.clear();
    for (const [child] of running) child.kill('SIGKILL');
    await withLimit(
      Promise.all(running.map(([, exit]) => exit)),
      STOP_LIMIT_MS,
      () => 'killed children did not exit',
    );
  });

  afterAll(async () => {
    if (scratchDir !== undefined) await rm(scratchDir, { recursive: true, force: true });
  });

  function start(args: readonly string[], env: NodeJS.ProcessEnv = cliEnv()): Running {
    if (cliPath === '') throw new Error('the CLI is not built yet: start processes inside tests');
    const child = spawn(process.execPath, [cliPath, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
    children.set(child, exit);
    return {
      child,
      stdout: () => stdout,
      stderr: () => stderr,
      exited: (limitMs = RUN_LIMIT_MS) =>
        withLimit(
          exit,
          limitMs,
          () => `zeq-keyex ${args.join(' ')} did not exit; stderr: ${stderr}`,
        ),
    };
  }

  async function startServe(
    args: readonly string[],
    fieldKey: string,
    options: { port?: number; env?: Readonly<Record<string, string>> } = {},
  ): Promise<Server> {
    const server = start(
      ['serve', '--port', String(options.port ?? 0), ...args],
      cliEnv({ ZEQ_FIELD_KEY: fieldKey, ...options.env }),
    );
    const line = await new Promise<string>((resolveLine, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`serve printed nothing; stderr: ${server.stderr()}`)),
        RUN_LIMIT_MS,
      );
      const check = (): void => {
        const newline = server.stdout().indexOf('\n');
        if (newline < 0) return;
        clearTimeout(timer);
        server.child.stdout?.off('data', check);
        resolveLine(server.stdout().slice(0, newline));
      };
      server.child.stdout?.on('data', check);
      server.child.once('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited (${code}) before listening; stderr: ${server.stderr()}`));
      });
      check();
    });
    const match = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
    expect(match, `unexpected first line: ${line}`).not.toBeNull();
    const port = Number(match?.[2]);
    expect(Number.isInteger(port) && port > 0 && port <= 65535).toBe(true);
    if (options.port !== undefined) expect(port).toBe(options.port);
    return { ...server, origin: match?.[1] as string, port };
  }

  async function stop(server: Server, signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    server.child.kill(signal);
    const exit = await server.exited(STOP_LIMIT_MS);
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(0);
    expect(exit.stdout).toBe(`listening on ${server.origin}\n`);
    return exit;
  }

  function scratch(): string {
    if (scratchDir === undefined) throw new Error('no scratch directory yet: use it inside tests');
    return scratchDir;
  }

  return {
    scratch,
    start,
    run: (args, env) => start(args, env).exited(RUN_LIMIT_MS),
    startServe,
    stop,
    async fingerprintOf(origin, slug) {
      const exit = await start(['fingerprint', origin, slug]).exited(RUN_LIMIT_MS);
      expect(exit.code, exit.stderr).toBe(0);
      const fingerprint = exit.stdout.trim();
      expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
      return fingerprint;
    },
    async tokenFile(fileName, token) {
      const path = join(scratch(), fileName);
      await writeFile(path, `${token}\n`, { mode: 0o600 });
      return path;
    },
  };
}
