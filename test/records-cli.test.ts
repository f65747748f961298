/**
 * `zeq-keyex serve --echo` on loopback and `zeq-keyex handshake … --send TEXT`, run in-process
 * through `runCli` over real HTTP: the reply is the opened echo, in `--json` and in human output.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type CliIo, runCli } from '../src/node/cli/index.js';
import { createClient } from '../src/initiator/client.js';
import { headerOf, text, utf8 } from './helpers/records.js';
import { FIELD_KEY } from './helpers/responder.js';
import { sessionRecords } from '../src/initiator/records.js';

interface Captured {
  io: CliIo;
  out: string[];
  err: string[];
}

function capture(stop?: Promise<string>): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (line) => out.push(line),
      stderr: (line) => err.push(line),
      env: { ZEQ_FIELD_KEY: FIELD_KEY },
      stopSignal: () => stop ?? new Promise<string>(() => undefined),
    },
  };
}

interface RunningCli {
  url: string;
  stop(): Promise<number>;
}

async function startServe(args: string[]): Promise<RunningCli> {
  let release: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => {
    release = resolve;
  });
  const cap = capture(stopped);
  const exit = runCli(
    ['serve', '--port', '0', '--machine', 'edge-01=machine:edge-01', ...args],
    cap.io,
  );
  for (let i = 0; i < 200 && cap.out.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const match = /^listening on (http:\/\/\S+)$/.exec(cap.out[0] ?? '');
  if (match === null) throw new Error(`serve did not start: ${cap.err.join('\n')}`);
  return {
    url: match[1] as string,
    async stop() {
      release('SIGTERM');
      return exit;
    },
  };
}

let echo: RunningCli;
let plain: RunningCli;
beforeAll(async () => {
  echo = await startServe(['--echo']);
  plain = await startServe([]);
});
afterAll(async () => {
  expect(await echo.stop()).toBe(0);
  expect(await plain.stop()).toBe(0);
});

test('handshake --send --json adds the opened reply', async () => {
  const cap = capture();
  const message = 'héllo, responder ✓ {"json":"inside"}';
  const code = await runCli(
    ['handshake', echo.url, 'edge-01', '--insecure-unpinned', '--send', message, '--json'],
    cap.io,
  );
  expect(code).toBe(0);
  expect(cap.out).toHaveLength(1);
  const line = JSON.parse(cap.out[0] as string) as Record<string, unknown>;
  expect(line).toMatchObject({
    ok: true,
    machine_id: 'machine:edge-01',
    alg: 'ML-KEM-768',
    authenticated: false,
    reply: message,
  });
});

test('handshake --send prints the reply in human output; pinned works too', async () => {
  const discover = capture();
  expect(await runCli(['fingerprint', echo.url, 'edge-01'], discover.io)).toBe(0);
  const cap = capture();
  const code = await runCli(
    ['handshake', echo.url, 'edge-01', '--pin', discover.out[0] as string, '--send', 'plain text'],
    cap.io,
  );
  expect(code).toBe(0);
  expect(cap.out).toContain('reply: plain text');
});

test('without --send the JSON line has no reply field', async () => {
  const cap = capture();
  expect(
    await runCli(['handshake', echo.url, 'edge-01', '--insecure-unpinned', '--json'], cap.io),
  ).toBe(0);
  expect(JSON.parse(cap.out[0] as string)).not.toHaveProperty('reply');
});

test('--send to a responder without --echo fails with the responder’s 404', async () => {
  const cap = capture();
  const code = await runCli(
    ['handshake', plain.url, 'edge-01', '--insecure-unpinned', '--send', 'x', '--json'],
    cap.io,
  );
  expect(code).toBe(1);
  const line = JSON.parse(cap.out[0] as string) as Record<string, unknown>;
  expect(line).toMatchObject({ ok: false, code: 'http_error', response_code: 'not_found' });
  expect(String(line['status'])).toBe('404');
});

test('serve --echo over real HTTP: 200 records in a row across epochs, and concurrent ones', async () => {
  // The client's epochs last 5 ms (the responder's, the default 777 ms): over 200 round trips the
  // client's sender moves many epochs and the responder's receiver follows it.
  const epochs = new Set<number>();
  const client = createClient({
    origin: echo.url,
    insecureUnpinned: true,
    retry: 0,
    rekeyIntervalMs: 5,
    fetch: async (request) => {
      if (request.url.endsWith('/records'))
        epochs.add(headerOf(new Uint8Array(await request.clone().arrayBuffer())).epoch);
      return fetch(request);
    },
  });
  const session = await client.handshake('edge-01');
  for (let i = 0; i < 200; i++) {
    const message = `#${i} ${'z'.repeat(i * 3)}`;
    expect(text(await sessionRecords(session).request(utf8(message)))).toBe(message);
  }
  expect(epochs.size).toBeGreaterThan(5);
  const replies = await Promise.all(
    Array.from({ length: 30 }, (_, i) => sessionRecords(session).request(utf8(`p${i}`))),
  );
  expect(replies.map(text)).toEqual(Array.from({ length: 30 }, (_, i) => `p${i}`));
});
