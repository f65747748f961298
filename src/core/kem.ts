/**
 * The synchronous KEM layer: ML-KEM-768 (FIPS 203) from `@noble/post-quantum`, with the input
 * checks of spec §1 and FIPS 203 §7.2/§7.3 mapped to the SDK's error codes, and the `alg` and
 * public-key checks of both algs (X-Wing's own layer is `core/xwing.ts`, loaded only when used). Internal: the SDK's
 * backends, Mode-B and the known-answer vectors run through it; apps use the asynchronous `Kem` of
 * `backends/kem-backend.ts` (`loadKem()`).
 *
 * Key forms, which differ between the two layers:
 * - here, a secret key is the **expanded 2400-byte** FIPS 203 decapsulation key
 *   ({@link kemDecapsulate}), derived from the 64-byte seed `d‖z` by {@link kemKeygen};
 *   {@link kemDecapsulateSeed} takes the seed itself;
 * - a `Kem` (`loadKem()`) takes only the **64-byte seed**, as native APIs import nothing else and
 *   as keys are stored at rest (spec §1, §5).
 *
 * Security caveats:
 * - ML-KEM decapsulation never fails on a well-formed ciphertext: a ciphertext made for another
 *   key, or tampered with, silently yields a different (pseudo-random) shared secret ("implicit
 *   rejection"). A wrong key is therefore only noticed by key confirmation (§2.3), and a swapped
 *   public key only by a pin checked before encapsulating (§2.1). That is why this SDK pins and
 *   confirms.
 * - Callers wipe the expanded secret keys and shared secrets they get.
 * - Public keys are kept expanded (noble's `prepare()`, marked experimental in noble 0.7; the
 *   vectors run through it). Only public data is kept.
 * @module
 */
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { ALG, ALGS, ALG_SIZES, ALG_XWING, type Alg } from './constants.js';
import { ZeqKeyExError } from './errors.js';
import { type RecentCache, createRecentCache } from './recent-cache.js';

/**
 * noble's ML-KEM-768 itself, without the SDK's checks: the reference the native backends are
 * probed against (`kem-backend.ts`), where every failure is a disagreement anyway.
 * @internal
 */
export const nobleMlKem768: typeof ml_kem768 = ml_kem768;

/** Size of the ML-KEM-768 decapsulation key in its expanded FIPS 203 form. */
const EXPANDED_SECRET_KEY_BYTES = 2400;

/** Size of the encapsulation randomness `m` of ML-KEM.Encaps_internal (FIPS 203 §6.2). */
const ENCAPSULATION_RANDOMNESS_BYTES = 32;

/** A key pair: the public key and the expanded FIPS 203 decapsulation key. */
export interface KemKeyPair {
  /** The encapsulation key (1184 bytes for ML-KEM-768). */
  publicKey: Uint8Array;
  /** The expanded decapsulation key (2400 bytes for ML-KEM-768). Wipe after use. */
  secretKey: Uint8Array;
}

/** The result of encapsulation. */
export interface Encapsulation {
  /** The KEM ciphertext, sent to the key's owner. */
  cipherText: Uint8Array;
  /** The 32-byte shared secret. Wipe after use. */
  sharedSecret: Uint8Array;
}

/**
 * Checks that `alg` is a string this SDK speaks and that the caller accepts.
 * @param alg - the value from the wire or configuration.
 * @param accepted - the `alg` values the caller accepts.
 * @throws {ZeqKeyExError} `unsupported_alg`.
 */
export function assertAlg(alg: unknown, accepted: readonly Alg[] = [ALG]): asserts alg is Alg {
  if (!ALGS.includes(alg as Alg) || !accepted.includes(alg as Alg))
    throw new ZeqKeyExError('unsupported_alg');
}

/** The ML-KEM-768 layer's one alg: the functions below that take an `alg` speak only this one. */
export type MlKemAlg = typeof ALG;

/**
 * Checks that `bytes` is a `Uint8Array` of `length` bytes.
 * @throws {ZeqKeyExError} `code` otherwise.
 * @internal
 */
