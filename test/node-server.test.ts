/**
 * The Node server adapter (`src/node/server.ts`) over real loopback sockets: how an
 * `IncomingMessage` becomes a `Request` (URL, headers, a body streamed as it is read, a signal
 * that aborts when the client goes away) and how a `Response` goes back (status, headers, a body
 * written as it streams), and that a body the handler refuses or stops reading never reaches a
 * stream that was already closed: the server keeps serving.
 */
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { type Socket, createConnection } from 'node:net';
import { describe, expect, test } from 'vitest';
import { MAX_HANDSHAKE_REQUEST_BYTES } from '../src/core/constants.js';
import { HttpError, discardBody, readBody } from '../src/responder/http.js';
import { requestHeader } from '../src/responder/request-body.js';
import { createResponder } from '../src/responder/responder.js';
import { type FetchHandler, type RunningServer, serve } from '../src/node/server.js';
import { FIELD_KEY } from './helpers/responder.js';
import { useServing } from './helpers/serving.js';

/** A promise and the function that resolves it. */
function deferred(): [Promise<void>, () => void] {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return [promise, resolve];
}

function ignoreError(): void {}

const SLUG = 'edge-01';
const start = useServing();

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface Sent {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string | string[]>;
  /** The body, written in these chunks (chunked transfer encoding unless a content-length is given). */
  readonly chunks?: readonly (string | Uint8Array)[];
}

/** One request on its own connection: the answer, or `'reset'` when the connection was cut first. */
function send(server: RunningServer, sent: Sent): Promise<Answer | 'reset'> {
  const url = new URL(server.url);
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: sent.method ?? 'GET',
        path: sent.path,
        headers: sent.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', () => resolve('reset'));
      },
    );
    req.on('error', () => resolve('reset'));
    for (const chunk of sent.chunks ?? []) req.write(chunk);
    req.end();
  });
}

function responder(): ReturnType<typeof createResponder> {
  return createResponder({ fieldKey: FIELD_KEY, machines: { [SLUG]: 'machine:edge-01' } });
}

async function expectServing(server: RunningServer): Promise<void> {
  const answer = await send(server, { path: `/api/keyex/${SLUG}/pubkey` });
  expect(answer === 'reset' ? 'reset' : answer.status).toBe(200);
}

describe('request bodies the responder refuses', () => {
  const refusals: { name: string; sent: Sent; status: number }[] = [
    {
      name: 'a body of the wrong media type (415)',
      sent: {
        method: 'POST',
        path: `/api/keyex/${SLUG}/handshake`,
        headers: { 'content-type': 'text/plain' },
        chunks: ['abc'],
      },
      status: 415,
    },
    {
      name: 'a body for an unknown machine (404)',
      sent: {
        method: 'POST',
        path: '/api/keyex/nobody/handshake',
        headers: { 'content-type': 'application/json' },
        chunks: ['{}'],
      },
      status: 404,
    },
    {
      name: 'a body on a route that takes none (405)',
      sent: {
        method: 'PUT',
        path: `/api/keyex/${SLUG}/pubkey`,
        headers: { 'content-type': 'application/json' },
        chunks: ['{}'],
      },
      status: 405,
    },
    {
      name: 'a body for no route at all (404)',
      sent: {
        method: 'POST',
        path: '/elsewhere',
        headers: { 'content-type': 'application/json' },
        chunks: ['{}'],
      },
      status: 404,
    },
  ];

  test.each(refusals)('$name: answered, and the server keeps serving', async ({ sent, status }) => {
    const server = await start(responder().fetch);
    for (let i = 0; i < 3; i++) {
      const answer = await send(server, sent);
      expect(answer === 'reset' ? 'reset' : answer.status).toBe(status);
    }
    await expectServing(server);
  });

  test('a declared content-length above the limit: 413, and the server keeps serving', async () => {
    const server = await start(responder().fetch);
    const body = 'a'.repeat(MAX_HANDSHAKE_REQUEST_BYTES + 1);
    for (let i = 0; i < 3; i++) {
      const answer = await send(server, {
        method: 'POST',
        path: `/api/keyex/${SLUG}/handshake`,
        headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
        chunks: [body],
      });
      expect(answer === 'reset' ? 'reset' : answer.status).toBe(413);
      if (answer !== 'reset')
        expect(JSON.parse(answer.body)).toMatchObject({ error: 'payload_too_large' });
    }
    await expectServing(server);
  });

  test('a chunked body that grows past the limit: 413, and the server keeps serving', async () => {
    const server = await start(responder().fetch);
    const chunk = new Uint8Array(4096).fill(0x61);
    const answer = await send(server, {
      method: 'POST',
      path: `/api/keyex/${SLUG}/handshake`,
      headers: { 'content-type': 'application/json' },
      chunks: Array.from({ length: 64 }, () => chunk),
    });
    expect(answer === 'reset' ? 'reset' : answer.status).toBe(413);
    await expectServing(server);
  });
});

