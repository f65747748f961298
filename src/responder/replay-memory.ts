/**
 * The responder's replay memory (spec §2.3, revision 2): the replay tags of accepted handshakes,
 * each kept until the session it came from would have expired, whatever becomes of that session
 * (eviction, deletion). Separate from the session store so that evicting or deleting a session
 * never shortens it; bounded, and when it cannot remember one more tag, new handshakes are refused
 * (`429 rate_limited`) rather than a tag forgotten.
 *
 * Security caveat: a tag is a hash of the key's fingerprint and of the ciphertext's hash — public
 * data, no secret. A replay that a responder which lost this memory accepts opens a session whose
 * traffic keys are bound to its new session id (spec §3), so it is of no use to anyone.
 * @module
 */
import { assertPositiveInteger } from '../core/limits.js';
import { OrderedMap } from './ordered-map.js';
import { type ReplayTag, replayIdFor } from './stores.js';

/** The outcome of {@link ReplayMemory.remember}. */
export type ReplayRememberResult =
  | {
      /** The tag is new and is now remembered until its expiry. */
      readonly status: 'remembered';
    }
  | {
      /** The tag is already remembered: the ciphertext was accepted before. */
      readonly status: 'replayed';
    }
  | {
      /** Nothing was remembered: the memory is full. */
      readonly status: 'full';
      /** When the oldest tag expires and there is room again, in ms since the Unix epoch. */
      readonly retryAt: number;
    };

/**
 * The replay tags of accepted handshakes, each kept until the session it came from would have
 * expired, whatever becomes of that session (spec §2.3, revision 2). Separate from the
 * {@link SessionStore} so that evicting or deleting a session never shortens it.
 * Implementations must make {@link ReplayMemory.remember} atomic, and must answer `'full'` rather
 * than forget a tag before its expiry.
 */
export interface ReplayMemory {
  /**
   * Remembers a tag until `expiresAt`, unless it is already remembered, atomically.
   * @param replay - the key pair's fingerprint and the SHA-256 of the ciphertext.
   * @param expiresAt - when the session made from it expires, in ms since the Unix epoch.
   * @returns `remembered`; `replayed` when the tag is already remembered; `full` when it cannot
   *   remember one more tag before `retryAt`. Nothing changes unless `remembered`.
   */
  remember(replay: ReplayTag, expiresAt: number): Promise<ReplayRememberResult>;
  /**
   * Forgets a tag remembered by a handshake that then failed (no session was made from it).
   * @param replay - the tag.
   */
  forget(replay: ReplayTag): Promise<void>;
}

/** Options of {@link createMemoryReplayMemory}. */
export interface MemoryReplayMemoryOptions {
  /**
   * The most tags remembered at once. At about 140 bytes a tag, the default holds 14 MB and
   * supports a sustained 10,000 handshakes a minute with ten-minute sessions (`maxTags` divided by
   * the session lifetime in minutes); beyond that, handshakes are refused (`429`) until the oldest
   * tag expires.
   * @defaultValue 100_000
   */
  maxTags?: number;
  /**
   * The clock, in milliseconds since the Unix epoch.
   * @defaultValue `Date.now`
   */
  now?: () => number;
}

/** Default bound of the memory replay memory: 100,000 tags (about 14 MB). */
export const DEFAULT_MAX_REPLAY_TAGS = 100_000;

/**
 * A replay memory in process memory, bounded by `maxTags`. Each tag is one 32-character string
 * (SHA-256 of the fingerprint and the ciphertext hash, a byte per character) mapped to its expiry
 * in whole seconds (rounded up, so never early) from the memory's creation: about 140 bytes a tag
 * in V8. Tags are kept in insertion order, which is expiry order while every session has the same
 * lifetime, so expired tags are swept from the oldest end in amortised constant time; a tag out of
 * order is only kept longer, never dropped early.
 * @param options - bound and clock.
 * @returns an empty replay memory.
 * @throws {RangeError} when `maxTags` is not a positive integer.
 * @throws {TypeError} when `now` is not a function.
 */
export function createMemoryReplayMemory(options: MemoryReplayMemoryOptions = {}): ReplayMemory {
  const maxTags = assertPositiveInteger(options.maxTags ?? DEFAULT_MAX_REPLAY_TAGS, 'maxTags');
  const now = options.now ?? Date.now;
  if (typeof now !== 'function')
    throw new TypeError('now must be a function returning milliseconds');
  const origin = now();
  /**
   * The tags by replay id, oldest first, each with its expiry in seconds after `origin` (a small
   * integer: V8 stores it unboxed). An `OrderedMap`, not a `Map`: the sweep looks at the oldest tag
   * on every handshake, and finding a `Map`'s first entry walks every slot deleted since its last
   * rehash — up to the whole bound, once tags expire (`ordered-map.ts`).
   */
  const tags = new OrderedMap<string, { readonly id: string; readonly expires: number }>(
    (tag) => tag.id,
  );

  const toSeconds = (ms: number): number => Math.ceil((ms - origin) / 1_000);
  const toMs = (seconds: number): number => origin + seconds * 1_000;

  function purge(at: number): void {
    for (let oldest = tags.oldest(); oldest !== undefined; oldest = tags.oldest()) {
      if (toMs(oldest.expires) > at) break;
      tags.delete(oldest.id);
    }
  }

  return {
    remember(replay: ReplayTag, expiresAt: number): Promise<ReplayRememberResult> {
      try {
        const replayId = replayIdFor(replay);
        if (!Number.isFinite(expiresAt)) throw new TypeError('expiresAt must be a finite number');
        const at = now();
        purge(at);
        const known = tags.get(replayId);
        if (known !== undefined && toMs(known.expires) > at)
          return Promise.resolve({ status: 'replayed' });
        if (tags.size >= maxTags) {
          const oldest = tags.oldest()?.expires ?? 0;
          return Promise.resolve({ status: 'full', retryAt: toMs(oldest) });
        }
        tags.add({ id: replayId, expires: toSeconds(expiresAt) });
        return Promise.resolve({ status: 'remembered' });
      } catch (error) {
        return Promise.reject(error);
      }
    },
    forget(replay: ReplayTag): Promise<void> {
      try {
        tags.delete(replayIdFor(replay));
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}
