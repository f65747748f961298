/**
 * The responder's prepared JSON answers (`src/responder/prepared-response.ts`): a `Response` in
 * every way to whoever uses it, an answer `serve` writes without reading it back while nothing
 * made the real response, and the same bytes on the wire as an ordinary `Response`. Only an adapter
 * that asked for them gets one: every other caller of the responder a native `Response` (workerd's
 * server, for one, takes nothing else).
 */
import { createConnection } from 'node:net';
import { describe, expect, test } from 'vitest';
import type { FetchHandler } from '../src/node/server.js';
import { errorResponse, jsonResponse } from '../src/responder/http.js';
import {
  allowPreparedAnswers,
  headerPairs,
  preparedAnswerOf,
  preparedResponse,
} from '../src/responder/prepared-response.js';
import { createResponder } from '../src/responder.js';
import { FIELD_KEY } from './helpers/responder.js';
import { useServing } from './helpers/serving.js';

const start = useServing();

/** The raw bytes (latin1) of one answer to `GET /` over a fresh connection. */
async function rawAnswer(handler: FetchHandler): Promise<string> {
  const server = await start(handler);
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
  // The date changes from one answer to the next.
  return raw.replace(/\r\ndate: [^\r]*/i, '');
}

describe('who is handed a prepared response', () => {
  const responder = createResponder({ fieldKey: FIELD_KEY, machines: { 'edge-01': 'm:1' } });
  const pubkey = (): Request => new Request('https://edge.test/api/keyex/edge-01/pubkey');

  test('a caller of responder.fetch gets a native Response, answers and refusals alike', async () => {
    for (const request of [pubkey(), new Request('https://edge.test/nowhere')]) {
      const response = await responder.fetch(request);
      expect(Object.getPrototypeOf(response) === Response.prototype).toBe(true);
      expect(preparedAnswerOf(response)).toBeUndefined();
    }
  });

  test('an adapter that asked for them gets the answer to write as it is', async () => {
    const request = pubkey();
    allowPreparedAnswers(request);
    const response = await responder.fetch(request);
    expect(Object.getPrototypeOf(response) === Response.prototype).toBe(false);
    expect(preparedAnswerOf(response)?.status).toBe(200);
    expect(JSON.parse(preparedAnswerOf(response)?.body ?? '')).toMatchObject({
      alg: 'ML-KEM-768',
      machine_id: 'm:1',
    });
  });
});

describe('a prepared response', () => {
  test('is a Response: status, ok, headers, body, clone', async () => {
    const response = jsonResponse(201, { a: 'é' }, { 'Retry-After': ' 5 ' });
    expect(response).toBeInstanceOf(Response);
    expect(Object.prototype.toString.call(response)).toBe('[object Response]');
    expect(response.status).toBe(201);
    expect(response.ok).toBe(true);
    expect(response.statusText).toBe('');
    const copy = response.clone();
    expect([...response.headers]).toEqual([
      ['cache-control', 'no-store'],
      ['content-type', 'application/json'],
      ['retry-after', '5'],
      ['x-content-type-options', 'nosniff'],
    ]);
    expect(await response.json()).toEqual({ a: 'é' });
    expect(response.bodyUsed).toBe(true);
    expect(await copy.text()).toBe('{"a":"é"}');
    expect(jsonResponse(409, {}).ok).toBe(false);
  });

  test('keeps its answer for an adapter until something makes the real response', () => {
    const response = errorResponse('rate_limited', { 'retry-after': '3' });
    const answer = preparedAnswerOf(response);
    expect(answer?.status).toBe(429);
    expect(answer?.headers).toEqual([
      'cache-control',
      'no-store',
      'content-type',
      'application/json',
      'retry-after',
      '3',
      'x-content-type-options',
      'nosniff',
    ]);
    expect((JSON.parse(answer?.body ?? '') as { error?: unknown }).error).toBe('rate_limited');
    // Reading the status leaves it prepared; the headers (which can be changed) do not.
    expect(response.status).toBe(429);
    expect(preparedAnswerOf(response)).toBe(answer);
    response.headers.set('vary', 'origin');
    expect(preparedAnswerOf(response)).toBeUndefined();
    expect(response.headers.get('vary')).toBe('origin');
    expect(response.headers.get('retry-after')).toBe('3');
    expect(preparedAnswerOf(new Response('{}'))).toBeUndefined();
  });

  test('a body read first makes the real response too', async () => {
    const response = preparedResponse({ status: 200, headers: headerPairs({}), body: '{}' });
    expect(await response.text()).toBe('{}');
    expect(preparedAnswerOf(response)).toBeUndefined();
    await expect(response.text()).rejects.toThrow(TypeError);
  });

  test('header pairs: names lowercased and sorted, values trimmed, a name given twice joined', () => {
    expect(headerPairs({ 'X-B': ' 1\t', a: '2', x_c: '3', 'x-b': '4' })).toEqual([
      'a',
      '2',
      'x-b',
      '1, 4',
      'x_c',
      '3',
    ]);
    const record = { 'X-B': '1', 'x-b': '4', a: '2' };
    expect([...new Headers(record)].flat()).toEqual(headerPairs(record));
  });

  test('goes out through serve as the same bytes as an ordinary Response', async () => {
    const make = (): Response => errorResponse('method_not_allowed', { allow: 'GET, OPTIONS' });
    const prepared = await rawAnswer(async () => make());
    const ordinary = await rawAnswer(async () => {
      const response = make();
      return new Response(await response.text(), response);
    });
    expect(prepared).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    expect(prepared.toLowerCase()).toContain('transfer-encoding: chunked');
    expect(prepared).toBe(ordinary);
    // A prepared response made real before it was written goes out the ordinary way, the same.
    const madeReal = await rawAnswer(async () => {
      const response = make();
      response.headers.get('allow');
      return response;
    });
    expect(madeReal).toBe(ordinary);
  });
});