describe('request bodies', () => {
  test('a large body arrives whole, in order, across many chunks', async () => {
    const server = await start(async (request) => {
      const bytes = new Uint8Array(await request.arrayBuffer());
      let sum = 0;
      for (const [i, byte] of bytes.entries()) sum = (sum + byte * ((i % 251) + 1)) % 1_000_003;
      return new Response(JSON.stringify({ length: bytes.length, sum }));
    });
    const payload = new Uint8Array(1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) % 256;
    let sum = 0;
    for (const [i, byte] of payload.entries()) sum = (sum + byte * ((i % 251) + 1)) % 1_000_003;
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < payload.length; at += 10_000)
      chunks.push(payload.subarray(at, at + 10_000));
    const answer = await send(server, {
      method: 'POST',
      path: '/upload',
      headers: { 'content-type': 'application/octet-stream' },
      chunks,
    });
    expect(answer).not.toBe('reset');
    if (answer === 'reset') return;
    expect(JSON.parse(answer.body)).toEqual({ length: payload.length, sum });
  });

  test('a handler that stops reading gets no more, and its answer still arrives', async () => {
    let read = 0;
    const server = await start(async (request) => {
      read = 0;
      const reader = (request.body as ReadableStream<Uint8Array>).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        read += value.byteLength;
        if (read > 1000) {
          await reader.cancel();
          break;
        }
      }
      return new Response('enough', { status: 413 });
    });
    const chunk = new Uint8Array(16 * 1024).fill(1);
    const answer = await send(server, {
      method: 'POST',
      path: '/upload',
      chunks: Array.from({ length: 256 }, () => chunk),
    });
    expect(answer === 'reset' ? 'reset' : answer.status).toBe(413);
    // One socket read past the point where it stopped, at most.
    expect(read).toBeGreaterThan(1000);
    expect(read).toBeLessThanOrEqual(1000 + 64 * 1024);
    const after = await send(server, { method: 'POST', path: '/upload', chunks: ['x'] });
    expect(after === 'reset' ? 'reset' : after.status).toBe(413);
  });

  test('GET and HEAD have no body; a POST without one has an empty one', async () => {
    const seen: { method: string; body: boolean; text: string }[] = [];
    const server = await start(async (request) => {
      seen.push({
        method: request.method,
        body: request.body !== null,
        text: request.body === null ? '' : await request.text(),
      });
      return new Response(null, { status: 204 });
    });
    await send(server, { path: '/a' });
    await send(server, { method: 'HEAD', path: '/a' });
    await send(server, { method: 'POST', path: '/a', headers: { 'content-length': '0' } });
    expect(seen).toEqual([
      { method: 'GET', body: false, text: '' },
      { method: 'HEAD', body: false, text: '' },
      { method: 'POST', body: true, text: '' },
    ]);
  });
});

