/**
 * The responder's key manager: each machine's key pair, of the alg its operator chose for it
 * (ML-KEM-768 or X-Wing, spec §9), generated lazily on the first request that needs it (spec §2.1)
 * and stored sealed under the field key (spec §5), the alg bound into the seal's AAD.
 *
 * Generation is single-flight: in one process, concurrent first requests for a slug share one
 * promise; across processes, {@link KeyStore.putIfAbsent} decides the winner and every loser
 * discards its own key pair and adopts the stored one. Either way a machine ends with one key pair.
 *
 * Security caveats:
 * - A stored key that does not open — wrong field key, tampered blob, bound to another slug or
 *   machine id, or a public key that does not match its seed — makes that machine unavailable
 *   (`machine_unavailable`, logged without secrets). It is never a reason to make a new key: that
 *   would silently break every pin in the field. The store is not written in that case.
 * - A stored key of another alg than the machine's is never served as the machine's alg, and never
 *   replaced: the machine is unavailable (`alg_mismatch` in the log) until an operator rotates it.
 * - An opened key carries its §2.1 key document, serialised once: it holds public data only.
 * - The seed is wiped as soon as it is sealed (or, when opening, imported). Each opened machine's
 *   key is imported into the KEM backend once (`kem-backend.ts`: noble's expanded key, a
 *   `node:crypto` `KeyObject` or a non-extractable WebCrypto key) and cached in memory, per slug, so
 *   a handshake costs one decapsulation and no key import; {@link KeyManager.close} disposes of the
 *   cache (noble's bytes are zeroed, native keys released). The cache also means a key rotated in
 *   the store by an operator is served from the next start.
 * @module
 */
import { ALG, ALGS, ALG_SIZES, type Alg } from '../core/constants.js';
import { ZeqKeyExError, callStore } from '../core/errors.js';
import { base64Decode, base64Encode } from '../core/encoding.js';
import { computeFingerprint } from '../core/fingerprint.js';
import { type Kem, type KemSecretKey, nobleKem } from '../backends/kem-backend.js';
import type { Logger } from './logger.js';
import { constantTimeEqual, randomBytes, wipe } from '../core/primitives.js';
import { sealSecretKey, unsealSecretKey } from '../core/sealing.js';
import { type KeyStore, type StoredKey, isStoredKey } from './stores.js';

/** The key document of spec §2.1, as the responder serves it (the wire JSON form). */
export interface KeyDocumentJson {
  /** The KEM algorithm of the key: `'ML-KEM-768'` or `'X-Wing'`. */
  readonly alg: Alg;
  /** The public key, canonical base64. */
  readonly public_key: string;
  /** `hex(SHA-256(public_key))`. */
  readonly fingerprint: string;
  /** The machine's identity, bound into the transcript (grammar of spec §1). */
  readonly machine_id: string;
  /** The identity's signature over the document (spec §8.1), when the responder has an identity. */
  readonly attestation?: KeyDocumentAttestation;
}

/** The `attestation` of a signed key document (spec §8.1), as the responder serves it. */
export interface KeyDocumentAttestation {
  /** The signature algorithm: `'ML-DSA-65'`. */
  readonly sig_alg: 'ML-DSA-65';
  /** The identity key (1952 bytes), canonical base64; initiators pin its SHA-256. */
  readonly identity_key: string;
  /** Never decreases across the documents one identity signs for one slug. */
  readonly serial: number;
  /** Start of validity, Unix seconds. */
  readonly not_before: number;
  /** End of validity, Unix seconds (at most 30 days after `not_before`). */
  readonly not_after: number;
  /** The ML-DSA-65 signature (3309 bytes) over the §8.1 signed message, canonical base64. */
  readonly signature: string;
}

