/**
 * KEM key rotation while serving (spec §8.3): a machine's key is replaced by a fresh one, served at
 * once; the previous key keeps answering handshakes that name its fingerprint for a grace period,
 * then its secret is deleted from the store and from memory.
 *
 * A rotation generates the new seed, seals it (§5), and asks the key store to replace the stored
 * key atomically (`KeyStore.replace`), which keeps the previous one as the slug's retired key with
 * the end of its grace period; only then does the key manager forget its cached key, so that every
 * later request reads and serves the new one. A handshake naming another fingerprint than the
 * current one is answered with the retired key while its grace lasts (after a restart, the retired
 * key is read from the store on the first such handshake), and `409 key_mismatch` otherwise.
 *
 * Security caveats:
 * - The grace period is what lets initiators holding the previous document (identity pins cache it
 *   up to `not_after`, §8.2) finish; its default is the documents' validity. A key rotated because
 *   it may be compromised should be rotated with a grace of 0: its secret is deleted at once.
 * - Rotating again within a grace period ends the previous retired key's grace at once: a store
 *   keeps one retired key per slug.
 * - Once the grace period ends (checked on every handshake that names the key, and by a timer that
 *   does not keep the process alive), the key's secret is disposed of (noble's bytes zeroed, native
 *   keys released) and deleted from the store. A handshake decapsulating at that very moment may
 *   fail its key confirmation; the initiator retries with the current document.
 * - Pins on the old KEM key break at once (that is what identity pins are for, §6, §8).
 * - Several responders sharing a store learn of a rotation made through another one when they
 *   re-read the key (`key-refresh.ts`, every `keyRefreshMs`); until then they serve the key they
 *   cached, which stays usable during its grace.
 * @module
 */
import { ALG_SIZES, type Alg, MAX_ATTESTATION_VALIDITY_S } from '../core/constants.js';
import { base64Encode } from '../core/encoding.js';
import { ZeqKeyExError, callStore } from '../core/errors.js';
import { MAX_DURATION_MS } from '../core/limits.js';
import { randomBytes, wipe } from '../core/primitives.js';
import { sealSecretKey } from '../core/sealing.js';
import type { Kem } from '../backends/kem-backend.js';
import type { KeyManager, MachineKey } from './key-manager.js';
import type { Logger } from './logger.js';
import type { KeyStore, StoredKey } from './stores.js';

/**
 * Checks a grace period (programmer input): an integer number of seconds in [0, 30 days].
 * @param value - the value given.
 * @param name - the option's name, for the message.
 * @throws {RangeError} for anything else.
 */
export function assertGraceSeconds(value: unknown, name: string): asserts value is number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 0 ||
    value > MAX_ATTESTATION_VALIDITY_S
  )
    throw new RangeError(
      `${name} must be an integer number of seconds in [0, ${MAX_ATTESTATION_VALIDITY_S}] (30 days)`,
    );
}

/** What a rotation did. */
export interface KeyRotationResult {
  /** The machine's slug. */
  readonly slug: string;
  /** Its machine_id. */
  readonly machineId: string;
  /** The new key's fingerprint, served from now on. */
  readonly fingerprint: string;
  /** The previous key's fingerprint, answered until `retiredUntil`. */
  readonly previousFingerprint: string;
  /** The end of the previous key's grace period, in milliseconds since the Unix epoch. */
  readonly retiredUntil: number;
}

/** What {@link createKeyRotation} needs from the responder. */
export interface KeyRotationOptions {
  readonly keys: KeyManager;
  readonly keyStore: KeyStore;
  /** The §5 seal key (the responder's). */
  readonly sealKey: Uint8Array;
  /** The KEM backend of an alg (the responder's, one per alg). */
  readonly kem: (alg: Alg) => Promise<Kem>;
  readonly logger: Logger;
  readonly now: () => number;
  /** The default grace period, in seconds. */
  readonly graceSeconds: number;
}

