/**
 * Errors an app can act on: transport errors name the method and the URL (never credentials or a
 * query) as properties and in their message, `http_error` leads with the responder's code,
 * `network_error` says why (its cause kept); the CLI's text mode says as much as `--json`; the
 * responder's `onError` receives an application callback's exception, which the client never sees;
 * the client's `fetch` option takes a synchronous fetch handler.
 */
import { createServer } from 'node:http';
import { describe, expect, test } from 'vitest';
import { type ZeqKeyExError, isZeqKeyExError } from '../src/core/errors.js';
import { createClient, sessionRecords } from '../src/index.js';
import { createTransport } from '../src/initiator/transport.js';
import { type CliIo, runCli } from '../src/node/cli/index.js';
import { serve } from '../src/node/server.js';
import { type ResponderErrorContext, createResponder } from '../src/responder.js';
import { FIELD_KEY, recordingLogger } from './helpers/responder.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };

async function failure(promise: Promise<unknown>): Promise<ZeqKeyExError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isZeqKeyExError(error)) throw new Error(`expected a ZeqKeyExError, got ${String(error)}`);
  return error;
}

async function closedOrigin(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${address.port}`;
}

describe('transport errors', () => {
  test('network_error names the method, the URL and the reason, and keeps its cause', async () => {
    const origin = await closedOrigin();
    const client = createClient({ origin, insecureUnpinned: true, retry: 0 });
    const error = await failure(client.handshake('edge-01'));
    expect(error.code).toBe('network_error');
    expect(error.method).toBe('GET');
    expect(error.url).toBe(`${origin}/api/keyex/edge-01/pubkey`);
    expect(error.message).toContain(`GET ${origin}/api/keyex/edge-01/pubkey`);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.cause).toBeInstanceOf(Error);
  });

  test('credentials, query and fragment never reach the error', async () => {
    const transport = createTransport({
      retry: 0,
      fetch: () => {
        throw new TypeError('no route to host');
      },
    });
    const error = await failure(
      transport.getJson('https://user:hunter2@edge.example/x?token=s3cret#frag'),
    );
    expect(error.code).toBe('network_error');
    expect(error.url).toBe('https://edge.example/x');
    for (const secret of ['hunter2', 's3cret', 'user', 'frag'])
      expect(error.message).not.toContain(secret);
    // The runtime refuses a URL with credentials before any fetch; its message quoted the URL.
    const reached = await failure(transport.getJson('https://edge.example/x?token=s3cret'));
    expect(reached.url).toBe('https://edge.example/x');
    expect(reached.message).toContain('no route to host');
    expect(reached.message).not.toContain('s3cret');
  });

  test("http_error leads with the responder's code, and carries status, code, method and URL", async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    const client = createClient({
      origin: 'https://edge.example',
      insecureUnpinned: true,
      retry: 0,
      fetch: responder.fetch,
    });
    const error = await failure(client.handshake('nobody'));
    expect(error).toMatchObject({
      code: 'http_error',
      status: 404,
      responseCode: 'unknown_machine',
      method: 'GET',
      url: 'https://edge.example/api/keyex/nobody/pubkey',
    });
    expect(error.message).toMatch(
      /^unknown_machine: GET https:\/\/edge\.example\/api\/keyex\/nobody\/pubkey /,
    );
    expect(error.message).toContain('404');
    responder.close();
  });

  test('timeout and response_too_large name the request too', async () => {
    const slow = createTransport({
      retry: 0,
      timeoutMs: 20,
      fetch: (request) =>
        new Promise<Response>((_resolve, reject) =>
          request.signal.addEventListener('abort', () => reject(request.signal.reason as Error)),
        ),
    });
    const timeout = await failure(slow.postJson('https://edge.example/h', {}));
    expect(timeout).toMatchObject({
      code: 'timeout',
      method: 'POST',
      url: 'https://edge.example/h',
    });
    expect(timeout.message).toContain('POST https://edge.example/h');
    const large = createTransport({
      retry: 0,
      maxResponseBytes: 8,
      fetch: () => new Response('{"a":"0123456789"}'),
    });
    const tooLarge = await failure(large.getJson('https://edge.example/big'));
    expect(tooLarge).toMatchObject({
      code: 'response_too_large',
      method: 'GET',
      url: 'https://edge.example/big',
    });
  });
});

describe("the client's fetch option", () => {
  test('takes a synchronous fetch handler, as Hono apps have', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      onRecord: (p) => p,
    });
    // Hono's `app.fetch`: (request, env?, executionCtx?) => Response | Promise<Response>.
    const app = {
      // eslint-disable-next-line @typescript-eslint/no-unused-vars -- the shape of Hono's signature
      fetch: (request: Request, _env?: object, _ctx?: unknown): Response | Promise<Response> =>
        request.url.endsWith('/teapot')
          ? new Response(null, { status: 418 })
          : responder.fetch(request),
    };
    const client = createClient({
      origin: 'https://edge.example',
      insecureUnpinned: true,
      retry: 0,
      fetch: app.fetch,
    });
    const session = await client.handshake('edge-01');
    expect(
      new TextDecoder().decode(await sessionRecords(session).request(new Uint8Array([104, 105]))),
    ).toBe('hi');
    session.wipe();
    const sync = createTransport({ retry: 0, fetch: app.fetch });
    const error = await failure(sync.getJson('https://edge.example/teapot'));
    expect(error).toMatchObject({ code: 'http_error', status: 418 });
    const throwing = createTransport({
      retry: 0,
      fetch: () => {
        throw new Error('sync failure');
      },
    });
    expect((await failure(throwing.getJson('https://edge.example/x'))).code).toBe('network_error');
    responder.close();
  });
});

describe('the responder onError hook', () => {
  test("receives onRecord's exception with its stack; the client gets a bare 500, the log the code only", async () => {
    const logger = recordingLogger();
    const reported: [unknown, ResponderErrorContext][] = [];
    const thrown = new Error('database is down: password=hunter2');
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      logger,
      onRecord: () => {
        throw thrown;
      },
      onError: (error, context) => {
        reported.push([error, context]);
        throw new Error('the reporter itself fails');
      },
    });
    const seen: string[] = [];
    const client = createClient({
      origin: 'https://edge.example',
      insecureUnpinned: true,
      retry: 0,
      fetch: async (request) => {
        const response = await responder.fetch(request);
        seen.push(await response.clone().text());
        return response;
      },
    });
    const session = await client.handshake('edge-01');
    const error = await failure(sessionRecords(session).request(new Uint8Array([1])));
    expect(error).toMatchObject({ code: 'http_error', status: 500, responseCode: 'internal' });
    expect(reported).toHaveLength(1);
    expect(reported[0]?.[0]).toBe(thrown);
    expect((reported[0]?.[0] as Error).stack).toContain('errors-actionable.test.ts');
    expect(reported[0]?.[1]).toEqual({
      method: 'POST',
      route: '/api/keyex/:slug/sessions/:session_id/records',
    });
    expect(seen.join('\n')).not.toContain('hunter2');
    expect(error.message).not.toContain('hunter2');
    expect(logger.text()).not.toContain('hunter2');
    expect(logger.lines.at(-1)?.fields).toMatchObject({ code: 'unexpected' });
    session.wipe();
    responder.close();
  });

  test('is checked when the responder is created', () => {
    expect(() =>
      createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, onError: 'log' as never }),
    ).toThrow(TypeError);
  });
});

describe('the CLI text mode', () => {
  function io(lines: { out: string[]; err: string[] }): CliIo {
    return {
      stdout: (line) => lines.out.push(line),
      stderr: (line) => lines.err.push(line),
      env: {},
      stopSignal: () => Promise.resolve('SIGTERM'),
    };
  }

  test("an unknown machine: the responder's code, the method and the URL, as --json carries them", async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    const server = await serve(responder.fetch, { port: 0 });
    try {
      const text = { out: [] as string[], err: [] as string[] };
      expect(await runCli(['fingerprint', server.url, 'nobody'], io(text))).toBe(1);
      const json = { out: [] as string[], err: [] as string[] };
      expect(await runCli(['fingerprint', server.url, 'nobody', '--json'], io(json))).toBe(1);
      const carried = JSON.parse(json.out[0] ?? '{}') as Record<string, unknown>;
      expect(carried).toMatchObject({
        code: 'http_error',
        status: 404,
        response_code: 'unknown_machine',
        method: 'GET',
        url: `${server.url}/api/keyex/nobody/pubkey`,
      });
      const said = text.err.join('\n');
      for (const value of [
        'http_error',
        '404',
        'unknown_machine',
        'GET',
        `${server.url}/api/keyex/nobody/pubkey`,
      ])
        expect(said).toContain(value);
    } finally {
      await server.close();
      responder.close();
    }
  });
});
