/**
 * The `zeq-keyex` CLI in process, through `runCli(argv, io)` with captured output: help, usage
 * errors (exit 2, nothing sent), `field-key`, and `fingerprint` / `handshake` / `serve` against
 * a real loopback server. The built executable is driven as a child process in `cli-process.test.ts`.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { ALG } from '../src/core/constants.js';
import { isSessionId } from '../src/core/identifiers.js';
import { type CliIo, runCli } from '../src/node/cli/index.js';
import { type RunningServer, serve } from '../src/node/server.js';
import { type Responder, createResponder } from '../src/responder.js';
import {
  FIELD_KEY,
  OTHER_FIELD_KEY,
  type ObservedSessionStore,
  observedSessionStore,
} from './helpers/responder.js';

const SLUG = 'edge-01';
const MACHINE_ID = 'm-1';

interface CliRun {
  code: number;
  stdout: string[];
  stderr: string[];
  /** Whether the command waited for a stop signal (only a running `serve` does). */
  stopRequested: boolean;
}

interface CliOptions {
  env?: Record<string, string | undefined>;
  /** Called with each stdout line as it is written. */
  onStdout?: (line: string) => void;
  /** What `stopSignal` returns; by default an immediate 'SIGTERM'. */
  stop?: Promise<string>;
}

async function cli(argv: string[], options: CliOptions = {}): Promise<CliRun> {
  const run: CliRun = { code: -1, stdout: [], stderr: [], stopRequested: false };
  const io: CliIo = {
    stdout: (line) => {
      run.stdout.push(line);
      options.onStdout?.(line);
    },
    stderr: (line) => run.stderr.push(line),
    env: options.env ?? {},
    stopSignal: () => {
      run.stopRequested = true;
      return options.stop ?? Promise.resolve('SIGTERM');
    },
  };
  run.code = await runCli(argv, io);
  return run;
}

/** The single line of JSON a `--json` command must print, parsed. */
function jsonLine(run: CliRun): Record<string, unknown> {
  expect(run.stdout).toHaveLength(1);
  const line = run.stdout[0] as string;
  expect(line).not.toContain('\n');
  const value: unknown = JSON.parse(line);
  expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
  return value as Record<string, unknown>;
}

function expectFailureLine(run: CliRun, code: string): Record<string, unknown> {
  expect(run.code).toBe(1);
  const out = jsonLine(run);
  expect(out['ok']).toBe(false);
  expect(out['code']).toBe(code);
  expect(typeof out['message']).toBe('string');
  return out;
}

