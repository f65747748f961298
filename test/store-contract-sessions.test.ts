/**
 * The session store and replay memory contracts (`helpers/store-contract.ts`) for every
 * implementation: memory, and Redis's on Redis and on Valkey (there is no file session store:
 * sessions are short-lived).
 */
import { createRedisReplayMemory, createRedisSessionStore } from '../src/redis.js';
import { createMemoryReplayMemory } from '../src/responder/replay-memory.js';
import { createMemorySessionStore } from '../src/responder/stores.js';
import {
  describeReplayMemoryContract,
  describeSessionStoreContract,
} from './helpers/store-contract.js';
import { FIELD_KEY } from './helpers/responder.js';
import { testPrefix, useRedis, useValkey } from './helpers/redis.js';

describeSessionStoreContract('memory', () => createMemorySessionStore());
describeReplayMemoryContract('memory', () => createMemoryReplayMemory());

const redis = useRedis();
describeSessionStoreContract('Redis', () =>
  createRedisSessionStore(redis(), { fieldKey: FIELD_KEY, keyPrefix: testPrefix() }),
);
describeReplayMemoryContract('Redis', () =>
  createRedisReplayMemory(redis(), { keyPrefix: testPrefix() }),
);

const valkey = useValkey();
describeSessionStoreContract('Valkey', () =>
  createRedisSessionStore(valkey(), { fieldKey: FIELD_KEY, keyPrefix: testPrefix() }),
);
describeReplayMemoryContract('Valkey', () =>
  createRedisReplayMemory(valkey(), { keyPrefix: testPrefix() }),
);