export function assertLength(
  bytes: unknown,
  length: number,
  code: 'invalid_public_key' | 'invalid_cipher_text' | 'invalid_secret_key',
): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new ZeqKeyExError(code);
}

/**
 * Derives a key pair from a 64-byte FIPS 203 seed `d‖z` (ML-KEM.KeyGen_internal).
 * @param seed - 64 bytes.
 * @param alg - the algorithm.
 * @returns the public key and expanded secret key.
 * @throws {ZeqKeyExError} `invalid_secret_key` when the seed is not 64 bytes.
 */
export function kemKeygen(seed: Uint8Array, alg: MlKemAlg = ALG): KemKeyPair {
  assertLength(seed, ALG_SIZES[alg].seed, 'invalid_secret_key');
  return ml_kem768.keygen(seed);
}

/**
 * A public key expanded by noble's `prepare()`: the matrix Â, t̂ and H(ek), all public.
 * @internal
 */
export interface PreparedKey {
  readonly publicKey: Uint8Array;
  encapsulate(m?: Uint8Array): Encapsulation;
  decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array;
  clean(): void;
}

/**
 * The last eight public keys checked or encapsulated to, expanded (~8 KiB each). Measured on
 * Node 20 (docs/performance.md): encapsulation 0.58 → 0.34 ms to a kept key. Exported only for
 * `src/internal/testing.ts` to look into.
 * @internal
 */
export const preparedKeys: RecentCache<PreparedKey> =
  /* @__PURE__ */ createRecentCache<PreparedKey>(8, (key) => key.clean());

/**
 * `publicKey` expanded (noble's `prepare()`: the FIPS 203 §7.2 modulus check, then the matrix Â
 * and t̂ that every encapsulation to the key would otherwise expand again), from
 * {@link preparedKeys} when kept. A key that fails the check throws and is never kept, so it is
 * refused every time.
 */
function preparedKey(publicKey: Uint8Array, alg: MlKemAlg): PreparedKey {
  assertLength(publicKey, ALG_SIZES[alg].publicKey, 'invalid_public_key');
  return preparedKeys.obtain(publicKey, () => {
    try {
      return ml_kem768.prepare(publicKey);
    } catch (cause) {
      // The length was checked above, so noble's only remaining refusal is the §7.2 modulus check.
      throw new ZeqKeyExError('invalid_public_key', undefined, { cause });
    }
  });
}

/**
 * Checks a public key: its length for `alg` and the FIPS 203 §7.2 modulus check. The key is kept
 * expanded for the encapsulation that usually follows (one of the last few keys checked is not
 * checked again: it passed, and its bytes are the same).
 * @param publicKey - the encapsulation key.
 * @param alg - the algorithm.
 * @throws {ZeqKeyExError} `invalid_public_key`.
 */
export function assertPublicKey(publicKey: Uint8Array, alg: Alg = ALG): void {
  if (alg === ALG_XWING) {
    // §9: pk_M ‖ pk_X. Only the ML-KEM part has a check to run before encapsulating (FIPS 203
    // §7.2); every 32-byte string is an X25519 public key, and one of low order is refused when
    // encapsulating (an all-zero shared secret, `core/xwing.ts`).
    assertLength(publicKey, ALG_SIZES[ALG_XWING].publicKey, 'invalid_public_key');
    preparedKey(publicKey.subarray(0, ALG_SIZES[ALG].publicKey), ALG);
    return;
  }
  preparedKey(publicKey, alg);
}

/**
 * Encapsulates to a public key with fresh randomness, after the FIPS 203 §7.2 input checks.
 * @param publicKey - the peer's encapsulation key.
 * @param alg - the algorithm.
 * @returns the ciphertext and shared secret.
 * @throws {ZeqKeyExError} `invalid_public_key`.
 */
export function kemEncapsulate(publicKey: Uint8Array, alg: MlKemAlg = ALG): Encapsulation {
  return preparedKey(publicKey, alg).encapsulate();
}

/**
 * Deterministic encapsulation (ML-KEM.Encaps_internal with the given 32-byte `m`), through the
 * same expanded keys as {@link kemEncapsulate}. For known-answer tests only: tests reach it
 * through `src/internal/testing.ts`, and nothing in the SDK calls it.
 * @internal
 */
