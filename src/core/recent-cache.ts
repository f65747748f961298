/**
 * A small cache of values kept per public key, for the two KEM paths that pay a per-key setup:
 * noble's expanded public keys (`core/kem.ts`) and `node:crypto`'s imported ones
 * (`backends/platform.node.ts`). Internal: no entry exports it.
 *
 * The last `limit` keys added are kept, oldest out first (a hit does not move a key). A key is
 * found by its bytes; the cache keeps its own copy of them, so a caller that changes its buffer
 * afterwards has made another key.
 *
 * Caveat: for public data only. Keys are compared with an early exit, which is not constant time;
 * never put a secret key in it.
 * @module
 */

/** Values kept per public key, newest first. */
export interface RecentCache<V> {
  /**
   * The value kept for `publicKey`, or else `make()`'s, which is then kept (for a copy of the
   * bytes); beyond the limit the oldest entry is let go of. When `make` throws, nothing is kept.
   * @param publicKey - the key's bytes.
   * @param make - makes the value of a key not kept.
   * @returns the value.
   */
  obtain(publicKey: Uint8Array, make: () => V): V;
  /**
   * Whether a value is kept for `publicKey` (for tests).
   * @param publicKey - the key's bytes.
   * @returns whether it is kept.
   */
  has(publicKey: Uint8Array): boolean;
}

/** Whether two byte strings are equal; exits at the first difference (public data only). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Creates a cache of the last `limit` public keys added.
 * @param limit - how many keys to keep (a positive integer).
 * @param letGo - called with the value of a key that falls out, to release it.
 * @returns the cache.
 * @throws {RangeError} when `limit` is not a positive integer.
 */
export function createRecentCache<V>(limit: number, letGo?: (value: V) => void): RecentCache<V> {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError('limit must be a positive integer');
  const entries: { readonly publicKey: Uint8Array; readonly value: V }[] = [];
  const find = (publicKey: Uint8Array) =>
    entries.find((entry) => sameBytes(entry.publicKey, publicKey));
  return {
    obtain(publicKey, make) {
      const kept = find(publicKey);
      if (kept !== undefined) return kept.value;
      const value = make();
      if (entries.unshift({ publicKey: Uint8Array.from(publicKey), value }) > limit) {
        letGo?.((entries.pop() as { readonly value: V }).value);
      }
      return value;
    },
    has: (publicKey) => find(publicKey) !== undefined,
  };
}
