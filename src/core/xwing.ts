/**
 * The synchronous X-Wing layer (spec §9, draft-connolly-cfrg-xwing-kem): noble's
 * `ml_kem768_x25519` with the SDK's input checks and error codes, and the two pieces of the draft
 * that the native backends (`backends/xwing-backend.ts`) compose around native ML-KEM-768 and
 * X25519: the SHAKE256 expansion of the 32-byte seed and the SHA3-256 combiner.
 *
 * Only `backends/xwing-backend.ts` imports this module, and only through a dynamic `import()`:
 * an app that never accepts X-Wing never loads it (nor noble's X25519).
 *
 * Key form: a secret key is the **32-byte X-Wing seed** (the draft's decapsulation key, and what
 * is stored at rest, §5), expanded with `SHAKE256(seed, 96)` to `d‖z` (ML-KEM-768) and `sk_X`.
 *
 * Security caveats:
 * - ML-KEM's implicit rejection carries over: a ciphertext whose ML-KEM part was made for another
 *   key decapsulates to an unrelated secret, noticed only by key confirmation (§2.3).
 * - X25519 (RFC 7748) gives an all-zero shared secret for a peer value of low order. The draft
 *   mandates no check; noble, OpenSSL (`node:crypto`) and WebCrypto all refuse such a result, so
 *   the SDK refuses it on every backend alike: an encapsulation to such a key is
 *   `invalid_public_key`, a decapsulation of such a ciphertext `invalid_cipher_text`. The refusal
 *   depends on public values only (the ciphertext's or key's X25519 part), so it reveals nothing
 *   secret; an X-Wing key the SDK made never has such a part.
 * - Clamping of X25519 scalars is left to the primitive (noble, OpenSSL, WebCrypto), never done
 *   here.
 * - Callers wipe the shared secrets they get; the seed passed in stays the caller's to wipe.
 * @module
 */
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { sha3_256, shake256 } from '@noble/hashes/sha3.js';
import { ALG, ALG_SIZES, ALG_XWING, XWING_LABEL } from './constants.js';
import { ZeqKeyExError } from './errors.js';
import { type Encapsulation, assertLength, assertPublicKey } from './kem.js';

/**
 * noble's X-Wing itself, without the SDK's checks: the reference the native backends are probed
 * against (`backends/xwing-backend.ts`), where every failure is a disagreement anyway.
 * @internal
 */
export const nobleXWing: typeof ml_kem768_x25519 = ml_kem768_x25519;

/** §9: where the ML-KEM-768 and X25519 parts of a key and a ciphertext meet. */
export const XWING_SPLIT: {
  /** Bytes of `pk_M` in a public key. */
  readonly publicKey: number;
  /** Bytes of `ct_M` in a ciphertext. */
  readonly cipherText: number;
} = { publicKey: ALG_SIZES[ALG].publicKey, cipherText: ALG_SIZES[ALG].cipherText };

/** Size of X-Wing's encapsulation randomness: ML-KEM's `m`, then the X25519 ephemeral secret. */
const ENCAPSULATION_RANDOMNESS_BYTES = 64;

/** The expanded X-Wing seed: the ML-KEM-768 seed `d‖z` and the X25519 secret key `sk_X`. */
export interface XWingExpandedSeed {
  /** The 64-byte FIPS 203 seed `d‖z`. Wipe after use. */
  mlKemSeed: Uint8Array;
  /** The 32-byte X25519 secret key (clamped by the primitive that uses it). Wipe after use. */
  x25519SecretKey: Uint8Array;
}

/**
 * The draft's key expansion: `SHAKE256(seed, 96)` split into `d‖z` and `sk_X`.
 * @param seed - the 32-byte X-Wing seed (not modified).
 * @returns fresh buffers, the caller's to wipe.
 * @throws {ZeqKeyExError} `invalid_secret_key` when the seed is not 32 bytes.
 */
export function expandXWingSeed(seed: Uint8Array): XWingExpandedSeed {
  assertLength(seed, ALG_SIZES[ALG_XWING].seed, 'invalid_secret_key');
  const expanded = shake256(seed, { dkLen: 96 });
  try {
    return { mlKemSeed: expanded.slice(0, 64), x25519SecretKey: expanded.slice(64, 96) };
  } finally {
    expanded.fill(0);
  }
}

/**
 * The X-Wing combiner: `SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ "\.//^\")`.
 * @param mlKemSecret - `ss_M`, 32 bytes.
 * @param x25519Secret - `ss_X`, 32 bytes.
 * @param x25519CipherText - `ct_X`, the ephemeral public key.
 * @param x25519PublicKey - `pk_X`, the recipient's X25519 public key.
 * @param hash - SHA3-256: noble's by default; a backend passes its platform's native one.
 * @returns the 32-byte shared secret. The inputs are not wiped.
 */