/** An origin nothing listens on: a port bound and released again. */
async function closedOrigin(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${address.port}`;
}

// One loopback server whose responder can be swapped, so "the same origin with another key" is real.
let responderA: Responder;
let responderB: Responder;
let sessions: ObservedSessionStore;
let current: Responder;
let server: RunningServer;
let origin: string;
let fingerprintA: string;
let fingerprintB: string;
const requests = { GET: 0, POST: 0, other: 0 };
let scratch: string;

beforeAll(async () => {
  sessions = observedSessionStore();
  responderA = createResponder({
    fieldKey: FIELD_KEY,
    machines: { [SLUG]: MACHINE_ID },
    sessionStore: sessions,
  });
  responderB = createResponder({ fieldKey: OTHER_FIELD_KEY, machines: { [SLUG]: MACHINE_ID } });
  current = responderA;
  server = await serve(
    (request) => {
      if (request.method === 'GET') requests.GET++;
      else if (request.method === 'POST') requests.POST++;
      else requests.other++;
      return current.fetch(request);
    },
    { port: 0 },
  );
  origin = server.url;
  fingerprintA = (await responderA.keyDocument(SLUG)).fingerprint;
  fingerprintB = (await responderB.keyDocument(SLUG)).fingerprint;
  expect(fingerprintB).not.toBe(fingerprintA);
});

afterAll(async () => {
  await server.close();
  responderA.close();
  responderB.close();
});

beforeEach(async () => {
  current = responderA;
  requests.GET = 0;
  requests.POST = 0;
  requests.other = 0;
  scratch = await mkdtemp(join(tmpdir(), 'zeq-keyex-cli-'));
});

afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('help', () => {
  test.each([
    [['--help'], 'zeq-keyex'],
    [['demo', '--help'], 'zeq-keyex demo'],
    [['serve', '--help'], 'zeq-keyex serve'],
    [['field-key', '--help'], 'zeq-keyex field-key'],
    [['fingerprint', '--help'], 'zeq-keyex fingerprint'],
    [['handshake', '--help'], 'zeq-keyex handshake'],
  ])('%j exits 0 and prints its usage on stdout', async (argv, names) => {
    const run = await cli(argv);
    expect(run.code).toBe(0);
    expect(run.stdout.join('\n')).toContain(names);
    expect(run.stderr).toEqual([]);
    expect(run.stopRequested).toBe(false);
  });

  test('serve --help names every connection limit and --auto-provision', async () => {
    const help = (await cli(['serve', '--help'])).stdout.join('\n');
    for (const flag of [
      '--auto-provision N',
      '--max-connections N',
      '--headers-timeout-ms MS',
      '--request-timeout-ms MS',
      '--keep-alive-timeout-ms MS',
      '--max-header-bytes N',
    ])
      expect(help).toContain(flag);
  });

  test('--help wins over missing arguments and the field key', async () => {
    for (const argv of [
      ['fingerprint', '--help'],
      ['handshake', '--help'],
      ['serve', '--help'],
    ]) {
      expect((await cli(argv, { env: {} })).code).toBe(0);
    }
  });
});

describe('usage errors exit 2 and send nothing', () => {
  const pin = 'ab'.repeat(32);
  const cases: [string, (o: string) => string[], Record<string, string | undefined>?][] = [
    ['unknown command', () => ['frobnicate']],
    ['unknown option', (o) => ['fingerprint', o, SLUG, '--bogus']],
    ['fingerprint without ORIGIN', () => ['fingerprint']],
    ['fingerprint without SLUG', (o) => ['fingerprint', o]],
    ['fingerprint with a bad slug', (o) => ['fingerprint', o, '-edge']],
    ['fingerprint with a slash in the slug', (o) => ['fingerprint', o, 'a/b']],
    ['fingerprint with a 65-character slug', (o) => ['fingerprint', o, `a${'b'.repeat(64)}`]],
    ['fingerprint with an extra argument', (o) => ['fingerprint', o, SLUG, 'extra']],
    ['fingerprint with a non-http origin', () => ['fingerprint', 'ftp://127.0.0.1', SLUG]],
    ['fingerprint with a non-URL origin', () => ['fingerprint', 'not a url', SLUG]],
    ['handshake without ORIGIN', () => ['handshake']],
    ['handshake without SLUG', (o) => ['handshake', o, '--pin', pin]],
    ['handshake with a bad slug', (o) => ['handshake', o, 'bad slug', '--pin', pin]],
    ['handshake with an extra argument', (o) => ['handshake', o, SLUG, 'extra', '--pin', pin]],
    [
      'handshake with a non-http origin',
      () => ['handshake', 'file:///etc/passwd', SLUG, '--pin', pin],
    ],
    ['handshake with no trust choice', (o) => ['handshake', o, SLUG, '--json']],
    [
      'handshake with --pin and --tofu',
      (o) => ['handshake', o, SLUG, '--pin', pin, '--tofu', join(tmpdir(), 'unused.json')],
    ],
    [
      'handshake with --pin and --insecure-unpinned',
      (o) => ['handshake', o, SLUG, '--pin', pin, '--insecure-unpinned'],
    ],
    [
      'handshake with --tofu and --insecure-unpinned',
      (o) => ['handshake', o, SLUG, '--tofu', join(tmpdir(), 'unused.json'), '--insecure-unpinned'],
    ],
    [
      'handshake with all three trust choices',
      (o) => [
        'handshake',
        o,
        SLUG,
        '--pin',
        pin,
        '--tofu',
        join(tmpdir(), 'unused.json'),
        '--insecure-unpinned',
      ],
    ],
    ['handshake with a non-hex pin', (o) => ['handshake', o, SLUG, '--pin', 'zz'.repeat(32)]],
    ['handshake with a 63-character pin', (o) => ['handshake', o, SLUG, '--pin', pin.slice(1)]],
    ['handshake with a 65-character pin', (o) => ['handshake', o, SLUG, '--pin', `${pin}a`]],
    [
      'handshake with one good and one bad pin',
      (o) => ['handshake', o, SLUG, '--pin', pin, '--pin', 'nope'],
    ],
    ['handshake with an empty pin', (o) => ['handshake', o, SLUG, '--pin', '']],
    [
      'handshake with a query in the origin',
      (o) => ['handshake', `${o}/?q=1`, SLUG, '--insecure-unpinned', '--json'],
    ],
    [
      'handshake with credentials in the origin',
      (o) => ['handshake', o.replace('http://', 'http://u:p@'), SLUG, '--insecure-unpinned'],
    ],
    ['fingerprint with a fragment in the origin', (o) => ['fingerprint', `${o}/#x`, SLUG]],
    ['handshake with an empty --tofu file', (o) => ['handshake', o, SLUG, '--tofu', '']],
    ['field-key with an argument', () => ['field-key', 'extra']],
    ['demo with an argument', () => ['demo', 'extra']],
  ];

  test.each(cases)('%s', async (_name, argv) => {
    const run = await cli(argv(origin), { env: { ZEQ_FIELD_KEY: FIELD_KEY } });
    expect(run.code).toBe(2);
    expect(run.stdout).toEqual([]);
    expect(run.stderr.length).toBeGreaterThan(0);
    expect(requests).toEqual({ GET: 0, POST: 0, other: 0 });
  });

  const serveCases: [string, string[], Record<string, string | undefined>][] = [
    ['no ZEQ_FIELD_KEY', ['--port', '0'], {}],
    ['an empty ZEQ_FIELD_KEY', ['--port', '0'], { ZEQ_FIELD_KEY: '' }],
    ['a 63-character ZEQ_FIELD_KEY', ['--port', '0'], { ZEQ_FIELD_KEY: FIELD_KEY.slice(1) }],
    ['a 65-character ZEQ_FIELD_KEY', ['--port', '0'], { ZEQ_FIELD_KEY: `${FIELD_KEY}0` }],
    ['a non-hex ZEQ_FIELD_KEY', ['--port', '0'], { ZEQ_FIELD_KEY: 'g'.repeat(64) }],
    ['a ZEQ_FIELD_KEY with spaces', ['--port', '0'], { ZEQ_FIELD_KEY: ` ${FIELD_KEY.slice(2)} ` }],
    ['a non-numeric port', ['--port', 'http'], { ZEQ_FIELD_KEY: FIELD_KEY }],
    ['a negative port', ['--port=-1'], { ZEQ_FIELD_KEY: FIELD_KEY }],
    ['a port above 65535', ['--port', '65536'], { ZEQ_FIELD_KEY: FIELD_KEY }],
    ['a fractional port', ['--port', '80.5'], { ZEQ_FIELD_KEY: FIELD_KEY }],
    ['an empty port', ['--port', ''], { ZEQ_FIELD_KEY: FIELD_KEY }],
    ['a hexadecimal port', ['--port', '0x50'], { ZEQ_FIELD_KEY: FIELD_KEY }],
    [
      '--machine without "="',
      ['--port', '0', '--machine', 'edge-01'],
      { ZEQ_FIELD_KEY: FIELD_KEY },
    ],
    [
      '--machine with an empty slug',
      ['--port', '0', '--machine', '=m-1'],
      { ZEQ_FIELD_KEY: FIELD_KEY },
    ],
    [
      '--machine with an empty machine id',
      ['--port', '0', '--machine', 'edge-01='],
      { ZEQ_FIELD_KEY: FIELD_KEY },
    ],
    [
      '--machine with a bad slug',
      ['--port', '0', '--machine', '-edge=m-1'],
      { ZEQ_FIELD_KEY: FIELD_KEY },
    ],
    [
      '--machine with a bad machine id',
      ['--port', '0', '--machine', 'edge-01=m 1'],
      { ZEQ_FIELD_KEY: FIELD_KEY },
    ],
    [
      'a good and a bad --machine',
      ['--port', '0', '--machine', 'edge-01=m-1', '--machine', 'nope'],
      { ZEQ_FIELD_KEY: FIELD_KEY },
    ],
    ['an extra argument', ['--port', '0', 'extra'], { ZEQ_FIELD_KEY: FIELD_KEY }],
    [
      'an empty --store',
      ['--port', '0', '--machine', 'edge-01=m-1', '--store', ''],
      { ZEQ_FIELD_KEY: FIELD_KEY },
    ],
    ['neither --machine nor --auto-provision', ['--port', '0'], { ZEQ_FIELD_KEY: FIELD_KEY }],
    [
      'both --machine and --auto-provision',
      ['--port', '0', '--machine', 'edge-01=m-1', '--auto-provision', '4'],
      { ZEQ_FIELD_KEY: FIELD_KEY },
    ],
    ['--auto-provision 0', ['--port', '0', '--auto-provision', '0'], { ZEQ_FIELD_KEY: FIELD_KEY }],
    [
      'a non-numeric --auto-provision',
      ['--port', '0', '--auto-provision', 'all'],
      { ZEQ_FIELD_KEY: FIELD_KEY },
    ],
    ...(
      [
        ['--max-connections', '0'],
        ['--max-connections', '-1'],
        ['--headers-timeout-ms', '1.5'],
        ['--request-timeout-ms', ''],
        ['--keep-alive-timeout-ms', 'soon'],
        ['--max-header-bytes', '0x100'],
      ] as const
    ).map(([flag, value]): [string, string[], Record<string, string>] => [
      `${flag} ${JSON.stringify(value)}`,
      ['--port', '0', '--machine', 'edge-01=m-1', `${flag}=${value}`],
      { ZEQ_FIELD_KEY: FIELD_KEY },
    ]),
    [
      'a headers time limit above the request time limit',
      [
        '--port',
        '0',
        '--machine',
        'edge-01=m-1',
        '--headers-timeout-ms',
        '5000',
        '--request-timeout-ms',
        '4000',
      ],
      { ZEQ_FIELD_KEY: FIELD_KEY },
    ],
    [
      'one slug named by two --machine',
      ['--port', '0', '--machine', 'edge-01=a', '--machine', 'edge-01=b'],
      { ZEQ_FIELD_KEY: FIELD_KEY },
    ],
  ];

  test.each(serveCases)('serve with %s', async (_name, args, env) => {
    const run = await cli(['serve', ...args], { env });
    expect(run.code).toBe(2);
    expect(run.stdout).toEqual([]);
    expect(run.stderr.length).toBeGreaterThan(0);
    // It never got as far as listening.
    expect(run.stopRequested).toBe(false);
  });

  test('a malformed field key is never echoed back', async () => {
    const secret = `${FIELD_KEY.slice(0, 60)}zzzz`;
    const run = await cli(['serve', '--port', '0'], { env: { ZEQ_FIELD_KEY: secret } });
    expect(run.code).toBe(2);
    expect([...run.stdout, ...run.stderr].join('\n')).not.toContain(secret);
  });
});

