/**
 * `serve` over TLS (`node:https`): the option of `serve()` and `zeq-keyex serve --tls-cert FILE
 * --tls-key FILE`, with the test-only self-signed pair of `test/fixtures/tls/` (see its README).
 * The client trusts that certificate through `node:https` with it as the only CA, wrapped as a
 * fetch function (the global fetch has no per-request CA option).
 */
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { describe, expect, test } from 'vitest';
import { createClient } from '../src/index.js';
import type { FetchFunction } from '../src/initiator/transport.js';
import { type CliIo, runCli } from '../src/node/cli/index.js';
import { serve } from '../src/node/server.js';
import { createResponder } from '../src/responder.js';
import { FIELD_KEY } from './helpers/responder.js';

const CERT_FILE = new URL('fixtures/tls/cert.pem', import.meta.url);
const KEY_FILE = new URL('fixtures/tls/key.pem', import.meta.url);
const cert = readFileSync(CERT_FILE, 'utf8');
const key = readFileSync(KEY_FILE, 'utf8');
const MACHINES = { 'edge-01': 'machine:edge-01' };

/** A fetch over `node:https` that trusts the test certificate only. */
const trustingFetch: FetchFunction = async (input) => {
  const body = input.body === null ? undefined : Buffer.from(await input.arrayBuffer());
  return new Promise<Response>((resolve, reject) => {
    const req = httpsRequest(
      input.url,
      { method: input.method, headers: Object.fromEntries(input.headers), ca: cert },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers))
            if (typeof value === 'string') headers.set(name, value);
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers }));
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
};

describe('serve with tls', () => {
  test('serves https: a pinned handshake over it; plain fetch refuses the unknown certificate', async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    const server = await serve(responder.fetch, { port: 0, tls: { cert, key } });
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const fingerprint = (await responder.keyDocument('edge-01')).fingerprint;
      const client = createClient({
        origin: server.url,
        pins: { 'edge-01': fingerprint },
        retry: 0,
        fetch: trustingFetch,
      });
      const session = await client.handshake('edge-01');
      expect(session.fingerprint).toBe(fingerprint);
      session.wipe();
      const untrusting = createClient({
        origin: server.url,
        pins: { 'edge-01': fingerprint },
        retry: 0,
      });
      const error = await untrusting.handshake('edge-01').catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('network_error');
    } finally {
      await server.close();
      responder.close();
    }
  });

  test('refuses a malformed tls option', async () => {
    const handler = (): Promise<Response> => Promise.resolve(new Response());
    await expect(serve(handler, { port: 0, tls: { cert: '', key } })).rejects.toThrow(TypeError);
    await expect(serve(handler, { port: 0, tls: null as never })).rejects.toThrow(TypeError);
  });
});

describe('zeq-keyex serve --tls-cert --tls-key', () => {
  function io(lines: string[], stop: Promise<string>, onStdout: (line: string) => void): CliIo {
    return {
      stdout: (line) => {
        lines.push(line);
        onStdout(line);
      },
      stderr: (line) => lines.push(line),
      env: { ZEQ_FIELD_KEY: FIELD_KEY },
      stopSignal: () => stop,
    };
  }
  const base = ['serve', '--port', '0', '--machine', 'edge-01=machine:edge-01'];

  test('listens on https and serves the key document', async () => {
    let stop: (signal: string) => void = () => undefined;
    const stopped = new Promise<string>((resolve) => (stop = resolve));
    let listening: (line: string) => void = () => undefined;
    const ready = new Promise<string>((resolve) => (listening = resolve));
    const lines: string[] = [];
    const running = runCli(
      [...base, '--tls-cert', CERT_FILE.pathname, '--tls-key', KEY_FILE.pathname],
      io(lines, stopped, listening),
    );
    const line = await Promise.race([
      ready,
      running.then(() => Promise.reject(new Error(lines.join('\n')))),
    ]);
    try {
      expect(line).toMatch(/^listening on https:\/\/127\.0\.0\.1:\d+$/);
      const url = line.replace('listening on ', '');
      const response = await trustingFetch(new Request(`${url}/api/keyex/edge-01/pubkey`));
      expect(response.status).toBe(200);
      expect(((await response.json()) as { machine_id: string }).machine_id).toBe(
        'machine:edge-01',
      );
    } finally {
      stop('SIGTERM');
    }
    expect(await running).toBe(0);
  });

  test.each([
    ['only --tls-cert', ['--tls-cert', 'x.pem'], 2],
    [
      'an unreadable file',
      ['--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem'],
      2,
    ],
  ])('%s: usage error', async (_name, extra, code) => {
    const lines: string[] = [];
    expect(
      await runCli(
        [...base, ...extra],
        io(lines, Promise.resolve('SIGTERM'), () => undefined),
      ),
    ).toBe(code);
  });

  test('files that are not a certificate and key: exit 1 before listening', async () => {
    const lines: string[] = [];
    const code = await runCli(
      [...base, '--tls-cert', KEY_FILE.pathname, '--tls-key', CERT_FILE.pathname],
      io(lines, Promise.resolve('SIGTERM'), () => undefined),
    );
    expect(code).toBe(1);
    expect(lines.some((line) => line.startsWith('listening'))).toBe(false);
  });
});