/** An opened machine key, ready to decapsulate. */
export interface MachineKey {
  readonly alg: Alg;
  readonly slug: string;
  readonly machineId: string;
  /** The public key bytes. */
  readonly publicKey: Uint8Array;
  /** The public key as canonical base64, as served. */
  readonly publicKeyBase64: string;
  /** `hex(SHA-256(public_key))`. */
  readonly fingerprint: string;
  /** The §2.1 key document as JSON text, serialised once when the key is opened: served as is. */
  readonly documentJson: string;
  /** The secret key, imported into the KEM backend. Cached; disposed of by {@link KeyManager.close}. */
  readonly secretKey: KemSecretKey;
}

/**
 * A machine key's §2.1 key document.
 * @param key - the opened key (or its public fields).
 * @returns a fresh document object.
 */
export function keyDocumentOf(
  key: Pick<MachineKey, 'alg' | 'publicKeyBase64' | 'fingerprint' | 'machineId'>,
): KeyDocumentJson {
  return {
    alg: key.alg,
    public_key: key.publicKeyBase64,
    fingerprint: key.fingerprint,
    machine_id: key.machineId,
  };
}

/** Options of {@link createKeyManager}. */
export interface KeyManagerOptions {
  /** The §5 seal key. The manager keeps a reference; its owner wipes it after {@link KeyManager.close}. */
  sealKey: Uint8Array;
  /** Where sealed keys are stored. */
  keyStore: KeyStore;
  /** Where unavailable machines are reported. */
  logger: Logger;
  /** The clock, for `createdAt`. */
  now: () => number;
  /**
   * The KEM backend of an alg that keys are imported into (the responder's `kem` option).
   * @defaultValue noble
   */
  kem?: (alg: Alg) => Promise<Kem>;
  /**
   * The alg of a machine's key, by slug (the responder's `alg` option).
   * @defaultValue ML-KEM-768 for every machine
   */
  algFor?: (slug: string) => Alg;
}

/** Lazily generated, sealed, cached machine keys. */
export interface KeyManager {
  /**
   * The machine's key, generated and stored on first use.
   * @param slug - the machine's slug (already validated).
   * @param machineId - its configured machine id.
   * @returns the opened key.
   * @throws {ZeqKeyExError} `machine_unavailable` when the stored key cannot be opened or belongs
   *   to another machine; `store_error` when the store fails.
   */
  obtain(slug: string, machineId: string): Promise<MachineKey>;
  /**
   * The machine's key if it has one; never generates.
   * @param slug - the machine's slug (already validated).
   * @param machineId - its configured machine id.
   * @returns the opened key, or `undefined` when none is stored.
   * @throws {ZeqKeyExError} as {@link KeyManager.obtain}.
   */
  find(slug: string, machineId: string): Promise<MachineKey | undefined>;
  /** Wipes every cached key; later calls fail with `machine_unavailable`. */
  close(): void;
  /**
   * Opens a stored key that is not the slug's current one (a rotated machine's retired key, §8.3);
   * never generates, never caches it as the slug's key. Disposed of by {@link KeyManager.release}
   * or {@link KeyManager.close}.
   * @param stored - the stored key.
   * @param slug - the machine's slug.
   * @param machineId - its configured machine id.
   * @returns the opened key.
   * @throws {ZeqKeyExError} `machine_unavailable` as {@link KeyManager.obtain}.
   */
  open(stored: StoredKey, slug: string, machineId: string): Promise<MachineKey>;
  /**
   * Forgets a slug's cached key after a rotation (§8.3), so that the next lookup reads the store;
   * the forgotten key stays usable until {@link KeyManager.release}.
   * @param slug - the machine's slug.
   * @returns the key that was cached, if any.
   */
  forget(slug: string): MachineKey | undefined;
  /**
   * Disposes of a key no longer served (a retired key after its grace period).
   * @param key - a key this manager opened.
   */
  release(key: MachineKey): void;
}

type Lookup = Promise<MachineKey | undefined>;

/**
 * Creates a key manager.
 * @param options - seal key, store, logger and clock.
 * @returns the manager.
 */