/** Rotation and the retired keys of a responder. */
export interface KeyRotation {
  /**
   * Replaces a machine's key (§8.3).
   * @param slug - the machine's slug (validated).
   * @param machineId - its machine id.
   * @param graceSeconds - how long the previous key keeps answering, in seconds.
   * @returns what was done, or `undefined` when the machine has no key yet (nothing to rotate).
   * @throws {ZeqKeyExError} `machine_unavailable` (its key does not open), `store_error` (the
   *   store failed, cannot rotate, or another rotation won).
   * @throws {RangeError} for a grace period out of [0, 30 days].
   */
  rotate(
    slug: string,
    machineId: string,
    graceSeconds?: number,
  ): Promise<KeyRotationResult | undefined>;
  /**
   * The retired key a handshake names, while its grace lasts.
   * @param slug - the machine's slug.
   * @param machineId - its machine id.
   * @param fingerprint - the fingerprint the handshake names.
   * @returns the key, or `undefined`.
   */
  retired(slug: string, machineId: string, fingerprint: string): Promise<MachineKey | undefined>;
  /**
   * Takes in a rotation made through another instance sharing the store: forgets the cached key
   * of the slug, and keeps it as the retired key while the store's grace for it lasts (else the
   * store's retired key is read on the next handshake that names one).
   * @param slug - the machine's slug.
   * @throws {ZeqKeyExError} `store_error` when the store fails.
   */
  adopt(slug: string): Promise<void>;
  /** Stops the timers (the key manager disposes of the keys). */
  close(): void;
}

