/**
 * `zeq-keyex/redis`: the responder's stores in Redis or Valkey, so that many responder processes
 * act as one (machine keys generated once across instances; sessions, replay tags, Mode-B seeds and
 * the record state of sessions and per-client rate limits shared). Secrets are stored only sealed under the field key. Needs the `redis` package
 * (node-redis, an optional peer dependency); see docs/deploying.md.
 * @module
 */
export {
  type RedisConnection,
  type RedisConnectionOptions,
  createRedisConnection,
} from './redis/connection.js';
export { DEFAULT_REDIS_KEY_PREFIX, type RedisCommands } from './redis/commands.js';
export { type RedisStores, type RedisStoresOptions, createRedisStores } from './redis/stores.js';
export {
  type RedisKeyStore,
  type RedisKeyStoreOptions,
  createRedisKeyStore,
} from './redis/key-store.js';
export {
  DEFAULT_EXPIRED_GRACE_MS,
  type RedisSessionStore,
  type RedisSessionStoreOptions,
  createRedisSessionStore,
} from './redis/session-store.js';
export { type RedisReplayMemoryOptions, createRedisReplayMemory } from './redis/replay-memory.js';
export { type RedisSeedStoreOptions, createRedisSeedStore } from './redis/seed-store.js';
export { type RedisRecordStateOptions, createRedisRecordState } from './redis/record-state.js';
export {
  type RedisRateLimitStoreOptions,
  createRedisRateLimitStore,
} from './redis/rate-limit-store.js';
export type { RateLimitStore, RateLimitTake } from './responder/rate-limit-store.js';
export type { TokenBucketLimit } from './responder/admission.js';
export type {
  SharedAdmission,
  SharedAllocation,
  SharedRecordState,
} from './responder/shared-records.js';
export type {
  KeyStore,
  ReplayTag,
  RetiredKey,
  SessionCreateResult,
  SessionStore,
  StoredKey,
  StoredSession,
} from './responder/stores.js';
export type { ReplayMemory, ReplayRememberResult } from './responder/replay-memory.js';
export type { IdentityStore, StoredIdentity } from './responder/identity-store.js';
export type { SeedStore, StoredSeed } from './responder/seed-store.js';
export type { Role } from './core/constants.js';
