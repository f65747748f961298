/**
 * Keys rotated through another instance (spec §8.3, issue #15): responders that share a key store
 * each cache their machines' keys, so an instance re-reads a slug's stored key when its cached one
 * was last checked more than `intervalMs` ago (one store read per slug and interval, shared by
 * concurrent requests). A stored key other than the cached one is a rotation made elsewhere: the
 * cached key is forgotten (kept as the retired key while the store's grace for it lasts) and the
 * stored one is served.
 *
 * A store that fails to answer is not a failure of the request: the cached key is served, and the
 * store asked again an interval later.
 *
 * Caveat: for up to `intervalMs` after a rotation, an instance still serves the previous key's
 * document; handshakes on it succeed everywhere during its grace, so a grace shorter than the
 * interval (a compromised key rotated with grace 0) is the one case where such a document fails.
 * @module
 */
import { callStore } from '../core/errors.js';
import type { KeyManager, MachineKey } from './key-manager.js';
import type { KeyRotation } from './key-rotation.js';
import type { KeyStore } from './stores.js';

/** What {@link refreshingKeys} needs. */
export interface KeyRefreshOptions {
  readonly keys: KeyManager;
  readonly keyStore: KeyStore;
  readonly rotation: KeyRotation;
  readonly now: () => number;
  /** How long a cached key is served before the store is asked again, in milliseconds. */
  readonly intervalMs: number;
}

/**
 * A key manager whose `find` and `obtain` re-read the store at most every `intervalMs` per slug.
 * @param options - the key manager, its store, the rotation, the clock and the interval.
 * @returns the key manager the routes use.
 */
export function refreshingKeys(options: KeyRefreshOptions): KeyManager {
  const { keys, keyStore, rotation, now, intervalMs } = options;
  /** When each slug's cached key was last compared with the store. */
  const checkedAt = new Map<string, number>();
  const checking = new Map<string, Promise<void>>();

  function check(slug: string, cached: MachineKey): Promise<void> {
    let pending = checking.get(slug);
    if (pending === undefined) {
      pending = (async () => {
        try {
          const stored = await callStore(() => keyStore.get(slug), 'the key store failed to read');
          if (stored !== undefined && stored.publicKey !== cached.publicKeyBase64)
            await rotation.adopt(slug);
        } catch {
          // The store is down: the cached key is served, as without refresh; asked again later.
        } finally {
          checkedAt.set(slug, now());
        }
      })().finally(() => checking.delete(slug));
      checking.set(slug, pending);
    }
    return pending;
  }

  function due(slug: string): boolean {
    const at = checkedAt.get(slug);
    const time = now();
    // A clock that went back re-reads rather than trust an old check.
    return at === undefined || time - at >= intervalMs || time < at;
  }

  async function fresh<T extends MachineKey | undefined>(
    slug: string,
    key: T,
    again: () => Promise<T>,
  ): Promise<T> {
    if (key === undefined || !due(slug)) return key;
    const first = checkedAt.get(slug) === undefined;
    // The first lookup of a slug read the store just now: only note the time.
    if (first) {
      checkedAt.set(slug, now());
      return key;
    }
    await check(slug, key);
    return again();
  }

  return {
    ...keys,
    async find(slug: string, machineId: string): Promise<MachineKey | undefined> {
      const key = await keys.find(slug, machineId);
      return fresh(slug, key, () => keys.find(slug, machineId));
    },
    async obtain(slug: string, machineId: string): Promise<MachineKey> {
      const key = await keys.obtain(slug, machineId);
      return fresh(slug, key, () => keys.obtain(slug, machineId));
    },
  };
}
