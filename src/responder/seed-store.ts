/**
 * Where Mode-B seeds live (spec §4, §5): the {@link SeedStore} interface, an in-memory store, and
 * the opening of a stored seed for the application that uses it.
 *
 * A seed is stored sealed under the field key, bound by its AAD to the local machine_id, the peer's
 * machine_id and the seed commitment, and keyed by `(local machine_id, peer machine_id)`. `put`
 * replaces the stored seed of the pair: a seed is re-derivable by a new exchange, unlike a machine
 * key, which is why this store overwrites where the key store never does. Whether a new seed may
 * replace one stored under another peer fingerprint is decided before `put`, by the Mode-B
 * endpoints (`seed_conflict`, spec §4.1 revision 2), from the record's `role` and `fingerprint`.
 *
 * Security caveats: only the sealed form reaches a store; a stored seed is plain JSON-able data that
 * is safe to back up, though useless without the field key. An opened seed is the caller's to wipe.
 * @module
 */
import { FINGERPRINT_PATTERN, type Role } from '../core/constants.js';
import { ZeqKeyExError } from '../core/errors.js';
import { hasStringFields, isJsonObject } from '../core/json.js';
import { isMachineId } from '../core/identifiers.js';
import { deriveSealKey, parseFieldKey, unsealSeed } from '../core/sealing.js';
import { wipe } from '../core/primitives.js';

/** A Mode-B seed as stored: public data plus the sealed seed (spec §5). */
export interface StoredSeed {
  /** The KEM algorithm, `"ML-KEM-768"`. */
  readonly alg: string;
  /** `'initiator'` (machine L, `initiate`) or `'responder'` (machine P, `respond`). */
  readonly role: Role;
  /** The slug of the local machine. */
  readonly localSlug: string;
  /** The local machine's id (bound into the seal's AAD; half of the store key). */
  readonly localMachineId: string;
  /** The peer's machine id (bound into the seal's AAD; half of the store key). */
  readonly peerMachineId: string;
  /**
   * The fingerprint of the key the seed was encapsulated to: the peer's for `role: 'initiator'`
   * (what a later `initiate` for the same pair compares, spec §4.1 revision 2), the local
   * machine's own for `role: 'responder'`.
   */
  readonly fingerprint: string;
  /** The §4 seed commitment, 64 lowercase hex characters (bound into the seal's AAD). */
  readonly seedCommitment: string;
  /** `base64(nonce ‖ AES-256-GCM(seal_key, seed))`, spec §5. */
  readonly sealedSeed: string;
  /** When the seed was derived, RFC 3339 UTC. */
  readonly createdAt: string;
}

/** Where Mode-B seeds live, keyed by `(localMachineId, peerMachineId)`. */
export interface SeedStore {
  /**
   * Reads the seed a local machine holds with a peer.
   * @param localMachineId - the local machine's id.
   * @param peerMachineId - the peer's machine id.
   * @returns the stored seed, or `undefined`.
   */
  get(localMachineId: string, peerMachineId: string): Promise<StoredSeed | undefined>;
  /**
   * Stores a seed, replacing any stored for the same pair. Must be atomic: a reader sees the old
   * record or the new one, never a mix.
   * @param seed - the record.
   */
  put(seed: StoredSeed): Promise<void>;
  /**
   * Lists every stored seed, for `Responder.ready` to check that each opens under the field key.
   * Optional: a store without it is not checked at start.
   * @returns the stored seeds (copies).
   */
  list?(): Promise<readonly StoredSeed[]>;
}

const STORED_SEED_FIELDS = [
  'alg',
  'role',
  'localSlug',
  'localMachineId',
  'peerMachineId',
  'fingerprint',
  'seedCommitment',
  'sealedSeed',
  'createdAt',
] as const;

/**
 * Whether a value has the shape of a {@link StoredSeed}: every field a string, `role` one of the
 * two roles, both machine ids and the commitment in their §1 grammars. The seal is checked when
 * the seed is opened.
 * @param value - anything read from storage.
 * @returns whether it is shaped like a stored seed.
 */
