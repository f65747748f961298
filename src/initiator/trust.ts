/**
 * Trust on first use (spec §6): stores that remember the first fingerprint seen per origin and
 * slug, so a later handshake can refuse a changed key (`tofu_key_changed`).
 *
 * Caveat: TOFU authenticates every contact but the first. The first handshake with a responder
 * is only as trustworthy as the network it crossed; a pin held in code has no such window.
 * @module
 */

/** A store of remembered fingerprints, keyed by `origin + " " + slug`. */
export interface TrustStore {
  /** The remembered fingerprint, if any. */
  get(key: string): Promise<string | undefined>;
  /**
   * Remembers `fingerprint` unless a fingerprint is already stored for `key`.
   * @returns the fingerprint stored once the call returns (the earlier one, if there was one).
   */
  putIfAbsent(key: string, fingerprint: string): Promise<string>;
}

/**
 * A trust store in memory: remembers fingerprints for the life of the process or page.
 * @returns the store.
 */
export function createMemoryTrustStore(): TrustStore {
  const map = new Map<string, string>();
  return {
    get: async (key) => map.get(key),
    async putIfAbsent(key, fingerprint) {
      const existing = map.get(key);
      if (existing !== undefined) return existing;
      map.set(key, fingerprint);
      return fingerprint;
    },
  };
}

/** The subset of the Web Storage API a {@link createLocalStorageTrustStore} needs. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * A trust store in the browser's `localStorage` (or any Web Storage object).
 * @param options - `storage` (default `globalThis.localStorage`) and a key `prefix`.
 * @returns the store.
 * @throws {TypeError} when no storage is available.
 */
export function createLocalStorageTrustStore(options: { storage?: StorageLike; prefix?: string } = {}): TrustStore {
  const storage = options.storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
  if (storage === undefined) throw new TypeError('no localStorage is available; pass options.storage');
  const prefix = options.prefix ?? 'zeq-keyex:tofu:';
  return {
    async get(key) {
      return storage.getItem(prefix + key) ?? undefined;
    },
    async putIfAbsent(key, fingerprint) {
      const existing = storage.getItem(prefix + key);
      if (existing !== null) return existing;
      storage.setItem(prefix + key, fingerprint);
      return fingerprint;
    },
  };
}
