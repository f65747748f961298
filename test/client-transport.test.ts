/**
 * The initiator's transport on its own: the SDK's own hook type (checked at creation, adapted to
 * ky), the checked fields an `http_error` keeps from the error body (spec §7, §4.1), JSON answers
 * that must be objects (§2.1), and the redirect refusal of the Mode-B fetches.
 */
import { describe, expect, test } from 'vitest';
import {
  type FetchFunction,
  type TransportHooks,
  createTransport,
  refuseRedirects,
} from '../src/initiator/transport.js';
import { expectCodeAsync } from './helpers/errors.js';

const URL_ = 'https://edge.test/api/x';
const FP = 'ab'.repeat(32);
const OTHER_FP = 'cd'.repeat(32);

function answering(body: string, status = 200): FetchFunction {
  return async () =>
    new Response(body, { status, headers: { 'content-type': 'application/json' } });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('createTransport', () => {
  test('hooks that are not functions are programmer errors (TypeError)', () => {
    expect(() => createTransport({ hooks: null as unknown as TransportHooks })).toThrow(TypeError);
    expect(() =>
      createTransport({ hooks: { beforeRequest: [] } as unknown as TransportHooks }),
    ).toThrow(TypeError);
    expect(() =>
      createTransport({ hooks: { afterResponse: 'log' } as unknown as TransportHooks }),
    ).toThrow(TypeError);
  });

  test('a hook that throws fails the request as network_error', async () => {
    const transport = createTransport({
      fetch: answering('{}'),
      retry: 0,
      hooks: { beforeRequest: () => Promise.reject(new Error('no token')) },
    });
    await expectCodeAsync(transport.getJson(URL_), 'network_error');
  });

  test('afterResponse sees error statuses too', async () => {
    const seen: number[] = [];
    const transport = createTransport({
      fetch: answering('{"error":"unknown_machine"}', 404),
      retry: 0,
      hooks: { afterResponse: (_, response) => void seen.push(response.status) },
    });
    expect(await failure(transport.getJson(URL_))).toMatchObject({
      code: 'http_error',
      status: 404,
      responseCode: 'unknown_machine',
    });
    expect(seen).toEqual([404]);
  });

  test('an http_error keeps the two fingerprints of a mismatch body only when both are fingerprints', async () => {
    const body = (fields: object): string =>
      JSON.stringify({ error: 'fingerprint_mismatch', message: 'free text', ...fields });
    const both = createTransport({
      fetch: answering(body({ expected_fingerprint: FP, actual_fingerprint: OTHER_FP }), 409),
      retry: 0,
    });
    expect(await failure(both.postJson(URL_, {}))).toMatchObject({
      code: 'http_error',
      status: 409,
      expectedFingerprint: FP,
      actualFingerprint: OTHER_FP,
    });
    for (const fields of [
      { expected_fingerprint: FP },
      { expected_fingerprint: FP.toUpperCase(), actual_fingerprint: OTHER_FP },
      { expected_fingerprint: FP, actual_fingerprint: 7 },
    ]) {
      const one = createTransport({ fetch: answering(body(fields), 409), retry: 0 });
      expect(await failure(one.postJson(URL_, {}))).toMatchObject({
        code: 'http_error',
        expectedFingerprint: undefined,
        actualFingerprint: undefined,
      });
    }
  });

  const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
  test.each([
    ['an array', utf8('[]')],
    ['a string', utf8('"x"')],
    ['null', utf8('null')],
    ['not JSON', utf8('{')],
    ['malformed UTF-8', Uint8Array.of(...utf8('{"a":"'), 0xff, ...utf8('"}'))],
  ])('a JSON answer that is %s is malformed_response', async (_, bytes) => {
    const transport = createTransport({
      fetch: async () => new Response(bytes as BodyInit),
      retry: 0,
    });
    await expectCodeAsync(transport.getJson(URL_), 'malformed_response');
  });
});

describe('refuseRedirects', () => {
  test('asks every fetch not to follow redirects, keeping the other init fields', async () => {
    const inits: (RequestInit | undefined)[] = [];
    const fetch = refuseRedirects(async (_, init) => {
      inits.push(init);
      return new Response(null, { status: 307, headers: { location: 'http://elsewhere.test/' } });
    });
    const response = await fetch(new Request(URL_), { method: 'POST' });
    expect(response.status).toBe(307);
    expect(inits).toEqual([{ method: 'POST', redirect: 'manual' }]);
  });
});