export function isStoredSeed(value: unknown): value is StoredSeed {
  if (!isJsonObject(value) || !hasStringFields(value, STORED_SEED_FIELDS)) return false;
  return (
    (value['role'] === 'initiator' || value['role'] === 'responder') &&
    isMachineId(value['localMachineId']) &&
    isMachineId(value['peerMachineId']) &&
    FINGERPRINT_PATTERN.test(value['seedCommitment'] as string)
  );
}

/**
 * A copy of a stored seed holding exactly its fields (extra properties dropped).
 * @param seed - a record that passed {@link isStoredSeed}.
 * @returns a frozen copy.
 */
export function copyStoredSeed(seed: StoredSeed): StoredSeed {
  return Object.freeze({
    alg: seed.alg,
    role: seed.role,
    localSlug: seed.localSlug,
    localMachineId: seed.localMachineId,
    peerMachineId: seed.peerMachineId,
    fingerprint: seed.fingerprint,
    seedCommitment: seed.seedCommitment,
    sealedSeed: seed.sealedSeed,
    createdAt: seed.createdAt,
  });
}

/**
 * A seed store in process memory: for tests and demos. Seeds are lost when the process exits; use
 * a persistent store (e.g. `createFileSeedStore` from `zeq-keyex/node`) in service.
 * @returns an empty seed store.
 */
export function createMemorySeedStore(): SeedStore {
  const seeds = new Map<string, StoredSeed>();
  // Machine ids never contain a newline, so this key cannot be confused between pairs.
  const keyOf = (local: string, peer: string): string => `${local}\n${peer}`;
  return {
    get(localMachineId: string, peerMachineId: string): Promise<StoredSeed | undefined> {
      return Promise.resolve(seeds.get(keyOf(localMachineId, peerMachineId)));
    },
    put(seed: StoredSeed): Promise<void> {
      if (!isStoredSeed(seed)) return Promise.reject(new TypeError('put expects a StoredSeed'));
      const copy = copyStoredSeed(seed);
      seeds.set(keyOf(copy.localMachineId, copy.peerMachineId), copy);
      return Promise.resolve();
    },
    list(): Promise<readonly StoredSeed[]> {
      return Promise.resolve([...seeds.values()].map(copyStoredSeed));
    },
  };
}

/**
 * Opens a stored Mode-B seed, for the application that uses it (e.g. to key ZeqSSL Mode-B).
 * @param fieldKey - the deployment's field key: 64 hex characters or 32 bytes (not modified).
 * @param stored - the stored record.
 * @returns the 32-byte seed. Secret: wipe it after use.
 * @throws {ZeqKeyExError} `invalid_field_key`; `unseal_failed` when the record is malformed, was
 *   tampered with, or was sealed under another field key or for another pair or commitment.
 * @example
 * ```ts
 * const stored = await seedStore.get('machine:edge', 'machine:core');
 * if (stored !== undefined) {
 *   const seed = unsealStoredSeed(process.env.ZEQ_FIELD_KEY!, stored);
 *   try { useSeed(seed); } finally { wipe(seed); }
 * }
 * ```
 */
export function unsealStoredSeed(fieldKey: string | Uint8Array, stored: StoredSeed): Uint8Array {
  const key = fieldKey instanceof Uint8Array ? Uint8Array.from(fieldKey) : parseFieldKey(fieldKey);
  let sealKey: Uint8Array | undefined;
  try {
    sealKey = deriveSealKey(key);
    if (!isStoredSeed(stored))
      throw new ZeqKeyExError('unseal_failed', 'the stored seed is malformed');
    return unsealSeed(
      sealKey,
      {
        localMachineId: stored.localMachineId,
        peerMachineId: stored.peerMachineId,
        seedCommitment: stored.seedCommitment,
      },
      stored.sealedSeed,
    );
  } finally {
    wipe(key, sealKey);
  }
}