describe('request bodies read by the responder as bytes', () => {
  test('the bytes read leave a used body behind, as reading a Request does', async () => {
    let seen: unknown;
    const server = await start(async (request) => {
      const before = request.bodyUsed;
      const bytes = await readBody(request, 1_024);
      seen = {
        isRequest: request instanceof Request,
        before,
        text: new TextDecoder().decode(bytes),
        after: request.bodyUsed,
        hasBody: request.body !== null,
        again: await request.text().then(
          () => 'read',
          (error: unknown) => (error instanceof TypeError ? 'TypeError' : 'other'),
        ),
      };
      return new Response(null, { status: 204 });
    });
    await send(server, { method: 'POST', path: '/x', chunks: ['ab', 'cd'] });
    expect(seen).toEqual({
      isRequest: true,
      before: false,
      text: 'abcd',
      after: true,
      hasBody: true,
      again: 'TypeError',
    });
  });

  test('past the cap: undefined as a 413, the rest dropped, and the connection keeps serving', async () => {
    const server = await start(async (request) => {
      try {
        await readBody(request, 4);
        return new Response(null, { status: 204 });
      } catch {
        return new Response(null, { status: 413 });
      }
    });
    const url = new URL(server.url);
    const socket = createConnection({ host: url.hostname, port: Number(url.port) });
    const statuses = await new Promise<string[]>((resolve, reject) => {
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        text += chunk;
        const found = [...text.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1] ?? '');
        if (found.length === 2) resolve(found);
      });
      socket.on('error', reject);
      const body = 'x'.repeat(100_000);
      socket.write(
        `POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: ${String(body.length)}\r\n\r\n${body}`,
      );
      socket.write('POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc');
    });
    socket.destroy();
    expect(statuses).toEqual(['413', '204']);
  });

  test('a body looked at as a stream first is read from that stream; a dropped one is used', async () => {
    let seen: unknown;
    const server = await start(async (request) => {
      const stream = request.body;
      const bytes = await readBody(request, 1_024);
      seen = { stream: stream !== null, text: new TextDecoder().decode(bytes) };
      return new Response(null, { status: 204 });
    });
    await send(server, { method: 'POST', path: '/x', chunks: ['abc'] });
    expect(seen).toEqual({ stream: true, text: 'abc' });

    let dropped: unknown;
    const second = await start(async (request) => {
      discardBody(request);
      dropped = request.bodyUsed;
      return new Response(null, { status: 204 });
    });
    const answer = await send(second, { method: 'POST', path: '/x', chunks: ['abc'] });
    expect(answer === 'reset' ? 'reset' : answer.status).toBe(204);
    expect(dropped).toBe(true);
  });

  test('a body asked for after the client went away: refused at once, never waited for', async () => {
    const [closed, resolveClosed] = deferred();
    const [entered, resolveEntered] = deferred();
    let outcome: string | undefined;
    const server = await start(async (request) => {
      resolveEntered();
      await closed;
      outcome = await readBody(request, 1_024).then(
        () => 'read',
        (error: unknown) => (error instanceof HttpError ? error.code : 'other'),
      );
      return new Response(null, { status: 204 });
    });
    server.server.on('connection', (socket) =>
      socket.on('close', () => setTimeout(resolveClosed, 20)),
    );
    const url = new URL(server.url);
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path: '/wait',
      headers: { 'content-length': '10' },
      agent: false,
    });
    req.on('error', () => undefined);
    req.write('abc');
    await entered;
    req.destroy();
    await expect.poll(() => outcome).toBe('invalid_request');
  });

  test('a target with dot segments or percent-escapes gets the URL a Request would give it', async () => {
    const urls: string[] = [];
    const server = await start(async (request) => {
      urls.push(request.url);
      return new Response(null, { status: 204 });
    });
    for (const path of ['/a/./b/../c', '/%7e/x%2F', '/a?b=1', '/.well-known/x', '/a//b'])
      await send(server, { path });
    expect(urls).toEqual(
      ['/a/./b/../c', '/%7e/x%2F', '/a?b=1', '/.well-known/x', '/a//b'].map(
        (path) => new Request(server.url + path).url,
      ),
    );
  });
});