export function kemEncapsulateDerandomized(
  publicKey: Uint8Array,
  m: Uint8Array,
  alg: MlKemAlg = ALG,
): Encapsulation {
  if (!(m instanceof Uint8Array) || m.length !== ENCAPSULATION_RANDOMNESS_BYTES)
    throw new TypeError('m must be 32 bytes');
  return preparedKey(publicKey, alg).encapsulate(m);
}

/**
 * Decapsulates with an expanded FIPS 203 decapsulation key, after the §7.3 input checks.
 * @param secretKey - the expanded decapsulation key (2400 bytes for ML-KEM-768).
 * @param cipherText - the ciphertext.
 * @param alg - the algorithm.
 * @returns the 32-byte shared secret (pseudo-random if the ciphertext was not made for this key).
 * @throws {ZeqKeyExError} `invalid_cipher_text` or `invalid_secret_key`.
 */
export function kemDecapsulate(
  secretKey: Uint8Array,
  cipherText: Uint8Array,
  alg: MlKemAlg = ALG,
): Uint8Array {
  return decapsulateWith(ml_kem768, secretKey, cipherText, alg);
}

/** {@link kemDecapsulate} through noble's one-shot call or a key prepared for it. */
function decapsulateWith(
  via: Pick<PreparedKey, 'decapsulate'>,
  secretKey: Uint8Array,
  cipherText: Uint8Array,
  alg: MlKemAlg,
): Uint8Array {
  assertLength(cipherText, ALG_SIZES[alg].cipherText, 'invalid_cipher_text');
  assertLength(secretKey, EXPANDED_SECRET_KEY_BYTES, 'invalid_secret_key');
  try {
    return via.decapsulate(cipherText, secretKey);
  } catch (cause) {
    // Lengths were checked above; the remaining refusal is the §7.3 hash check of the key (for a
    // prepared key: the secret key does not embed the prepared public key, the same check).
    throw new ZeqKeyExError('invalid_secret_key', undefined, { cause });
  }
}

/**
 * Repeated decapsulation with one key pair, as a responder does with its machine key: the public
 * half is expanded (Â, t̂) on the first call and kept, so later calls skip the re-encryption's
 * matrix expansion (measured on Node 20, docs/performance.md: 0.84 → 0.45 ms a decapsulation).
 * Same results as {@link kemDecapsulate}, byte for byte.
 * @param pair - the key pair (from {@link kemKeygen}); its secret key stays the caller's to wipe.
 * @returns `decapsulate`, and `forget` to wipe the expansion (public data).
 * @internal
 */
export function kemDecapsulator(pair: KemKeyPair): {
  decapsulate(cipherText: Uint8Array): Uint8Array;
  forget(): void;
} {
  let prepared: PreparedKey | undefined;
  return {
    decapsulate: (cipherText) => {
      assertLength(cipherText, ALG_SIZES[ALG].cipherText, 'invalid_cipher_text');
      return decapsulateWith(
        (prepared ??= ml_kem768.prepare(pair.publicKey)),
        pair.secretKey,
        cipherText,
        ALG,
      );
    },
    forget: () => {
      prepared?.clean();
      prepared = undefined;
    },
  };
}

/**
 * Decapsulates with the 64-byte seed `d‖z` as stored at rest (spec §1), re-deriving the key.
 * @param seed - 64 bytes.
 * @param cipherText - the ciphertext.
 * @param alg - the algorithm.
 * @returns the 32-byte shared secret.
 * @throws {ZeqKeyExError} `invalid_cipher_text` or `invalid_secret_key`.
 */
export function kemDecapsulateSeed(
  seed: Uint8Array,
  cipherText: Uint8Array,
  alg: MlKemAlg = ALG,
): Uint8Array {
  assertLength(cipherText, ALG_SIZES[alg].cipherText, 'invalid_cipher_text');
  const pair = kemKeygen(seed, alg);
  try {
    return kemDecapsulate(pair.secretKey, cipherText, alg);
  } finally {
    pair.secretKey.fill(0);
  }
}
