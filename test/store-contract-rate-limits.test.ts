/**
 * The rate-limit store contract (`helpers/store-contract.ts`) for memory, and Redis's on Redis and
 * on Valkey.
 */
import { createRedisRateLimitStore } from '../src/redis.js';
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
