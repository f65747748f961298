/**
 * Where a deployment keeps its identity key (spec §8) and the serials it has signed with: the
 * {@link IdentityStore} interface, the stored form of an identity, and the memory implementation
 * (the file implementation is `createFileKeyStore` in `zeq-keyex/node`, in the same directory as
 * the machine keys).
 *
 * Security caveats:
 * - Only the sealed form of the identity seed (spec §5, identity AAD) ever reaches a store; the
 *   record is public data plus that blob, useless without the field key.
 * - {@link IdentityStore.putIdentityIfAbsent} is first-writer-wins: an identity, once stored, is
 *   never replaced through this interface. An identity that does not open is an error, never a
 *   reason to make another (that would break every identity pin in the field).
 * - {@link IdentityStore.raiseSerial} only ever raises the highest serial kept for (slug,
 *   identity), so that a restarted responder never signs a document with a lower serial than one
 *   it already served (spec §8.1: `serial` never decreases).
 * @module
 */
import { isJsonObject, hasStringFields } from '../core/json.js';

/** The deployment's identity key as stored: the public key and the sealed 32-byte seed (§5, §8). */
export interface StoredIdentity {
  /** The signature algorithm: `"ML-DSA-65"`. */
  readonly sigAlg: string;
  /** The ML-DSA-65 public key (1952 bytes), canonical base64. */
  readonly identityKey: string;
  /** `base64(nonce ‖ AES-256-GCM(seal_key, seed))` with the §5 identity AAD. */
  readonly sealedSeed: string;
  /** When the identity was made, RFC 3339 UTC. */
  readonly createdAt: string;
}

/** Where the identity key and the highest serial signed per slug live. */
export interface IdentityStore {
  /**
   * Reads the stored identity.
   * @returns it, or `undefined` when none was made.
   */
  getIdentity(): Promise<StoredIdentity | undefined>;
  /**
   * Stores an identity unless one is stored already, atomically.
   * @param identity - the new identity.
   * @returns the identity that ends up stored: `identity`, or the one another writer stored first.
   */
  putIdentityIfAbsent(identity: StoredIdentity): Promise<StoredIdentity>;
  /**
   * The highest serial signed for a slug under an identity.
   * @param slug - the machine's slug.
   * @param identity - `hex(SHA-256(identity_key))`.
   * @returns the serial, or `undefined` when none was signed.
   */
  getSerial(slug: string, identity: string): Promise<number | undefined>;
  /**
   * Keeps `serial` as the highest signed for (slug, identity) unless a higher one is kept.
   * @param slug - the machine's slug.
   * @param identity - `hex(SHA-256(identity_key))`.
   * @param serial - the serial of a document about to be served.
   * @returns the highest serial now kept (`serial` or a higher one).
   */
  raiseSerial(slug: string, identity: string, serial: number): Promise<number>;
}

const STORED_IDENTITY_FIELDS = ['sigAlg', 'identityKey', 'sealedSeed', 'createdAt'] as const;

/**
 * Whether a value has the shape of a {@link StoredIdentity}: an object with each field a string.
 * Content (lengths, the seal) is checked when the identity is opened.
 * @param value - anything read from storage.
 * @returns whether it is shaped like a stored identity.
 */
export function isStoredIdentity(value: unknown): value is StoredIdentity {
  return isJsonObject(value) && hasStringFields(value, STORED_IDENTITY_FIELDS);
}

/**
 * Copies the fields of a stored identity into a fresh frozen plain object (dropping anything else).
 * @param identity - a stored identity.
 * @returns the copy.
 */
export function copyStoredIdentity(identity: StoredIdentity): StoredIdentity {
  return Object.freeze({
    sigAlg: identity.sigAlg,
    identityKey: identity.identityKey,
    sealedSeed: identity.sealedSeed,
    createdAt: identity.createdAt,
  });
}

/**
 * Whether a value is a serial as §8.1 allows: an integer in `[0, 2^53 − 1]`.
 * @param value - anything.
 * @returns whether it is one.
 */
export function isSerial(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Whether a value has the methods of an {@link IdentityStore}.
 * @param value - anything.
 * @returns whether it does.
 */
export function isIdentityStore(value: unknown): value is IdentityStore {
  if (typeof value !== 'object' || value === null) return false;
  const store = value as Record<string, unknown>;
  return (
    typeof store['getIdentity'] === 'function' &&
    typeof store['putIdentityIfAbsent'] === 'function' &&
    typeof store['getSerial'] === 'function' &&
    typeof store['raiseSerial'] === 'function'
  );
}

/**
 * An identity store in process memory (the memory key store includes one): the identity is lost
 * when the process exits. For tests and demos.
 * @returns an empty identity store.
 */
export function createMemoryIdentityStore(): IdentityStore {
  let stored: StoredIdentity | undefined;
  const serials = new Map<string, number>();
  const keyOf = (slug: string, identity: string): string => `${identity}/${slug}`;
  return {
    getIdentity(): Promise<StoredIdentity | undefined> {
      return Promise.resolve(stored);
    },
    putIdentityIfAbsent(identity: StoredIdentity): Promise<StoredIdentity> {
      if (!isStoredIdentity(identity))
        return Promise.reject(new TypeError('putIdentityIfAbsent expects a StoredIdentity'));
      stored ??= copyStoredIdentity(identity);
      return Promise.resolve(stored);
    },
    getSerial(slug: string, identity: string): Promise<number | undefined> {
      return Promise.resolve(serials.get(keyOf(slug, identity)));
    },
    raiseSerial(slug: string, identity: string, serial: number): Promise<number> {
      if (!isSerial(serial))
        return Promise.reject(new TypeError('a serial is an integer in [0, 2^53 - 1]'));
      const key = keyOf(slug, identity);
      const highest = Math.max(serials.get(key) ?? 0, serial);
      serials.set(key, highest);
      return Promise.resolve(highest);
    },
  };
}