describe('request URL and headers', () => {
  test('the URL is the server origin plus the request target; repeated headers are joined as Node joins them', async () => {
    let seen:
      { url: string; a: string | null; cookie: string | null; type: string | null } | undefined;
    const server = await start(async (request) => {
      seen = {
        url: request.url,
        a: request.headers.get('x-a'),
        cookie: request.headers.get('cookie'),
        type: request.headers.get('content-type'),
      };
      return new Response(null, { status: 204 });
    });
    await send(server, {
      path: '/p/q?x=1&y=%20',
      headers: { 'x-a': ['1', '2'], cookie: ['a=1', 'b=2'], 'content-type': 'application/json' },
    });
    expect(seen).toEqual({
      url: `${server.url}/p/q?x=1&y=%20`,
      a: '1, 2',
      cookie: 'a=1; b=2',
      type: 'application/json',
    });
  });

  test('headers read before the body are those request.headers has, however the client spelled them', async () => {
    const names = ['content-type', 'content-length', 'x-a', 'x-pad', 'x-empty', 'absent'];
    const seen: { read: (string | null)[]; headers: (string | null)[] }[] = [];
    const server = await start(async (request) => {
      // Read through the body source first, then through the `Headers` it did not need to make.
      const read = names.map((name) => requestHeader(request, name));
      seen.push({ read, headers: names.map((name) => request.headers.get(name)) });
      return new Response(null, { status: 204 });
    });
    const url = new URL(server.url);
    const heads = [
      'content-type: application/json\r\ncontent-length: 2\r\nx-a: 1\r\nx-a: 2\r\n',
      'content-type:   text/plain ;charset=utf-8 \t\r\ncontent-type: application/json\r\ncontent-length:  2 \r\nx-pad: \t a \t\r\nx-empty:\r\n',
      'CONTENT-Type: Application/JSON\r\nContent-Length: 2\r\nX-A: a\r\nx-a: \r\n',
    ];
    for (const head of heads) {
      const socket = createConnection({ host: url.hostname, port: Number(url.port) });
      await new Promise<void>((resolve, reject) => {
        socket.on('data', () => {
          resolve();
        });
        socket.on('error', reject);
        socket.write(`POST / HTTP/1.1\r\nhost: x\r\n${head}connection: close\r\n\r\n{}`);
      });
      socket.destroy();
    }
    expect(seen).toHaveLength(heads.length);
    for (const { read, headers } of seen) expect(read).toEqual(headers);
    expect(seen[0]?.read).toEqual(['application/json', '2', '1, 2', null, null, null]);
  });

  test('a request carrying set-cookie twice keeps both values', async () => {
    let cookies: string[] | undefined;
    const server = await start(async (request) => {
      cookies = request.headers.getSetCookie();
      return new Response(null, { status: 204 });
    });
    await send(server, { path: '/', headers: { 'set-cookie': ['a=1', 'b=2'] } });
    expect(cookies).toEqual(['a=1', 'b=2']);
  });

  test('a target that is not origin-form resolves against the origin as a URL does', async () => {
    let url: string | undefined;
    const server = await start(async (request) => {
      url = request.url;
      return new Response(null, { status: 204 });
    });
    await send(server, { path: '//other.example/x' });
    expect(url).toBe(new URL('//other.example/x', server.url).href);
    await send(server, { path: 'http://elsewhere.example/y?z' });
    expect(url).toBe('http://elsewhere.example/y?z');
  });
});

