/**
 * A {@link ReplayMemory} in Redis or Valkey (spec §2.3, revision 2), shared by every instance on
 * the same Redis: a ciphertext accepted by one instance is refused by all until the session made
 * from it would have expired. Each tag is `{prefix}tag:{hex}`, written with one
 * `SET … NX PX ttl`: atomic, and forgotten by Redis itself at the session's expiry.
 *
 * Bounded by Redis' memory: with `maxmemory` and `maxmemory-policy noeviction` (docs/deploying.md),
 * a write Redis refuses for want of memory (`OOM`) is answered `full`, which the responder answers
 * `429 rate_limited` as it does for the memory replay memory; a tag is never dropped early. Under
 * an evicting policy Redis may drop tags before their expiry; that is safe by revision 2 (a replay
 * accepted then opens a session of no use to anyone) but wastes a decapsulation.
 * @module
 */
import { ZeqKeyExError } from '../core/errors.js';
import type { ReplayMemory, ReplayRememberResult } from '../responder/replay-memory.js';
import { type ReplayTag, replayIdFor } from '../responder/stores.js';
import { type RedisCommands, checkRedisOptions, command, isOutOfMemory } from './commands.js';

/** Options of {@link createRedisReplayMemory}. */
export interface RedisReplayMemoryOptions {
  /**
   * The prefix of every key written.
   * @defaultValue `'zeq-keyex:'`
   */
  keyPrefix?: string;
  /**
   * The clock, in milliseconds since the Unix epoch.
   * @defaultValue `Date.now`
   */
  now?: () => number;
}

/** How long a handshake refused because Redis is full is told to wait. */
const FULL_RETRY_MS = 1_000;

function tagName(prefix: string, replay: ReplayTag): string {
  const id = replayIdFor(replay);
  let hex = '';
  for (let i = 0; i < id.length; i++) hex += id.charCodeAt(i).toString(16).padStart(2, '0');
  return `${prefix}tag:${hex}`;
}

/**
 * Creates a replay memory in Redis.
 * @param client - a connected client.
 * @param options - the key prefix and clock.
 * @returns the replay memory.
 * @throws {TypeError} when the client, prefix or clock is malformed.
 */
export function createRedisReplayMemory(
  client: RedisCommands,
  options: RedisReplayMemoryOptions = {},
): ReplayMemory {
  const prefix = checkRedisOptions(client, options.keyPrefix);
  const now = options.now ?? Date.now;
  if (typeof now !== 'function')
    throw new TypeError('now must be a function returning milliseconds');
  return {
    async remember(replay: ReplayTag, expiresAt: number): Promise<ReplayRememberResult> {
      const name = tagName(prefix, replay);
      if (!Number.isFinite(expiresAt)) throw new TypeError('expiresAt must be a finite number');
      const at = now();
      const ttl = Math.max(1, Math.ceil(expiresAt - at));
      let reply: unknown;
      try {
        reply = await command(
          client,
          ['SET', name, '1', 'NX', 'PX', String(ttl)],
          'the replay memory failed',
        );
      } catch (error) {
        if (isOutOfMemory(error)) return { status: 'full', retryAt: at + FULL_RETRY_MS };
        throw error;
      }
      if (reply === 'OK') return { status: 'remembered' };
      if (reply === null) return { status: 'replayed' };
      throw new ZeqKeyExError('store_error', 'Redis answered SET with something else');
    },
    async forget(replay: ReplayTag): Promise<void> {
      await command(client, ['DEL', tagName(prefix, replay)], 'the replay memory failed');
    },
  };
}