export function combineXWing(
  mlKemSecret: Uint8Array,
  x25519Secret: Uint8Array,
  x25519CipherText: Uint8Array,
  x25519PublicKey: Uint8Array,
  hash: (message: Uint8Array) => Uint8Array = sha3_256,
): Uint8Array {
  const label = new TextEncoder().encode(XWING_LABEL);
  const input = new Uint8Array(32 + 32 + 32 + 32 + label.length);
  input.set(mlKemSecret, 0);
  input.set(x25519Secret, 32);
  input.set(x25519CipherText, 64);
  input.set(x25519PublicKey, 96);
  input.set(label, 128);
  try {
    return hash(input);
  } finally {
    input.fill(0);
  }
}

/**
 * The public key of a 32-byte X-Wing seed (the draft's KeyGen).
 * @param seed - 32 bytes (not modified).
 * @returns the 1216-byte public key `pk_M ‖ pk_X`.
 * @throws {ZeqKeyExError} `invalid_secret_key` when the seed is not 32 bytes.
 */
export function xwingPublicKey(seed: Uint8Array): Uint8Array {
  assertLength(seed, ALG_SIZES[ALG_XWING].seed, 'invalid_secret_key');
  const pair = ml_kem768_x25519.keygen(seed.slice());
  pair.secretKey.fill(0);
  return pair.publicKey;
}

/** {@link xwingEncapsulate} with or without fixed randomness. */
function encapsulateWith(publicKey: Uint8Array, randomness?: Uint8Array): Encapsulation {
  // Length and the ML-KEM part's FIPS 203 §7.2 modulus check, with the SDK's code.
  assertPublicKey(publicKey, ALG_XWING);
  try {
    // Stryker disable next-line ConditionalExpression: `=== undefined` → false is equivalent: noble's `encapsulate` draws fresh randomness for an undefined second argument all the same.
    return randomness === undefined
      ? ml_kem768_x25519.encapsulate(publicKey)
      : ml_kem768_x25519.encapsulate(publicKey, randomness);
  } catch (cause) {
    // The ML-KEM part passed its check: noble's one refusal left is an X25519 key of low order.
    throw new ZeqKeyExError('invalid_public_key', undefined, { cause });
  }
}

/**
 * Encapsulates to an X-Wing public key with fresh randomness, after the input checks of §1 and §9
 * (length 1216, the ML-KEM part's modulus check).
 * @param publicKey - the peer's 1216-byte public key.
 * @returns the 1120-byte ciphertext and the 32-byte shared secret.
 * @throws {ZeqKeyExError} `invalid_public_key`.
 */
export function xwingEncapsulate(publicKey: Uint8Array): Encapsulation {
  return encapsulateWith(publicKey);
}

/**
 * Deterministic encapsulation (the draft's EncapsulateDerand, with the 64-byte `eseed`), for
 * known-answer tests only: tests reach it through `src/internal/testing.ts`.
 * @internal
 */
export function xwingEncapsulateDerandomized(
  publicKey: Uint8Array,
  eseed: Uint8Array,
): Encapsulation {
  if (!(eseed instanceof Uint8Array) || eseed.length !== ENCAPSULATION_RANDOMNESS_BYTES)
    throw new TypeError('eseed must be 64 bytes');
  return encapsulateWith(publicKey, eseed);
}

/**
 * Decapsulates with the 32-byte X-Wing seed.
 * @param seed - 32 bytes (not modified).
 * @param cipherText - 1120 bytes.
 * @returns the 32-byte shared secret (pseudo-random if the ML-KEM part was not made for this key).
 * @throws {ZeqKeyExError} `invalid_cipher_text` (length, or an X25519 part of low order),
 *   `invalid_secret_key`.
 */
export function xwingDecapsulate(seed: Uint8Array, cipherText: Uint8Array): Uint8Array {
  assertLength(cipherText, ALG_SIZES[ALG_XWING].cipherText, 'invalid_cipher_text');
  assertLength(seed, ALG_SIZES[ALG_XWING].seed, 'invalid_secret_key');
  try {
    return ml_kem768_x25519.decapsulate(cipherText, seed);
  } catch (cause) {
    // Lengths were checked; ML-KEM never refuses a well-formed ciphertext: the X25519 part is of
    // low order (an all-zero shared secret).
    throw new ZeqKeyExError('invalid_cipher_text', undefined, { cause });
  }
}