/** Sends a request to `/wait` and, once the handler has `entered`, goes away without reading the answer. */
async function leaveMidRequest(origin: string, entered: Promise<void>): Promise<void> {
  const url = new URL(origin);
  const req = httpRequest({ host: url.hostname, port: url.port, path: '/wait', agent: false });
  req.on('error', () => undefined);
  req.end();
  await entered;
  req.destroy();
}

describe('request.signal', () => {
  test('aborts when the client goes away before the response', async () => {
    const [aborted, resolveAborted] = deferred();
    const [entered, resolveEntered] = deferred();
    const server = await start(async (request) => {
      request.signal.addEventListener('abort', () => resolveAborted());
      const copy = request.clone();
      resolveEntered();
      await new Promise<void>((resolve) => copy.signal.addEventListener('abort', () => resolve()));
      return new Response('too late');
    });
    await leaveMidRequest(server.url, entered);
    await aborted;
  });

  test('a signal first looked at after the client went away is already aborted', async () => {
    const [closed, resolveClosed] = deferred();
    const [entered, resolveEntered] = deferred();
    let wasAborted: boolean | undefined;
    const server = await start(async (request) => {
      resolveEntered();
      await closed;
      wasAborted = request.signal.aborted;
      return new Response('too late');
    });
    server.server.on('connection', (socket) =>
      socket.on('close', () => setTimeout(resolveClosed, 20)),
    );
    await leaveMidRequest(server.url, entered);
    await expect.poll(() => wasAborted).toBe(true);
  });

  test('never aborts for a request that was answered', async () => {
    const requests: Request[] = [];
    const server = await start(async (request) => {
      requests.push(request);
      return new Response('ok');
    });
    const answer = await send(server, { path: '/' });
    expect(answer === 'reset' ? 'reset' : answer.body).toBe('ok');
    server.server.closeAllConnections();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(requests.map((r) => r.signal.aborted)).toEqual([false]);
  });
});

describe('responses', () => {
  test('status, headers (every set-cookie) and a body streamed in several chunks', async () => {
    const server = await start(async () => {
      const headers = new Headers({ 'content-type': 'text/plain', 'x-b': '2' });
      headers.append('set-cookie', 'a=1');
      headers.append('set-cookie', 'b=2');
      const parts = ['one,', 'two,', 'three'];
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = parts.shift();
          if (next === undefined) {
            controller.close();
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
          controller.enqueue(new TextEncoder().encode(next));
        },
      });
      return new Response(body, { status: 201, headers });
    });
    const answer = await send(server, { path: '/' });
    expect(answer).not.toBe('reset');
    if (answer === 'reset') return;
    expect(answer.status).toBe(201);
    expect(answer.headers['content-type']).toBe('text/plain');
    expect(answer.headers['x-b']).toBe('2');
    expect(answer.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(answer.body).toBe('one,two,three');
  });

  test('a body of one chunk goes out with the end of the message: chunked framing, one chunk, then the last', async () => {
    const server = await start(async () => new Response('{"a":1}', { status: 200 }));
    const url = new URL(server.url);
    const socket = createConnection({ host: url.hostname, port: Number(url.port) });
    const raw = await new Promise<string>((resolve, reject) => {
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        text += chunk;
        if (text.endsWith('\r\n0\r\n\r\n')) resolve(text);
      });
      socket.on('error', reject);
      socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    });
    socket.destroy();
    const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head.toLowerCase()).toContain('transfer-encoding: chunked');
    expect(raw.slice(head.length + 4)).toBe('7\r\n{"a":1}\r\n0\r\n\r\n');
  });

  test('a handler that throws: a bare 500 internal', async () => {
    const server = await start(async () => {
      throw new Error('secret detail');
    });
    const answer = await send(server, { path: '/' });
    expect(answer).not.toBe('reset');
    if (answer === 'reset') return;
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body)).toEqual({ error: 'internal', message: 'internal error' });
    expect(answer.body).not.toContain('secret');
  });

  test('a client that goes away mid-body: the body stream is cancelled', async () => {
    const [cancelled, resolveCancelled] = deferred();
    const server = await start(async () => {
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(new Uint8Array(1024));
          return new Promise((resolve) => setTimeout(resolve, 5));
        },
        cancel() {
          resolveCancelled();
        },
      });
      return new Response(body);
    });
    const url = new URL(server.url);
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: '/', agent: false },
      (res) => {
        res.once('data', () => req.destroy());
      },
    );
    req.on('error', () => undefined);
    req.end();
    await cancelled;
  });
});