describe('field-key', () => {
  test('prints 64 lower-case hex characters, different on every call', async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const run = await cli(['field-key']);
      expect(run.code).toBe(0);
      expect(run.stderr).toEqual([]);
      expect(run.stdout).toHaveLength(1);
      expect(run.stdout[0]).toMatch(/^[0-9a-f]{64}$/);
      keys.add(run.stdout[0] as string);
    }
    expect(keys.size).toBe(5);
  });

  test('its output is accepted by serve as ZEQ_FIELD_KEY', async () => {
    const key = (await cli(['field-key'])).stdout[0] as string;
    const run = await cli(['serve', '--port', '0', '--machine', `${SLUG}=${MACHINE_ID}`], {
      env: { ZEQ_FIELD_KEY: key },
    });
    expect(run.code).toBe(0);
    expect(run.stopRequested).toBe(true);
    expect([...run.stdout, ...run.stderr].join('\n')).not.toContain(key);
  });
});

describe('fingerprint', () => {
  test('prints the fingerprint of the served key, and nothing else', async () => {
    const run = await cli(['fingerprint', origin, SLUG]);
    expect(run.code).toBe(0);
    expect(run.stdout).toEqual([fingerprintA]);
    expect(run.stderr).toEqual([]);
    expect(requests).toEqual({ GET: 1, POST: 0, other: 0 });
  });

  test('--json prints one line with exactly alg, public_key, fingerprint, machine_id', async () => {
    const run = await cli(['fingerprint', origin, SLUG, '--json']);
    expect(run.code).toBe(0);
    const out = jsonLine(run);
    expect(Object.keys(out).sort()).toEqual(['alg', 'fingerprint', 'machine_id', 'public_key']);
    const doc = await responderA.keyDocument(SLUG);
    expect(out).toEqual({
      alg: ALG,
      public_key: doc.public_key,
      fingerprint: fingerprintA,
      machine_id: MACHINE_ID,
    });
    // Checked independently of the SDK: the fingerprint is SHA-256 of the decoded public key.
    const publicKey = Buffer.from(out['public_key'] as string, 'base64');
    expect(publicKey.length).toBe(1184);
    expect(publicKey.toString('base64')).toBe(out['public_key']);
    expect(createHash('sha256').update(publicKey).digest('hex')).toBe(fingerprintA);
  });

  test('an unknown slug: exit 1, http_error with the responder status and code', async () => {
    const out = expectFailureLine(
      await cli(['fingerprint', origin, 'edge-99', '--json']),
      'http_error',
    );
    expect(String(out['status'])).toBe('404');
    expect(out['response_code']).toBe('unknown_machine');
  });

  test('an unreachable origin: exit 1, network_error; without --json only stderr speaks', async () => {
    const closed = await closedOrigin();
    expectFailureLine(await cli(['fingerprint', closed, SLUG, '--json']), 'network_error');
    const plain = await cli(['fingerprint', closed, SLUG]);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toEqual([]);
    expect(plain.stderr.length).toBeGreaterThan(0);
  });
});

