/**
 * The responder's building blocks on their own: the machine lookup and its two mappings (wire and
 * API), the router's URL and base-path handling, the refusal responses, the body reader's codes,
 * the public random pool, the session-id encoding, and the option resolution.
 */
import { describe, expect, test } from 'vitest';
import { deriveSealKey } from '../src/core/sealing.js';
import { HttpError, errorResponse, readBody, refusalResponse } from '../src/responder/http.js';
import { machineForCaller, machineForRequest, parseMachines } from '../src/responder/machines.js';
import { resolveResponderOptions } from '../src/responder/config.js';
import {
  SESSION_ID_BYTES,
  createPublicRandom,
  encodeSessionId,
} from '../src/responder/public-random.js';
import { type Route, createRouter } from '../src/responder/router.js';
import { expectCodeAsync } from './helpers/errors.js';
import { FIELD_KEY } from './helpers/responder.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };

async function httpCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HttpError) return error.code;
    throw error;
  }
  return 'no error';
}

describe('machine lookup', () => {
  test('a table: the machine id, or why there is none', async () => {
    const lookup = parseMachines(MACHINES);
    expect(await lookup('edge-01')).toEqual({ machineId: 'machine:edge-01' });
    expect(await lookup('nobody')).toEqual({ refusal: 'unknown_machine' });
    expect(await lookup('constructor')).toEqual({ refusal: 'unknown_machine' });
    expect(await lookup('-bad')).toEqual({ refusal: 'invalid_slug' });
  });

  test('a resolver is asked only for well-formed slugs; null is no machine; a malformed answer is a fault', async () => {
    const asked: string[] = [];
    const lookup = parseMachines((slug: string) => {
      asked.push(slug);
      return slug === 'bad-answer'
        ? 'not a machine id'
        : slug === 'edge-01'
          ? 'machine:edge-01'
          : (null as unknown as undefined);
    });
    expect(await lookup('edge-01')).toEqual({ machineId: 'machine:edge-01' });
    expect(await lookup('other')).toEqual({ refusal: 'unknown_machine' });
    expect(await lookup('a b')).toEqual({ refusal: 'invalid_slug' });
    await expectCodeAsync(lookup('bad-answer'), 'invalid_identifier');
    expect(asked).toEqual(['edge-01', 'other', 'bad-answer']);
  });

  test('malformed machines options are TypeErrors', () => {
    for (const bad of [null, 7, ['a'], { '-bad': 'm' }, { good: 'bad id' }, { good: 7 }]) {
      expect(() => parseMachines(bad)).toThrow(TypeError);
    }
  });

  test('routes get wire codes, API callers SDK codes, from the same lookup', async () => {
    const lookup = parseMachines(MACHINES);
    const forRequest = machineForRequest(lookup);
    expect(await forRequest('edge-01')).toBe('machine:edge-01');
    expect(await httpCode(forRequest('-bad'))).toBe('invalid_slug');
    expect(await httpCode(forRequest('nobody'))).toBe('unknown_machine');
    expect(await machineForCaller(lookup, 'edge-01')).toBe('machine:edge-01');
    await expectCodeAsync(machineForCaller(lookup, '-bad'), 'invalid_identifier');
    await expectCodeAsync(machineForCaller(lookup, 'nobody'), 'unknown_machine');
  });
});

describe('router', () => {
  const handler = (): Promise<Response> => Promise.resolve(new Response());
  const routes: Route<unknown>[] = [
    { pattern: '/api/keyex/:slug/pubkey', methods: { GET: handler } },
    { pattern: '/api/keyex/:slug/handshake', methods: { POST: handler, PUT: handler } },
  ];

  test('matches the path of a URL, without query or fragment, with raw parameters', () => {
    const router = createRouter(routes);
    const match = router.match('https://user@edge.example:8443/api/keyex/edge%2001/pubkey?x=/y#/z');
    expect(match?.route.pattern).toBe('/api/keyex/:slug/pubkey');
    expect(match?.params.get('slug')).toBe('edge%2001');
    expect(router.match('http://edge.example/api/keyex/e/handshake#frag')?.allow).toBe('POST, PUT');
    expect(router.match('http://edge.example')).toBeUndefined();
    expect(router.match('http://edge.example/api/keyex/e/pubkey/')).toBeUndefined();
  });

  test('under a base path, only paths below it match', () => {
    const router = createRouter(routes, '/zeq');
    expect(router.match('https://edge.example/zeq/api/keyex/e/pubkey')?.params.get('slug')).toBe(
      'e',
    );
    expect(router.match('https://edge.example/api/keyex/e/pubkey')).toBeUndefined();
    expect(router.match('https://edge.example/zeqx/api/keyex/e/pubkey')).toBeUndefined();
    expect(router.match('https://edge.example/zeq')).toBeUndefined();
  });

  test('other schemes are parsed', () => {
    expect(createRouter(routes).match('app://local/api/keyex/e/pubkey')?.params.get('slug')).toBe(
      'e',
    );
  });

  test('a pattern not starting with "/" is a TypeError', () => {
    expect(() => createRouter([{ pattern: 'api', methods: {} }])).toThrow(TypeError);
  });
});

