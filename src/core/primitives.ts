/**
 * Thin wrappers over noble's SHA-256, HMAC-SHA256 and HKDF-SHA256, and over the platform's
 * AES-256-GCM (spec §1), with the SDK's input checks. No primitive is implemented here: hashing
 * is noble's (SHA-256 is `node:crypto`'s in the Node build); AES-GCM is noble's or, in the Node
 * build, `node:crypto`'s (`backends/aead-backend.ts`, `backends/platform.ts`).
 *
 * Caveat: AES-GCM nonces must never repeat under one key. Every caller in this SDK either draws a
 * random 96-bit nonce for a key used a handful of times (confirmation, sealing) or derives it from
 * a strictly increasing `(epoch, seq)` counter (records, §3).
 * @module
 */
import { equalBytes } from '@noble/ciphers/utils.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { randomBytes as nobleRandomBytes } from '@noble/hashes/utils.js';
import type { AeadBackendName, AsyncAeadBackendName } from '../backends/aead-backend.js';
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from './constants.js';
import {
  aeadAsyncName,
  aeadForget,
  aeadName,
  aeadOpen as platformOpen,
  aeadSeal as platformSeal,
  sha256 as platformSha256,
  sha256Prefixed as platformSha256Prefixed,
} from '../backends/platform.js';

/** The most HKDF-SHA256 can expand to: 255 blocks of 32 bytes (RFC 5869 §2.3). */
const HKDF_MAX_BYTES = 255 * 32;

/**
 * SHA-256.
 * @param message - the bytes to hash.
 * @returns the 32-byte digest.
 */
export const sha256: (message: Uint8Array) => Uint8Array = platformSha256;

/**
 * SHA-256 of messages that share a prefix, the prefix hashed once (the state after it is copied
 * per message). For public data only: the state is kept as long as the returned function.
 * @param prefix - the bytes every message starts with.
 * @returns a function of the rest of a message, returning the 32-byte digest of `prefix ‖ rest`.
 */
export const sha256Prefixed: (prefix: Uint8Array) => (rest: Uint8Array) => Uint8Array =
  platformSha256Prefixed;

/**
 * HMAC-SHA256.
 * @param key - the MAC key, any length.
 * @param message - the message.
 * @returns the 32-byte tag.
 */
export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  return hmac(nobleSha256, key, message);
}

/**
 * HKDF-Expand with SHA-256 (RFC 5869 §2.3).
 * @param prk - a pseudorandom key of at least 32 bytes.
 * @param info - the context string.
 * @param length - output length, at most 8160 bytes.
 * @returns `length` bytes of output keying material.
 * @throws {RangeError} when `length` is out of range.
 */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > HKDF_MAX_BYTES)
    throw new RangeError('HKDF length must be an integer in [0, 8160]');
  return expand(nobleSha256, prk, info, length);
}

/**
 * HKDF-SHA256, extract then expand (RFC 5869 §2), arguments in noble's order.
 * @param ikm - the input keying material.
 * @param salt - the salt (empty: 32 zero bytes), e.g. a transcript hash.
 * @param info - the context string.
 * @param length - output length, at most 8160 bytes.
 * @returns `length` bytes of output keying material.
 * @throws {RangeError} when `length` is out of range.
 */
export function hkdf(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const prk = extract(nobleSha256, ikm, salt);
  try {
    return hkdfExpand(prk, info, length);
  } finally {
    prk.fill(0);
  }
}

/** Checks an AES-256-GCM key and nonce (programmer input: every caller passes fixed sizes). */
function checkAeadInputs(key: Uint8Array, nonce: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== AEAD_KEY_BYTES)
    throw new TypeError('AES-256-GCM key must be 32 bytes');
  if (!(nonce instanceof Uint8Array) || nonce.length !== AEAD_NONCE_BYTES)
    throw new TypeError('AES-256-GCM nonce must be 12 bytes');
}

/**
 * AES-256-GCM encryption with a 96-bit nonce.
 * @param key - 32 bytes.
 * @param nonce - 12 bytes, never reused under `key`.
 * @param plaintext - the message.
 * @param aad - associated data.
 * @returns `ciphertext ‖ tag` (16-byte tag).
 * @throws {TypeError} on a wrong key or nonce length.
 */
export function aeadSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  checkAeadInputs(key, nonce);
  return platformSeal(key, nonce, plaintext, aad);
}

/**
 * {@link aeadSeal} with `prefix` in front of the output, in one array (a record's header).
 * @returns `prefix ‖ ciphertext ‖ tag`.
 * @throws {TypeError} on a wrong key or nonce length.
 * @internal
 */
export function aeadSealPrefixed(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  prefix: Uint8Array,
): Uint8Array {
  checkAeadInputs(key, nonce);
  return platformSeal(key, nonce, plaintext, aad, prefix);
}

/**
 * AES-256-GCM decryption with a 96-bit nonce.
 * @param key - 32 bytes.
 * @param nonce - 12 bytes.
 * @param sealed - `ciphertext ‖ tag`.
 * @param aad - associated data.
 * @returns the plaintext, or `undefined` when the tag does not verify (or `sealed` is shorter than a tag).
 * @throws {TypeError} on a wrong key or nonce length.
 */
export function aeadOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  checkAeadInputs(key, nonce);
  if (sealed.length < AEAD_TAG_BYTES) return undefined;
  return platformOpen(key, nonce, sealed, aad);
}

/**
 * Which AES-256-GCM implementation `aeadSeal` and `aeadOpen` use: `'node'`
 * (`node:crypto`, in the Node build, which Node, Deno and Bun load) or `'noble'` (elsewhere).
 * @returns the backend's name.
 */
export function aeadBackend(): AeadBackendName {
  return aeadName;
}

/**
 * Which AES-256-GCM implementation the records' asynchronous calls (`sealAsync`, `openAsync`,
 * `request`) use in this runtime: `'node'` (`node:crypto`, in the Node build); in the portable
 * build `'webcrypto'` when WebCrypto's AES-GCM passes a probe against noble (run once, on the
 * first call that needs it), else `'noble'`.
 * @returns the backend's name.
 */
export function aeadBackendAsync(): Promise<AsyncAeadBackendName> {
  return aeadAsyncName();
}

/**
 * Constant-time equality of two byte strings (the length is not secret).
 * @param a - bytes.
 * @param b - bytes.
 * @returns whether they are equal.
 */
export const constantTimeEqual: (a: Uint8Array, b: Uint8Array) => boolean = equalBytes;

/**
 * Cryptographically secure random bytes from the platform CSPRNG.
 * @param length - how many.
 * @returns fresh random bytes.
 */
export const randomBytes: (length: number) => Uint8Array = nobleRandomBytes;

/**
 * Overwrites secrets with zeros.
 * @param arrays - the buffers to wipe (undefined entries are skipped).
 */
export function wipe(...arrays: (Uint8Array | undefined)[]): void {
  for (const a of arrays) {
    if (a === undefined) continue;
    a.fill(0);
    // A key the AES-GCM backend imported (the Node build keeps a KeyObject per key) goes with it.
    aeadForget?.(a);
  }
}