describe('handshake', () => {
  const KEYS = ['ok', 'session_id', 'machine_id', 'fingerprint', 'alg', 'authenticated'];

  /** Every record key the responder holds, hex and base64, to check none is ever printed. */
  async function recordKeysHeld(): Promise<string[]> {
    const rows = (JSON.parse(await sessions.snapshot()) as { rows: unknown[][] }).rows;
    return rows.flatMap((row) => {
      const bytes = row[4];
      if (!Array.isArray(bytes)) return [];
      const buffer = Buffer.from(bytes as number[]);
      return [buffer.toString('hex'), buffer.toString('base64')];
    });
  }

  async function expectNoSecretPrinted(run: CliRun): Promise<void> {
    const printed = [...run.stdout, ...run.stderr].join('\n');
    const held = await recordKeysHeld();
    expect(held.length).toBeGreaterThan(0);
    for (const secret of held) expect(printed).not.toContain(secret);
  }

  test('--pin FP --json: one line with exactly the documented keys and values; the session exists', async () => {
    const before = sessions.created.length;
    const run = await cli(['handshake', origin, SLUG, '--pin', fingerprintA, '--json']);
    expect(run.code).toBe(0);
    expect(run.stderr).toEqual([]);
    const out = jsonLine(run);
    expect(Object.keys(out)).toEqual(KEYS);
    expect(out).toEqual({
      ok: true,
      session_id: out['session_id'],
      machine_id: MACHINE_ID,
      fingerprint: fingerprintA,
      alg: ALG,
      authenticated: true,
    });
    expect(isSessionId(out['session_id'])).toBe(true);
    expect(sessions.created.slice(before)).toEqual([out['session_id']]);
    expect(requests).toEqual({ GET: 1, POST: 1, other: 0 });
    await expectNoSecretPrinted(run);
  });

  test('without --json: exit 0, a readable summary naming the session, no secret', async () => {
    const before = sessions.created.length;
    const run = await cli(['handshake', origin, SLUG, '--pin', fingerprintA]);
    expect(run.code).toBe(0);
    expect(run.stderr).toEqual([]);
    const created = sessions.created.slice(before);
    expect(created).toHaveLength(1);
    expect(run.stdout.join('\n')).toContain(created[0]);
    await expectNoSecretPrinted(run);
  });

  test('a pin written in upper case with colons is accepted', async () => {
    const human = (fingerprintA.toUpperCase().match(/../g) as string[]).join(':');
    const out = jsonLine(await cli(['handshake', origin, SLUG, '--pin', human, '--json']));
    expect(out['ok']).toBe(true);
    expect(out['fingerprint']).toBe(fingerprintA);
  });

  test('several --pin (key rotation): any one matching is enough', async () => {
    const run = await cli([
      'handshake',
      origin,
      SLUG,
      '--pin',
      fingerprintB,
      '--pin',
      fingerprintA,
      '--json',
    ]);
    expect(run.code).toBe(0);
    expect(jsonLine(run)['authenticated']).toBe(true);
  });

  test('a wrong pin: exit 1, fingerprint_mismatch, and nothing is posted', async () => {
    const before = sessions.created.length;
    const run = await cli(['handshake', origin, SLUG, '--pin', fingerprintB, '--json']);
    const out = expectFailureLine(run, 'fingerprint_mismatch');
    expect(out['ok']).toBe(false);
    expect(requests).toEqual({ GET: 1, POST: 0, other: 0 });
    expect(sessions.created.length).toBe(before);

    const plain = await cli(['handshake', origin, SLUG, '--pin', fingerprintB]);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toEqual([]);
    // The same report as every command gives: the code, then the pinned and the presented key.
    expect(plain.stderr[0]).toMatch(/^error: fingerprint_mismatch: /);
    expect(plain.stderr.slice(1)).toEqual([
      `expected fingerprint ${fingerprintB}`,
      `actual fingerprint   ${fingerprintA}`,
    ]);
  });

  test('--tofu FILE: first use remembered, same key accepted, a changed key refused with tofu_key_changed', async () => {
    const file = join(scratch, 'nested', 'tofu.json');
    const first = await cli(['handshake', origin, SLUG, '--tofu', file, '--json']);
    expect(first.code).toBe(0);
    const firstOut = jsonLine(first);
    expect(Object.keys(firstOut)).toEqual(KEYS);
    expect(firstOut).toMatchObject({
      ok: true,
      fingerprint: fingerprintA,
      machine_id: MACHINE_ID,
      alg: ALG,
    });
    // First use is not authentication; only a key the store already knew is.
    expect(firstOut['authenticated']).toBe(false);
    const remembered = await readFile(file);
    expect(
      Object.values(JSON.parse(remembered.toString('utf8')) as Record<string, string>),
    ).toEqual([fingerprintA]);

    const second = await cli(['handshake', origin, SLUG, '--tofu', file, '--json']);
    expect(second.code).toBe(0);
    expect(jsonLine(second)).toMatchObject({
      ok: true,
      fingerprint: fingerprintA,
      authenticated: true,
    });

    current = responderB;
    requests.POST = 0;
    const changed = await cli(['handshake', origin, SLUG, '--tofu', file, '--json']);
    expectFailureLine(changed, 'tofu_key_changed');
    expect(requests.POST).toBe(0);
    expect(await readFile(file)).toEqual(remembered);
  });

  test('--insecure-unpinned: ok, but authenticated is false', async () => {
    const run = await cli(['handshake', origin, SLUG, '--insecure-unpinned', '--json']);
    expect(run.code).toBe(0);
    const out = jsonLine(run);
    expect(Object.keys(out)).toEqual(KEYS);
    expect(out).toMatchObject({
      ok: true,
      machine_id: MACHINE_ID,
      fingerprint: fingerprintA,
      alg: ALG,
      authenticated: false,
    });
    expect(isSessionId(out['session_id'])).toBe(true);
  });

  test('an unknown slug: exit 1, http_error 404 unknown_machine', async () => {
    const out = expectFailureLine(
      await cli(['handshake', origin, 'edge-99', '--insecure-unpinned', '--json']),
      'http_error',
    );
    expect(String(out['status'])).toBe('404');
    expect(out['response_code']).toBe('unknown_machine');
  });

  test('an unreachable origin: exit 1, network_error', async () => {
    const closed = await closedOrigin();
    expectFailureLine(
      await cli(['handshake', closed, SLUG, '--pin', fingerprintA, '--json']),
      'network_error',
    );
    expectFailureLine(
      await cli(['handshake', closed, SLUG, '--insecure-unpinned', '--json']),
      'network_error',
    );
  });
});

