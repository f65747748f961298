/**
 * A {@link RateLimitStore} in Redis or Valkey: per-client token buckets shared by every instance
 * on the same Redis, each take one Lua script (one round trip, atomic). A bucket is a hash
 * `{prefix}rate:{hex}` (`hex` = SHA-256 of the bucket's name, so a client id of any length costs
 * the same; not an anonymisation, addresses being few enough to be guessed) with its tokens and when they were counted, and
 * it expires when it would have refilled to full: an idle client costs nothing.
 *
 * Caveats: the clock is the calling instance's (as in the record state's scripts). Under
 * `maxmemory-policy noeviction` a full Redis refuses the write (`OOM`): the responder then limits
 * clients with its own buckets (`shared-rate-limits.ts`); an evicting policy may drop a bucket,
 * which gives that client a full bucket again.
 * @module
 */
import { ZeqKeyExError } from '../core/errors.js';
import { sha256 } from '../core/primitives.js';
import type { TokenBucketLimit } from '../responder/admission.js';
import type { RateLimitStore, RateLimitTake } from '../responder/rate-limit-store.js';
import { type RedisCommands, checkRedisOptions, command } from './commands.js';

/** Options of {@link createRedisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  /**
   * The prefix of every key written.
   * @defaultValue `'zeq-keyex:'`
   */
  keyPrefix?: string;
}

// KEYS[1] the bucket; ARGV: burst, tokens per millisecond, at (ms).
// Answers {1, 0} when a token was taken, {0, ms until one is there} otherwise.
const TAKE_SCRIPT = `
local burst, rate, at = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'a')
local tokens, last = tonumber(state[1]), tonumber(state[2])
if tokens == nil or last == nil then tokens, last = burst, at end
if at > last then tokens = math.min(burst, tokens + (at - last) * rate) end
if at > last then last = at end
local allowed = 0
if tokens >= 1 then tokens, allowed = tokens - 1, 1 end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'a', string.format('%d', last))
redis.call('PEXPIRE', KEYS[1], string.format('%d', math.max(1, math.ceil((burst - tokens) / rate))))
if allowed == 1 then return {1, 0} end
return {0, math.ceil((1 - tokens) / rate)}`;

const encoder = new TextEncoder();

/** The bucket's key: SHA-256 of its name, in hex. */
function bucketKey(prefix: string, bucket: string): string {
  let hex = '';
  for (const byte of sha256(encoder.encode(bucket))) hex += byte.toString(16).padStart(2, '0');
  return `${prefix}rate:${hex}`;
}

/**
 * Creates token buckets in Redis.
 * @param client - a connected client (`createRedisConnection`, or node-redis' `createClient()`).
 * @param options - the key prefix.
 * @returns the store.
 * @throws {TypeError} when the client or the prefix is malformed.
 * @example
 * ```ts
 * const redis = createRedisConnection(process.env.ZEQ_REDIS_URL!);
 * const responder = createResponder({ fieldKey, machines, rateLimitStore: createRedisRateLimitStore(redis) });
 * ```
 */
export function createRedisRateLimitStore(
  client: RedisCommands,
  options: RedisRateLimitStoreOptions = {},
): RateLimitStore {
  const prefix = checkRedisOptions(client, options.keyPrefix);
  return {
    async take(bucket: string, limit: TokenBucketLimit, at: number): Promise<RateLimitTake> {
      if (typeof bucket !== 'string') throw new TypeError('a bucket is named by a string');
      if (!Number.isFinite(at)) throw new TypeError('at must be a finite number');
      const name = bucketKey(prefix, bucket);
      const reply = await command(
        client,
        [
          'EVAL',
          TAKE_SCRIPT,
          '1',
          name,
          String(limit.burst),
          String(limit.perSecond / 1_000),
          String(Math.floor(at)),
        ],
        'the rate-limit store failed',
      );
      if (!Array.isArray(reply) || typeof reply[0] !== 'number' || typeof reply[1] !== 'number')
        throw new ZeqKeyExError(
          'store_error',
          'Redis answered the rate-limit script with something else',
        );
      return reply[0] === 1
        ? { allowed: true, retryAfterMs: 0 }
        : { allowed: false, retryAfterMs: Math.max(1, reply[1]) };
    },
  };
}
