/**
 * Per-client token buckets kept in a store that several responder instances share, so that N
 * instances behind one load balancer give a client its limit once, not N times: the
 * {@link RateLimitStore} interface (one atomic "take a token" per admission) and its memory
 * implementation (what the contract suite runs beside Redis; one process gains nothing from it
 * over the responder's own buckets in `admission.ts`, which stay the default).
 *
 * The operation is an atomic token-bucket take rather than a counter in a fixed window: it keeps
 * the `burst`/`perSecond` meaning of `rateLimits` exactly (a fixed window lets a client send
 * twice its burst across a window boundary), and it is one round trip either way.
 *
 * Caveats: the clock is the caller's (`at`); instances whose clocks disagree refill a bucket by
 * their difference at most once, and a clock that goes back refills nothing. A bucket that has
 * refilled to full is the same as no bucket, so a store may forget it then (Redis lets it expire).
 * @module
 */
import { assertPositiveInteger } from '../core/limits.js';
import type { TokenBucketLimit } from './admission.js';
import { OrderedMap } from './ordered-map.js';

/** The answer of {@link RateLimitStore.take}. */
export interface RateLimitTake {
  /** Whether a token was taken (the request is admitted). */
  readonly allowed: boolean;
  /** When refused: the milliseconds until the bucket holds a token again; `0` when allowed. */
  readonly retryAfterMs: number;
}

/** Token buckets shared by instances. Implementations must make each take atomic. */
export interface RateLimitStore {
  /**
   * Refills the bucket for the time since its last use, then takes one token if it holds one.
   * A bucket never seen (or forgotten when full) starts with `limit.burst` tokens.
   * @param bucket - the bucket's name: the kind of work and the client id, e.g. `handshake:192.0.2.7`.
   * @param limit - its size and refill rate.
   * @param at - now, in milliseconds since the Unix epoch.
   * @returns whether a token was taken and, if not, how long until one is there.
   */
  take(bucket: string, limit: TokenBucketLimit, at: number): Promise<RateLimitTake>;
}

/** A bucket's tokens and when they were counted. */
interface Bucket {
  /** The bucket's name: the key it is found by. */
  readonly name: string;
  tokens: number;
  at: number;
}

/**
 * The one token-bucket step, shared by the memory store (the Redis store runs the same in Lua).
 * @param bucket - the bucket, changed in place.
 * @param limit - its size and refill rate.
 * @param at - now, in milliseconds.
 * @returns the take's answer.
 */
function takeFrom(bucket: Bucket, limit: TokenBucketLimit, at: number): RateLimitTake {
  // A clock that went back refills nothing.
  const elapsedSeconds = Math.max(0, at - bucket.at) / 1_000;
  bucket.tokens = Math.min(limit.burst, bucket.tokens + elapsedSeconds * limit.perSecond);
  bucket.at = Math.max(bucket.at, at);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return { allowed: true, retryAfterMs: 0 };
  }
  return {
    allowed: false,
    retryAfterMs: Math.ceil(((1 - bucket.tokens) / limit.perSecond) * 1_000),
  };
}

/** Options of {@link createMemoryRateLimitStore}. */
export interface MemoryRateLimitStoreOptions {
  /**
   * The most buckets kept; the least recently used is forgotten first (and starts full again).
   * @defaultValue 10_000
   */
  maxBuckets?: number;
}

/**
 * Token buckets in process memory, bounded: for one process, tests, and as the local fallback of
 * shared rate limits when their store fails.
 * @param options - the bound.
 * @returns an empty store.
 * @throws {RangeError} when `maxBuckets` is not a positive integer.
 */
export function createMemoryRateLimitStore(
  options: MemoryRateLimitStoreOptions = {},
): RateLimitStore {
  const max = assertPositiveInteger(options.maxBuckets ?? 10_000, 'maxBuckets');
  // In order of use, the least recently used oldest: an `OrderedMap`, not a `Map`, whose first
  // entry is found by walking every slot deleted since its last rehash (`ordered-map.ts`).
  const buckets = new OrderedMap<string, Bucket>((b) => b.name);
  return {
    take(bucket: string, limit: TokenBucketLimit, at: number): Promise<RateLimitTake> {
      const known = buckets.get(bucket);
      if (known === undefined && buckets.size >= max) {
        const oldest = buckets.oldest();
        if (oldest !== undefined) buckets.delete(oldest.name);
      }
      // A new object each use: the ordered map takes each value once, as its newest.
      const state: Bucket =
        known === undefined
          ? { name: bucket, tokens: limit.burst, at }
          : { name: bucket, tokens: known.tokens, at: known.at };
      buckets.add(state);
      return Promise.resolve(takeFrom(state, limit, at));
    },
  };
}