export function createKeyManager(options: KeyManagerOptions): KeyManager {
  // One closure over the manager's state (in-flight lookups, opened keys, `closed`), which every
  // step below reads or changes; the steps are the inner functions, each short.
  const { sealKey, keyStore, logger, now } = options;
  const algFor = options.algFor ?? (() => ALG);
  /** The backend of `alg`, checked to speak it (a backend of the other alg would make keys nobody can use). */
  async function kem(alg: Alg): Promise<Kem> {
    const backend = await (options.kem ?? (async () => nobleKem))(alg);
    if (backend.alg !== alg) throw new ZeqKeyExError('unsupported_alg');
    return backend;
  }
  /** In-flight lookups and opened keys, per slug. A lookup that fails or finds nothing is removed. */
  const entries = new Map<string, Lookup>();
  /** The keys those lookups opened, per slug: served without another promise once they settled. */
  const ready = new Map<string, MachineKey>();
  const opened = new Set<MachineKey>();
  let closed = false;

  function unavailable(slug: string, machineId: string, reason: string): ZeqKeyExError {
    logger.error('machine key unavailable; the machine is not served', {
      code: 'machine_unavailable',
      slug,
      machineId,
      reason,
    });
    return new ZeqKeyExError('machine_unavailable');
  }

  function assertOpen(): void {
    if (closed) throw new ZeqKeyExError('machine_unavailable', 'the responder is closed');
  }

  function remember(key: MachineKey): MachineKey {
    if (closed) {
      key.secretKey.dispose();
      throw new ZeqKeyExError('machine_unavailable', 'the responder is closed');
    }
    opened.add(key);
    return Object.freeze(key);
  }

  function machineKey(
    alg: Alg,
    slug: string,
    machineId: string,
    publicKey: Uint8Array,
    secretKey: KemSecretKey,
  ): MachineKey {
    const described = {
      alg,
      slug,
      machineId,
      publicKey,
      publicKeyBase64: base64Encode(publicKey),
      fingerprint: computeFingerprint(publicKey),
    };
    return remember({
      ...described,
      documentJson: JSON.stringify(keyDocumentOf(described)),
      secretKey,
    });
  }

  function readStore(slug: string): Promise<StoredKey | undefined> {
    return callStore(() => keyStore.get(slug), 'the key store failed to read');
  }

  async function openStored(stored: unknown, slug: string, machineId: string): Promise<MachineKey> {
    if (!isStoredKey(stored)) throw unavailable(slug, machineId, 'malformed_record');
    const alg = algFor(slug);
    if (!ALGS.includes(stored.alg as Alg)) throw unavailable(slug, machineId, 'unsupported_alg');
    if (stored.alg !== alg) throw unavailable(slug, machineId, 'alg_mismatch');
    if (stored.slug !== slug) throw unavailable(slug, machineId, 'slug_mismatch');
    if (stored.machineId !== machineId) throw unavailable(slug, machineId, 'machine_id_mismatch');
    let publicKey: Uint8Array;
    try {
      publicKey = base64Decode(stored.publicKey, ALG_SIZES[alg].publicKey, 'publicKey');
    } catch {
      throw unavailable(slug, machineId, 'invalid_public_key');
    }
    let seed: Uint8Array;
    try {
      seed = unsealSecretKey(sealKey, { alg, slug, machineId, publicKey }, stored.sealedSecretKey);
    } catch {
      throw unavailable(slug, machineId, 'unseal_failed');
    }
    let secretKey: KemSecretKey;
    try {
      secretKey = await (await kem(alg)).importSecretKey(seed);
    } finally {
      wipe(seed);
    }
    if (!constantTimeEqual(secretKey.publicKey, publicKey)) {
      secretKey.dispose();
      throw unavailable(slug, machineId, 'public_key_mismatch');
    }
    return machineKey(alg, slug, machineId, publicKey, secretKey);
  }

  async function generate(slug: string, machineId: string): Promise<MachineKey> {
    const alg = algFor(slug);
    const backend = await kem(alg);
    const seed = randomBytes(ALG_SIZES[alg].seed);
    let secretKey: KemSecretKey;
    let sealed: string;
    try {
      secretKey = await backend.importSecretKey(seed);
      sealed = sealSecretKey(
        sealKey,
        { alg, slug, machineId, publicKey: secretKey.publicKey },
        seed,
      );
    } finally {
      wipe(seed);
    }
    const publicKey = secretKey.publicKey;
    const record: StoredKey = {
      alg,
      slug,
      machineId,
      publicKey: base64Encode(publicKey),
      sealedSecretKey: sealed,
      createdAt: new Date(now()).toISOString(),
    };
    let winner: StoredKey;
    try {
      winner = await callStore(() => keyStore.putIfAbsent(record), 'the key store failed to write');
    } catch (error) {
      secretKey.dispose();
      throw error;
    }
    if (
      winner.publicKey === record.publicKey &&
      winner.sealedSecretKey === record.sealedSecretKey
    ) {
      return machineKey(alg, slug, machineId, publicKey, secretKey);
    }
    // Another process stored a key first: discard ours, serve theirs.
    secretKey.dispose();
    return openStored(winner, slug, machineId);
  }

  function single(slug: string, task: () => Lookup): Lookup {
    const existing = entries.get(slug);
    if (existing !== undefined) return existing;
    const lookup: Lookup = Promise.resolve()
      .then(task)
      .then(
        (key) => {
          if (entries.get(slug) === lookup) {
            if (key === undefined) entries.delete(slug);
            else ready.set(slug, key);
          }
          return key;
        },
        (error: unknown) => {
          if (entries.get(slug) === lookup) entries.delete(slug);
          throw error;
        },
      );
    entries.set(slug, lookup);
    return lookup;
  }

  function check(
    key: MachineKey | undefined,
    slug: string,
    machineId: string,
  ): MachineKey | undefined {
    assertOpen();
    // A resolver may map a slug to another machine id later; the cached key stays bound to the old one.
    if (key !== undefined && key.machineId !== machineId)
      throw unavailable(slug, machineId, 'machine_id_mismatch');
    return key;
  }

  return {
    async obtain(slug: string, machineId: string): Promise<MachineKey> {
      const known = ready.get(slug);
      if (known !== undefined) return check(known, slug, machineId) as MachineKey;
      // A concurrent `find` may have found nothing; then look again, this time generating.
      for (;;) {
        assertOpen();
        const key = check(
          await single(slug, async () => {
            const stored = await readStore(slug);
            return stored === undefined
              ? generate(slug, machineId)
              : openStored(stored, slug, machineId);
          }),
          slug,
          machineId,
        );
        if (key !== undefined) return key;
      }
    },
    async find(slug: string, machineId: string): Promise<MachineKey | undefined> {
      assertOpen();
      const known = ready.get(slug);
      if (known !== undefined) return check(known, slug, machineId);
      return check(
        await single(slug, async () => {
          const stored = await readStore(slug);
          return stored === undefined ? undefined : openStored(stored, slug, machineId);
        }),
        slug,
        machineId,
      );
    },
    open(stored: StoredKey, slug: string, machineId: string): Promise<MachineKey> {
      assertOpen();
      return openStored(stored, slug, machineId);
    },
    forget(slug: string): MachineKey | undefined {
      const known = ready.get(slug);
      ready.delete(slug);
      entries.delete(slug);
      return known;
    },
    release(key: MachineKey): void {
      if (!opened.delete(key)) return;
      key.secretKey.dispose();
    },
    close(): void {
      closed = true;
      for (const key of opened) key.secretKey.dispose();
      opened.clear();
      entries.clear();
      ready.clear();
    },
  };
}
