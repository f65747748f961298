/**
 * Per-client rate limits shared by responders on one Redis (issue #15): a client gets its limit
 * once across every instance, the n+1th request across them is `429` with `Retry-After`; when the
 * store fails, clients are limited by each instance's own buckets (never unlimited, never a
 * `500`) and the log says so once, and again once when it answers.
 */
import { describe, expect, test } from 'vitest';
import { createRedisStores } from '../src/redis.js';
import { type RateLimitStore, type Responder, createResponder } from '../src/responder.js';
import { testPrefix, useRedis } from './helpers/redis.js';
import {
  FIELD_KEY,
  type RecordingLogger,
  expectError,
  fetchKeyDoc,
  jsonRequest,
  recordingLogger,
} from './helpers/responder.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };
const redis = useRedis();

/** A handshake request that fails after admission (a ciphertext of no key), from `client`. */
function handshakeFrom(client: string, fingerprint: string): Request {
  return jsonRequest(
    '/api/keyex/edge-01/handshake',
    { cipher_text: Buffer.alloc(1088, 7).toString('base64'), fingerprint },
    { headers: { 'content-type': 'application/json', 'x-client': client } },
  );
}

function instance(
  prefix: string,
  rateLimitStore?: RateLimitStore,
  logger?: RecordingLogger,
): Responder {
  const stores = createRedisStores({ client: redis(), fieldKey: FIELD_KEY, keyPrefix: prefix });
  return createResponder({
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    keyStore: stores.keyStore,
    sessionStore: stores.sessionStore,
    replayMemory: stores.replayMemory,
    rateLimitStore: rateLimitStore ?? stores.rateLimitStore,
    clientId: (request) => request.headers.get('x-client') ?? undefined,
    rateLimits: { handshake: { burst: 4, perSecond: 0.01 } },
    storeTimeoutMs: 1_000,
    ...(logger === undefined ? {} : { logger }),
  });
}

describe('rate limits shared through Redis', () => {
  test('two instances, one client: the limit holds across both, then 429 with Retry-After', async () => {
    const prefix = testPrefix();
    const [a, b] = [instance(prefix), instance(prefix)];
    const { fingerprint } = await fetchKeyDoc(a.fetch, 'edge-01');
    for (let i = 0; i < 4; i++) {
      const response = await (i % 2 === 0 ? a : b).fetch(handshakeFrom('client-1', fingerprint));
      expect(response.status).not.toBe(429);
    }
    for (const through of [a, b]) {
      const refused = await through.fetch(handshakeFrom('client-1', fingerprint));
      await expectError(refused, 429, 'rate_limited');
      // One token every 100 s at 0.01/s.
      expect(Number(refused.headers.get('retry-after'))).toBe(100);
    }
    // Another client is not limited by the first one's bucket.
    expect((await b.fetch(handshakeFrom('client-2', fingerprint))).status).not.toBe(429);
    a.close();
    b.close();
  });

  test('a failing store: limits per instance, one error line, one line when it answers again', async () => {
    const prefix = testPrefix();
    const shared = createRedisStores({ client: redis(), fieldKey: FIELD_KEY, keyPrefix: prefix });
    let down = true;
    const flaky: RateLimitStore = {
      take: (bucket, limit, at) =>
        down
          ? Promise.reject(new Error('connection refused'))
          : shared.rateLimitStore.take(bucket, limit, at),
    };
    const logger = recordingLogger();
    const responder = instance(prefix, flaky, logger);
    const { fingerprint } = await fetchKeyDoc(responder.fetch, 'edge-01');
    for (let i = 0; i < 4; i++)
      expect((await responder.fetch(handshakeFrom('c', fingerprint))).status).not.toBe(429);
    await expectError(await responder.fetch(handshakeFrom('c', fingerprint)), 429, 'rate_limited');
    const errors = logger.lines.filter((line) => line.fields?.['code'] === 'store_error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.level).toBe('error');
    down = false;
    // The shared bucket of `c` is full: the store's count applies again.
    expect((await responder.fetch(handshakeFrom('c', fingerprint))).status).not.toBe(429);
    expect(
      logger.lines.filter((line) => line.fields?.['code'] === 'rate_limits_shared'),
    ).toHaveLength(1);
    expect(logger.lines.filter((line) => line.fields?.['code'] === 'store_error')).toHaveLength(1);
    responder.close();
  });

  test('a rate-limit store without take is refused when the responder is created', () => {
    expect(() =>
      createResponder({
        fieldKey: FIELD_KEY,
        machines: MACHINES,
        rateLimitStore: {} as RateLimitStore,
      }),
    ).toThrow(TypeError);
  });
});
