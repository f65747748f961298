/**
 * The Node adapter (`toNodeListener`): a responder behind plain `node:http` and behind an
 * Express-like middleware chain (mount path, a body parser before it, `next(error)`), with its body
 * limits kept and a consumed body refused with `body_consumed`.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { isZeqKeyExError } from '../src/core/errors.js';
import { createClient, sessionRecords } from '../src/index.js';
import { type NodeListener, type NodeListenerRequest, toNodeListener } from '../src/node.js';
import { createResponder } from '../src/responder.js';
import { FIELD_KEY, recordingLogger } from './helpers/responder.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };
let server: Server | undefined;

afterEach(async () => {
  const running = server;
  server = undefined;
  if (running !== undefined) {
    running.closeAllConnections();
    await new Promise<void>((resolve) => running.close(() => resolve()));
  }
});

async function listen(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<string> {
  server = createServer(listener);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

type Middleware = (
  req: NodeListenerRequest,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** A tiny Express: middlewares by mount path, `req.url` rewritten under a mount, errors to a handler. */
function expressLike(
  stack: readonly [string, Middleware][],
  onError: (error: unknown, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (incoming, res) => {
    const req = incoming as NodeListenerRequest;
    req.originalUrl = req.url ?? '/';
    let index = 0;
    const next = (error?: unknown): void => {
      req.url = req.originalUrl;
      if (error !== undefined) {
        onError(error, res);
        return;
      }
      const entry = stack[index++];
      if (entry === undefined) {
        res.writeHead(404).end('no route');
        return;
      }
      const [mount, middleware] = entry;
      if (!(req.originalUrl ?? '').startsWith(mount)) {
        next();
        return;
      }
      req.url = (req.originalUrl ?? '').slice(mount.length) || '/';
      middleware(req, res, next);
    };
    next();
  };
}

/** Like `express.json()`: reads a JSON body into `req.body`, setting `_body`. */
const jsonParser: Middleware = (req, _res, next) => {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    next();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    req.body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    req._body = true;
    next();
  });
};

describe('toNodeListener over node:http', () => {
  test('serves a pinned handshake and a record', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      onRecord: (plaintext) => plaintext,
    });
    const listener: NodeListener = toNodeListener(responder.fetch);
    const origin = await listen(listener);
    const fingerprint = (await responder.keyDocument('edge-01')).fingerprint;
    const client = createClient({ origin, pins: { 'edge-01': fingerprint }, retry: 0 });
    const session = await client.handshake('edge-01');
    const reply = await sessionRecords(session).request(new TextEncoder().encode('ping'));
    expect(new TextDecoder().decode(reply)).toBe('ping');
    session.wipe();
    responder.close();
  });

  test("keeps the responder's body limit: a large body is 413, read no further than the cap", async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    const origin = await listen(toNodeListener(responder.fetch));
    const response = await fetch(`${origin}/api/keyex/edge-01/handshake`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(1_000_000),
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toBe('payload_too_large');
    responder.close();
  });

  test('a handler that throws is a bare 500 internal and a log line with no detail', async () => {
    const logger = recordingLogger();
    const origin = await listen(
      toNodeListener(
        () => {
          throw new Error('secret detail');
        },
        { logger },
      ),
    );
    const response = await fetch(`${origin}/x`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'internal', message: 'internal error' });
    expect(logger.lines).toEqual([
      {
        level: 'error',
        message: 'request failed',
        fields: { code: 'unexpected', method: 'GET', path: '/x' },
      },
    ]);
    expect(logger.text()).not.toContain('secret detail');
  });

  test('checks its options', () => {
    expect(() => toNodeListener('nope' as never)).toThrow(TypeError);
    expect(() =>
      toNodeListener(() => Promise.resolve(new Response()), { origin: 'ftp://x' }),
    ).toThrow(TypeError);
    expect(() =>
      toNodeListener(() => Promise.resolve(new Response()), { trustProxy: ['nope'] }),
    ).toThrow(TypeError);
    expect(() =>
      toNodeListener(() => Promise.resolve(new Response()), { logger: {} as never }),
    ).toThrow(TypeError);
  });
});