interface Retired {
  readonly key: MachineKey;
  readonly until: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Creates the rotation of a responder.
 * @param options - keys, store, seal key, backend, logger, clock and default grace.
 * @returns the rotation.
 */
export function createKeyRotation(options: KeyRotationOptions): KeyRotation {
  const { keys, keyStore, sealKey, kem, logger, now, graceSeconds } = options;
  const retiredKeys = new Map<string, Retired>();
  /** Slugs whose store was asked for a retired key since start or their last rotation. */
  const loaded = new Map<string, Promise<void>>();
  let closed = false;

  function expire(slug: string, entry: Retired): void {
    if (retiredKeys.get(slug) !== entry) return;
    retiredKeys.delete(slug);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    keys.release(entry.key);
    const { deleteRetired } = keyStore;
    if (deleteRetired === undefined) return;
    callStore(() => deleteRetired.call(keyStore, slug, entry.key.publicKeyBase64)).catch(() => {
      logger.error('a retired key could not be deleted from the store', {
        code: 'store_error',
        slug,
      });
    });
  }

  function arm(slug: string, entry: Retired): void {
    if (closed) return;
    const delay = Math.min(Math.max(entry.until - now(), 0), MAX_DURATION_MS);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (now() >= entry.until) expire(slug, entry);
      else arm(slug, entry);
    }, delay);
    // Node's timers would keep the process alive for days; other runtimes have no `unref`.
    (entry.timer as { unref?: () => void }).unref?.();
  }

  function keep(slug: string, key: MachineKey, until: number): void {
    const previous = retiredKeys.get(slug);
    if (previous !== undefined) {
      // The store keeps one retired key per slug: the older one's grace ends now.
      retiredKeys.delete(slug);
      if (previous.timer !== undefined) clearTimeout(previous.timer);
      keys.release(previous.key);
    }
    const entry: Retired = { key, until, timer: undefined };
    retiredKeys.set(slug, entry);
    if (now() >= until) expire(slug, entry);
    else arm(slug, entry);
  }

  /** A fresh key for the slug, sealed; the seed and the imported key are gone when it returns. */
  async function freshStoredKey(current: StoredKey, alg: MachineKey['alg']): Promise<StoredKey> {
    const seed = randomBytes(ALG_SIZES[alg].seed);
    try {
      // The new key is of the machine's alg, through that alg's backend (§9).
      const imported = await (await kem(alg)).importSecretKey(seed);
      const publicKey = Uint8Array.from(imported.publicKey);
      imported.dispose();
      return {
        alg,
        slug: current.slug,
        machineId: current.machineId,
        publicKey: base64Encode(publicKey),
        sealedSecretKey: sealSecretKey(
          sealKey,
          { alg, slug: current.slug, machineId: current.machineId, publicKey },
          seed,
        ),
        createdAt: new Date(now()).toISOString(),
      };
    } finally {
      wipe(seed);
    }
  }

  async function loadRetired(slug: string, machineId: string): Promise<void> {
    const { getRetired } = keyStore;
    if (getRetired === undefined) return;
    const stored = await callStore(() => getRetired.call(keyStore, slug));
    if (stored === undefined || retiredKeys.has(slug) || closed) return;
    const key = await keys.open(stored.key, slug, machineId);
    if (retiredKeys.has(slug)) {
      keys.release(key);
      return;
    }
    keep(slug, key, stored.until);
  }

  return {
    async rotate(
      slug: string,
      machineId: string,
      grace: number = graceSeconds,
    ): Promise<KeyRotationResult | undefined> {
      assertGraceSeconds(grace, 'graceSeconds');
      const { replace } = keyStore;
      if (replace === undefined)
        throw new ZeqKeyExError('store_error', 'the key store cannot rotate keys (no replace)');
      const current = await keys.find(slug, machineId);
      if (current === undefined) return undefined;
      const stored = await callStore(() => keyStore.get(slug), 'the key store failed to read');
      if (stored?.publicKey !== current.publicKeyBase64)
        throw new ZeqKeyExError('store_error', 'the stored key changed; rotate again');
      const next = await freshStoredKey(stored, current.alg);
      const until = now() + grace * 1_000;
      const replaced = await callStore(
        () => replace.call(keyStore, stored, next, until),
        'the key store failed to write',
      );
      if (!replaced) throw new ZeqKeyExError('store_error', 'another rotation won; rotate again');
      const forgotten = keys.forget(slug);
      loaded.set(slug, Promise.resolve());
      keep(slug, forgotten ?? current, until);
      const served = await keys.obtain(slug, machineId);
      logger.warn('machine key rotated', {
        code: 'key_rotated',
        slug,
        fingerprint: served.fingerprint,
        previousFingerprint: current.fingerprint,
        graceSeconds: grace,
      });
      return {
        slug,
        machineId,
        fingerprint: served.fingerprint,
        previousFingerprint: current.fingerprint,
        retiredUntil: until,
      };
    },
    async retired(
      slug: string,
      machineId: string,
      fingerprint: string,
    ): Promise<MachineKey | undefined> {
      let loading = loaded.get(slug);
      if (loading === undefined) {
        loading = loadRetired(slug, machineId).catch((error: unknown) => {
          loaded.delete(slug);
          throw error;
        });
        loaded.set(slug, loading);
      }
      await loading;
      const entry = retiredKeys.get(slug);
      if (entry === undefined || entry.key.fingerprint !== fingerprint) return undefined;
      if (entry.key.machineId !== machineId) return undefined;
      if (now() >= entry.until) {
        expire(slug, entry);
        return undefined;
      }
      return entry.key;
    },
    async adopt(slug: string): Promise<void> {
      const { getRetired } = keyStore;
      const stored =
        getRetired === undefined
          ? undefined
          : await callStore(() => getRetired.call(keyStore, slug), 'the key store failed to read');
      const forgotten = keys.forget(slug);
      if (forgotten !== undefined && stored?.key.publicKey === forgotten.publicKeyBase64) {
        loaded.set(slug, Promise.resolve());
        keep(slug, forgotten, stored.until);
        return;
      }
      // Not the store's retired key (rotated twice meanwhile): the store's is read when named.
      if (forgotten !== undefined) keys.release(forgotten);
      loaded.delete(slug);
    },
    close(): void {
      closed = true;
      for (const entry of retiredKeys.values())
        if (entry.timer !== undefined) clearTimeout(entry.timer);
      retiredKeys.clear();
    },
  };
}