describe('serve (in process)', () => {
  /** A `serve` running in process: its listening line, and `stop` to send the signal and await its run. */
  interface ServingCli {
    line: string;
    stop(signal: string): Promise<CliRun>;
  }

  async function serveInProcess(args: string[]): Promise<ServingCli> {
    let stop: (signal: string) => void = () => undefined;
    const stopped = new Promise<string>((resolve) => {
      stop = resolve;
    });
    let listening: (line: string) => void = () => undefined;
    const ready = new Promise<string>((resolve) => {
      listening = resolve;
    });
    const running = cli(['serve', '--port', '0', ...args], {
      env: { ZEQ_FIELD_KEY: OTHER_FIELD_KEY },
      onStdout: listening,
      stop: stopped,
    });
    const line = await Promise.race([
      ready,
      running.then((run) =>
        Promise.reject(new Error(`serve exited early: ${run.stderr.join('\n')}`)),
      ),
    ]);
    return {
      line,
      stop: (signal) => {
        stop(signal);
        return running;
      },
    };
  }

  test('--port 0 prints the real port once, serves the machine, and returns 0 on the stop signal', async () => {
    const serving = await serveInProcess(['--machine', `${SLUG}=${MACHINE_ID}`]);
    try {
      const match = /^listening on http:\/\/127\.0\.0\.1:(\d+)$/.exec(serving.line);
      expect(match).not.toBeNull();
      const port = Number(match?.[1]);
      expect(port).toBeGreaterThan(0);
      expect(port).toBeLessThanOrEqual(65535);
      const served = `http://127.0.0.1:${port}`;
      const out = jsonLine(await cli(['fingerprint', served, SLUG, '--json']));
      expect(out).toMatchObject({ alg: ALG, machine_id: MACHINE_ID });
      const hs = jsonLine(
        await cli(['handshake', served, SLUG, '--pin', out['fingerprint'] as string, '--json']),
      );
      expect(hs).toMatchObject({ ok: true, authenticated: true, fingerprint: out['fingerprint'] });
    } catch (error) {
      await serving.stop('SIGINT');
      throw error;
    }
    const run = await serving.stop('SIGINT');
    expect(run.code).toBe(0);
    expect(run.stdout).toHaveLength(1);
    expect(run.stopRequested).toBe(true);
    expect([...run.stdout, ...run.stderr].join('\n')).not.toContain(OTHER_FIELD_KEY);
  });

  /** The status and wire error code of one request to a running `serve`. */
  async function ask(
    served: string,
    slug: string,
    init?: RequestInit,
  ): Promise<[number, string | undefined]> {
    const route = init?.method === 'POST' ? 'handshake' : 'pubkey';
    const response = await fetch(`${served}/api/keyex/${slug}/${route}`, init);
    const body = (await response.json()) as { error?: string };
    return [response.status, body.error];
  }

  /** 70 junk slugs, each asked for its key document and sent a POST with no content type. */
  async function junk(served: string): Promise<[number, string | undefined][]> {
    const answers: [number, string | undefined][] = [];
    for (let i = 0; i < 70; i++) {
      answers.push(await ask(served, `junk-${i}`, { method: 'POST', body: 'x' }));
      answers.push(await ask(served, `junk-${i}`));
    }
    return answers;
  }

  test('with --machine, 70 junk slugs (GETs and POSTs without a content type) are each 404 unknown_machine, and the real slug still works', async () => {
    const serving = await serveInProcess(['--machine', `${SLUG}=${MACHINE_ID}`]);
    const served = serving.line.replace('listening on ', '');
    try {
      for (const answer of await junk(served)) expect(answer).toEqual([404, 'unknown_machine']);
      expect(await ask(served, SLUG)).toEqual([200, undefined]);
    } finally {
      expect((await serving.stop('SIGTERM')).code).toBe(0);
    }
  });

  test('--auto-provision N: only slugs that obtained a key count; the count is restored from --store on restart', async () => {
    const store = join(scratch, 'store');
    const args = ['--store', store, '--auto-provision', '2'];
    const first = await serveInProcess(args);
    const served = first.line.replace('listening on ', '');
    let document: unknown;
    try {
      // POSTs that never make a key count for nothing.
      for (let i = 0; i < 70; i++) {
        const [status] = await ask(served, `junk-${i}`, { method: 'POST', body: 'x' });
        expect(status).not.toBe(404);
      }
      expect(await ask(served, SLUG)).toEqual([200, undefined]);
      document = await (await fetch(`${served}/api/keyex/${SLUG}/pubkey`)).json();
      expect(await ask(served, 'second')).toEqual([200, undefined]);
      expect(await ask(served, 'third')).toEqual([404, 'unknown_machine']);
      expect(await ask(served, SLUG)).toEqual([200, undefined]);
    } finally {
      expect((await first.stop('SIGTERM')).code).toBe(0);
    }
    expect((await readdir(store)).filter((name) => name.endsWith('.json')).sort()).toEqual([
      `${SLUG}.json`,
      'second.json',
    ]);

    // Restarted with the same store: the two keys already count; the same key is served.
    const again = await serveInProcess(args);
    const servedAgain = again.line.replace('listening on ', '');
    try {
      expect(await ask(servedAgain, 'third')).toEqual([404, 'unknown_machine']);
      for (const answer of await junk(servedAgain))
        expect(answer).toEqual([404, 'unknown_machine']);
      expect(await (await fetch(`${servedAgain}/api/keyex/${SLUG}/pubkey`)).json()).toEqual(
        document,
      );
      expect(await ask(servedAgain, 'second')).toEqual([200, undefined]);
    } finally {
      const run = await again.stop('SIGTERM');
      expect(run.code).toBe(0);
      expect(run.stderr.join('\n')).toContain('--auto-provision');
    }
    expect((await readdir(store)).filter((name) => name.endsWith('.json'))).toHaveLength(2);
  });

  test('the connection limit flags reach the server: --max-header-bytes 1024 answers a 2 KiB header with 431', async () => {
    const serving = await serveInProcess([
      '--machine',
      `${SLUG}=${MACHINE_ID}`,
      '--max-header-bytes',
      '1024',
      '--max-connections',
      '8',
      '--headers-timeout-ms',
      '2000',
      '--request-timeout-ms',
      '4000',
      '--keep-alive-timeout-ms',
      '1000',
    ]);
    const served = serving.line.replace('listening on ', '');
    try {
      const big = await fetch(`${served}/api/keyex/${SLUG}/pubkey`, {
        headers: { 'x-big': 'a'.repeat(2048) },
      });
      await big.arrayBuffer();
      expect(big.status).toBe(431);
      expect(await ask(served, SLUG)).toEqual([200, undefined]);
    } finally {
      expect((await serving.stop('SIGTERM')).code).toBe(0);
    }
  });

  test.runIf(process.platform !== 'win32')(
    '--store naming a directory open to group or others: exit 1, store_error, never listening, nothing written',
    async () => {
      const store = join(scratch, 'open-store');
      await mkdir(store);
      await chmod(store, 0o755);
      const run = await cli(
        ['serve', '--port', '0', '--store', store, '--machine', `${SLUG}=${MACHINE_ID}`],
        {
          env: { ZEQ_FIELD_KEY: FIELD_KEY },
        },
      );
      expect(run.code).toBe(1);
      expect(run.stdout).toEqual([]);
      expect(run.stderr.join('\n')).toContain('store_error');
      expect(run.stopRequested).toBe(false);
      expect(await readdir(store)).toEqual([]);
    },
  );

  test('a port already in use: exit 1, never listening', async () => {
    const port = new URL(origin).port;
    const run = await cli(['serve', '--port', port, '--machine', `${SLUG}=${MACHINE_ID}`], {
      env: { ZEQ_FIELD_KEY: FIELD_KEY },
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toEqual([]);
    expect(run.stopRequested).toBe(false);
  });
});
