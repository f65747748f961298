/**
 * The rate-limit store contract (`helpers/store-contract.ts`) for memory, and Redis's on Redis and
 * on Valkey.
 */
import { createRedisRateLimitStore } from '../src/redis.js';
import { describe, expect, test } from 'vitest';
import { createMemoryRateLimitStore } from '../src/responder.js';
import { testPrefix, useRedis, useValkey } from './helpers/redis.js';
import { describeRateLimitStoreContract } from './helpers/store-contract.js';

describeRateLimitStoreContract('memory', () => createMemoryRateLimitStore());

const redis = useRedis();
describeRateLimitStoreContract('Redis', () =>
  createRedisRateLimitStore(redis(), { keyPrefix: testPrefix() }),
);

const valkey = useValkey();
describeRateLimitStoreContract('Valkey', () =>
  createRedisRateLimitStore(valkey(), { keyPrefix: testPrefix() }),
);

describe('the memory rate-limit store', () => {
  const limit = { burst: 1, perSecond: 1 };

  test('keeps at most maxBuckets: the least recently used is forgotten first, and starts full', async () => {
    const store = createMemoryRateLimitStore({ maxBuckets: 2 });
    const at = 1_000_000;
    expect((await store.take('a', limit, at)).allowed).toBe(true);
    expect((await store.take('b', limit, at)).allowed).toBe(true);
    // a is used again (refused: empty), so b is now the least recently used.
    expect((await store.take('a', limit, at)).allowed).toBe(false);
    expect((await store.take('c', limit, at)).allowed).toBe(true);
    // b was forgotten, not a: b starts full (and, new, pushes out a, now the least recently used)...
    expect((await store.take('b', limit, at)).allowed).toBe(true);
    // ...c was kept: still empty; a, forgotten in turn, starts full.
    expect((await store.take('c', limit, at)).allowed).toBe(false);
    expect((await store.take('a', limit, at)).allowed).toBe(true);
  });

  test('refuses a bound that is not a positive integer', () => {
    expect(() => createMemoryRateLimitStore({ maxBuckets: 0 })).toThrow(RangeError);
  });
});