describe('connection limits', () => {
  /** A raw loopback connection: everything it received, and a promise of its end. */
  function connect(server: RunningServer): {
    socket: Socket;
    received: () => string;
    ended: Promise<void>;
  } {
    const url = new URL(server.url);
    const socket = createConnection({ host: url.hostname, port: Number(url.port) });
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
    });
    const ended = new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
    });
    socket.on('error', ignoreError);
    return { socket, received: () => text, ended };
  }

  const ok: FetchHandler = async () => new Response('ok');

  test('a client that sends its headers slowly is answered 408 and cut at the headers time limit', async () => {
    const server = await start(ok, {
      headersTimeoutMs: 300,
      requestTimeoutMs: 300,
      keepAliveTimeoutMs: 60_000,
    });
    const slow = connect(server);
    slow.socket.write('GET / HTTP/1.1\r\nhost: x\r\n');
    // One more header line every 50 ms, for ever: only the server's limit ends this.
    const drip = setInterval(() => {
      if (!slow.socket.destroyed) slow.socket.write(`x-slow-${Date.now()}: 1\r\n`);
    }, 50);
    try {
      await slow.ended;
    } finally {
      clearInterval(drip);
    }
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
    // The server still serves.
    const answer = await send(server, { path: '/' });
    expect(answer === 'reset' ? answer : answer.status).toBe(200);
  });

  test('connections beyond maxConnections are closed at once, unanswered; a freed slot serves again', async () => {
    const server = await start(ok, {
      maxConnections: 2,
      keepAliveTimeoutMs: 60_000,
    });
    let accepted = 0;
    const twoAccepted = new Promise<void>((resolve) => {
      server.server.on('connection', () => {
        if (++accepted === 2) resolve();
      });
    });
    const held = [connect(server), connect(server)];
    await twoAccepted;
    const third = connect(server);
    third.socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    await third.ended;
    expect(third.received()).toBe('');
    // One held connection goes; a new one is served.
    const [first] = held;
    first?.socket.destroy();
    await first?.ended;
    // Until the server has seen it go too.
    for (;;) {
      const open = await new Promise<number>((resolve, reject) => {
        server.server.getConnections((error, count) => (error ? reject(error) : resolve(count)));
      });
      if (open < 2) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const answer = await send(server, { path: '/' });
    expect(answer === 'reset' ? answer : answer.status).toBe(200);
  });

  test('a request line and headers above maxHeaderBytes get 431', async () => {
    const server = await start(ok, {
      maxHeaderBytes: 1024,
    });
    const big = await send(server, { path: '/', headers: { 'x-big': 'a'.repeat(2048) } });
    expect(big === 'reset' ? big : big.status).toBe(431);
    const small = await send(server, { path: '/', headers: { 'x-small': 'a'.repeat(512) } });
    expect(small === 'reset' ? small : small.status).toBe(200);
  });

  test('limits that are not positive integers, or a headers limit above the request limit, are a RangeError', async () => {
    for (const options of [
      { maxConnections: 0 },
      { headersTimeoutMs: -1 },
      { requestTimeoutMs: 1.5 },
      { keepAliveTimeoutMs: Number.NaN },
      { maxHeaderBytes: Number.POSITIVE_INFINITY },
      { headersTimeoutMs: 2_000, requestTimeoutMs: 1_000 },
    ])
      await expect(serve(ok, { port: 0, ...options })).rejects.toBeInstanceOf(RangeError);
  });
});
