/**
 * Every store a responder needs, in one Redis or Valkey: machine keys, sessions, replay tags,
 * Mode-B seeds, the record state of sessions and per-client rate limits under one key prefix, so that any number of
 * responder instances given the same Redis, prefix and field key act as one responder
 * (docs/deploying.md says what they share and what that costs).
 * @module
 */
import type { ReplayMemory } from '../responder/replay-memory.js';
import type { SeedStore } from '../responder/seed-store.js';
import type { SharedRecordState } from '../responder/shared-records.js';
import type { RateLimitStore } from '../responder/rate-limit-store.js';
import type { RedisCommands } from './commands.js';
import { createRedisRateLimitStore } from './rate-limit-store.js';
import { type RedisKeyStore, createRedisKeyStore } from './key-store.js';
import { createRedisRecordState } from './record-state.js';
import { createRedisReplayMemory } from './replay-memory.js';
import { createRedisSeedStore } from './seed-store.js';
import { type RedisSessionStore, createRedisSessionStore } from './session-store.js';

/** Options of {@link createRedisStores}. */
export interface RedisStoresOptions {
  /** A connected client (`createRedisConnection`, or node-redis' `createClient()`). */
  client: RedisCommands;
  /** The deployment's field key (spec §5): 64 hex characters or 32 bytes (copied). */
  fieldKey: string | Uint8Array;
  /**
   * The prefix of every key written; instances share state exactly when they share it.
   * @defaultValue `'zeq-keyex:'`
   */
  keyPrefix?: string;
  /**
   * The clock, in milliseconds since the Unix epoch.
   * @defaultValue `Date.now`
   */
  now?: () => number;
}

/** The stores of {@link createRedisStores}, to pass to `createResponder`. */
export interface RedisStores {
  /** Machine keys (`{prefix}key:{slug}`), sealed, never expiring. */
  readonly keyStore: RedisKeyStore;
  /** Sessions (`{prefix}session:{id}`), record keys sealed, expiring with the session. */
  readonly sessionStore: RedisSessionStore;
  /** Replay tags of accepted handshakes (`{prefix}tag:{hex}`), expiring with their session. */
  readonly replayMemory: ReplayMemory;
  /** Mode-B seeds (`{prefix}seed:{hex}`), sealed, never expiring. */
  readonly seedStore: SeedStore;
  /** Record state of sessions (`{prefix}records:{id}`), no key in it, expiring with the session. */
  readonly recordState: SharedRecordState;
  /** Per-client token buckets (`{prefix}rate:{hex}`), expiring once full again. */
  readonly rateLimitStore: RateLimitStore;
  /** Wipes the session store's keys (the connection is the caller's to close). */
  close(): void;
}

/**
 * Creates a key store, session store, replay memory and seed store on one Redis.
 * @param options - client, field key, prefix and clock.
 * @returns the stores.
 * @throws {TypeError} for a malformed client, prefix or clock; {ZeqKeyExError} `invalid_field_key`.
 * @example
 * ```ts
 * const redis = createRedisConnection(process.env.ZEQ_REDIS_URL!);
 * const stores = createRedisStores({ client: redis, fieldKey: process.env.ZEQ_FIELD_KEY! });
 * const { keyStore, sessionStore, replayMemory, seedStore, recordState, rateLimitStore } = stores;
 * const responder = createResponder({
 *   fieldKey, machines, keyStore, sessionStore, replayMemory, seedStore, recordState, rateLimitStore,
 * });
 * ```
 */
export function createRedisStores(options: RedisStoresOptions): RedisStores {
  const { client, keyPrefix, now } = options;
  const common = keyPrefix === undefined ? {} : { keyPrefix };
  const clock = now === undefined ? {} : { now };
  const sessionStore = createRedisSessionStore(client, {
    fieldKey: options.fieldKey,
    ...common,
    ...clock,
  });
  return {
    keyStore: createRedisKeyStore(client, common),
    sessionStore,
    replayMemory: createRedisReplayMemory(client, { ...common, ...clock }),
    seedStore: createRedisSeedStore(client, common),
    recordState: createRedisRecordState(client, common),
    rateLimitStore: createRedisRateLimitStore(client, common),
    close: () => sessionStore.close(),
  };
}