describe('refusals', () => {
  test("a refusal's response is its code's status and message, with its headers", async () => {
    const response = refusalResponse(new HttpError('method_not_allowed', { allow: 'GET' }));
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
    expect(await response.json()).toEqual({
      error: 'method_not_allowed',
      message: 'method not allowed on this route',
    });
    const internal = errorResponse('internal');
    expect([internal.status, await internal.text()]).toEqual([
      500,
      '{"error":"internal","message":"internal error"}',
    ]);
  });

  test('the unknown route is 404 not_found, from the table like every other refusal', async () => {
    const error = new HttpError('not_found');
    expect([error.code, error.status]).toEqual(['not_found', 404]);
    expect(await refusalResponse(error).text()).toBe(
      '{"error":"not_found","message":"no such route"}',
    );
    expect(new HttpError('invalid_request').status).toBe(400);
  });
});

describe('readBody', () => {
  const post = (
    body: BodyInit | ReadableStream<Uint8Array>,
    headers: Record<string, string> = {},
  ): Request =>
    new Request('https://responder.test/', {
      method: 'POST',
      body,
      headers,
      duplex: 'half',
    } as RequestInit);

  test('reads up to the limit; above it, declared or read, is payload_too_large', async () => {
    expect(await readBody(post('12345'), 5)).toEqual(new TextEncoder().encode('12345'));
    expect(await httpCode(readBody(post('123456'), 5))).toBe('payload_too_large');
    expect(await httpCode(readBody(post('1', { 'content-length': '6' }), 5))).toBe(
      'payload_too_large',
    );
    expect(await readBody(new Request('https://responder.test/'), 5)).toEqual(new Uint8Array(0));
  });

  test('a malformed content-length or a failing stream is invalid_request', async () => {
    expect(await httpCode(readBody(post('1', { 'content-length': '1x' }), 5))).toBe(
      'invalid_request',
    );
    const failing = new ReadableStream<Uint8Array>({
      pull(controller): void {
        controller.error(new Error('reset'));
      },
    });
    expect(await httpCode(readBody(post(failing), 5))).toBe('invalid_request');
  });
});

describe('public random bytes and session ids', () => {
  test('session ids are base64url without padding', () => {
    for (const bytes of [
      new Uint8Array(16),
      new Uint8Array(16).fill(0xff),
      Uint8Array.from({ length: 16 }, (_, i) => i * 17),
    ]) {
      expect(encodeSessionId(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
    }
  });

  test('the pool never gives the same bytes twice, across refills', () => {
    const random = createPublicRandom();
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const bytes = random(SESSION_ID_BYTES);
      expect(bytes).toHaveLength(SESSION_ID_BYTES);
      seen.add(Buffer.from(bytes).toString('hex'));
    }
    expect(seen.size).toBe(200);
  });
});

describe('resolveResponderOptions', () => {
  test('derives the seal key from a copy of the field key, leaving the caller’s bytes alone', () => {
    const fieldKey = Uint8Array.from(Buffer.from(FIELD_KEY, 'hex'));
    const config = resolveResponderOptions({ fieldKey, machines: MACHINES });
    expect(config.sealKey).toEqual(deriveSealKey(Uint8Array.from(Buffer.from(FIELD_KEY, 'hex'))));
    expect(Buffer.from(fieldKey).toString('hex')).toBe(FIELD_KEY);
  });

  test('fills in the defaults', () => {
    const config = resolveResponderOptions({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      basePath: '/zeq/',
    });
    expect([config.basePath, config.sessionTtlMs, config.maxSessions, config.records]).toEqual([
      '/zeq',
      600_000,
      10_000,
      undefined,
    ]);
  });
});
