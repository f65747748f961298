/**
 * A lock per key, within one process: work given for a key runs after every earlier work of that
 * key has settled, and works of different keys run freely. The Mode-B endpoints hold one per
 * (local machine, peer machine_id) pair, so that a conflict check and its write are never
 * interleaved with another's (spec §4.1, `seed_conflict`).
 *
 * Caveat: it orders the work of this process only; instances that share a store need the store
 * itself to refuse a racing write.
 * @module
 */

/** Runs work for a key after the earlier work of the same key. */
export type KeyedLock = <T>(key: string, work: () => Promise<T>) => Promise<T>;

/**
 * Makes a lock per key. Keys with nothing queued hold no memory.
 * @returns the lock.
 */
export function createKeyedLock(): KeyedLock {
  // The tail of the work queued per key.
  const tails = new Map<string, Promise<unknown>>();
  return async (key, work) => {
    const previous = tails.get(key) ?? Promise.resolve();
    const settled = (): void => undefined;
    const current = previous.then(work, work);
    const tail = current.then(settled, settled);
    tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