describe('toNodeListener as middleware', () => {
  test('under a mount path, the handler sees the full path (basePath), and GETs pass a parser', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      basePath: '/zeq',
    });
    const errors: unknown[] = [];
    const origin = await listen(
      expressLike(
        [
          ['/', jsonParser],
          ['/zeq', toNodeListener(responder.fetch, { logger: recordingLogger() })],
        ],
        (error, res) => {
          errors.push(error);
          res.writeHead(500).end();
        },
      ),
    );
    const response = await fetch(`${origin}/zeq/api/keyex/edge-01/pubkey`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { machine_id: string }).machine_id).toBe('machine:edge-01');
    expect(errors).toEqual([]);
    responder.close();
  });

  test('a body parser that ran first: body_consumed to next(error), one log line, the responder never called', async () => {
    const logger = recordingLogger();
    let called = 0;
    const errors: unknown[] = [];
    const origin = await listen(
      expressLike(
        [
          ['/', jsonParser],
          [
            '/',
            toNodeListener(
              () => {
                called++;
                return Promise.resolve(new Response('nope'));
              },
              { logger },
            ),
          ],
        ],
        (error, res) => {
          errors.push(error);
          res.writeHead(500).end('app error handler');
        },
      ),
    );
    const response = await fetch(`${origin}/api/keyex/edge-01/handshake?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"cipher_text":"AAAA"}',
    });
    expect(await response.text()).toBe('app error handler');
    expect(called).toBe(0);
    expect(errors).toHaveLength(1);
    expect(isZeqKeyExError(errors[0], 'body_consumed')).toBe(true);
    expect(logger.lines).toEqual([
      {
        level: 'error',
        message: 'request refused',
        fields: { code: 'body_consumed', method: 'POST', path: '/api/keyex/edge-01/handshake' },
      },
    ]);
  });

  test('without next, a consumed body is answered 500 internal', async () => {
    const logger = recordingLogger();
    const listener = toNodeListener(() => Promise.resolve(new Response('nope')), { logger });
    const origin = await listen((req, res) => {
      req.resume();
      req.on('end', () => listener(req, res));
    });
    const response = await fetch(`${origin}/r`, { method: 'POST', body: 'data' });
    expect(response.status).toBe(500);
    expect(((await response.json()) as { error: string }).error).toBe('internal');
    expect(logger.lines.map((line) => line.fields?.['code'])).toEqual(['body_consumed']);
    // A records path is logged without its session id.
    const sessionId = 'B'.repeat(22);
    const records = await fetch(`${origin}/api/keyex/edge-01/sessions/${sessionId}/records`, {
      method: 'POST',
      body: 'data',
    });
    expect(records.status).toBe(500);
    await records.body?.cancel();
    expect(logger.lines[1]?.fields?.['path']).toBe(
      '/api/keyex/edge-01/sessions/{session_id}/records',
    );
    expect(JSON.stringify(logger.lines)).not.toContain(sessionId);
  });

  test('a parser that skipped the body (another content type) leaves it to the responder', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      onRecord: (plaintext) => plaintext,
    });
    const origin = await listen(
      expressLike(
        [
          ['/', jsonParser],
          ['/', toNodeListener(responder.fetch)],
        ],
        (_error, res) => res.writeHead(500).end(),
      ),
    );
    const client = createClient({ origin, insecureUnpinned: true, retry: 0 });
    // The handshake's JSON would be eaten by the parser: only the record (octet-stream) goes through.
    const failure = await client.handshake('edge-01').catch((error: unknown) => error);
    expect(isZeqKeyExError(failure, 'http_error')).toBe(true);
    const status = await fetch(`${origin}/api/keyex/edge-01/sessions/${'A'.repeat(22)}/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array(40),
    });
    expect(status.status).toBe(404);
    expect(((await status.json()) as { error: string }).error).toBe('unknown_session');
    responder.close();
  });
});
