/**
 * What the platform provides to the cryptography of the SDK: the native ML-KEM candidates, tried
 * in order (`kem-backend.ts`), the native X25519 candidates of X-Wing (`xwing-backend.ts`), the synchronous AES-256-GCM (`core/primitives.ts`), and the asynchronous one
 * of the records (`webcrypto-aead.ts`).
 *
 * This is the portable platform of the default build (browsers, workers, anything without the
 * `node` export condition): WebCrypto ML-KEM where it exists, noble's AES-GCM for synchronous
 * calls and WebCrypto's for asynchronous ones (noble's where WebCrypto fails its probe). The Node build
 * (`node` condition, also taken by Deno and Bun) replaces this module with `platform.node.ts` at
 * build time (tsup.config.ts; vitest.config.ts does the same for the Node test run), which
 * exports the same names with the same types. Nothing is registered at import time, so
 * `sideEffects: false` holds.
 *
 * Each part is its own export rather than a property of one object, so that a bundle keeps only
 * the parts it calls (an app that only opens never ships the sealing).
 * @module
 */
import {
  type AeadBackend,
  type AeadBackendName,
  type AsyncAeadBackendName,
  type AsyncAeadKey,
  nobleOpen,
  nobleSeal,
} from './aead-backend.js';
import type { KemDriverProbe } from './kem-backend.js';
import type { DsaVerifierProbe } from './dsa-backend.js';
import { webCryptoDsaVerifier } from './webcrypto-dsa.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { sha3_256 as nobleSha3_256 } from '@noble/hashes/sha3.js';
import { webCryptoAeadBackend, webCryptoAeadKey } from './webcrypto-aead.js';
import { webCryptoKemDriver } from './webcrypto-kem.js';
import type { X25519DriverProbe } from './xwing-backend.js';
import { webCryptoX25519Driver } from './webcrypto-x25519.js';

/** Native ML-KEM drivers, in order of preference. */
export const kemDrivers: readonly KemDriverProbe[] = [webCryptoKemDriver];

/** Native X25519 drivers, in order of preference, for X-Wing's native backend (`xwing-backend.ts`). */
export const x25519Drivers: readonly X25519DriverProbe[] = [webCryptoX25519Driver];
/** Native ML-DSA-65 verifiers, in order of preference (spec §8.2; probed in `dsa-backend.ts`). */
export const dsaVerifiers: readonly DsaVerifierProbe[] = [webCryptoDsaVerifier];

/** Which AES-256-GCM implementation {@link aeadSeal} and {@link aeadOpen} are. */
export const aeadName: AeadBackendName = 'noble';

/** AES-256-GCM encryption; synchronous. */
export const aeadSeal: AeadBackend['seal'] = nobleSeal;

/** AES-256-GCM decryption; synchronous. */
export const aeadOpen: AeadBackend['open'] = nobleOpen;

/** Drops what the AES-256-GCM backend keeps for a key, where it keeps anything (not here). */
export const aeadForget: AeadBackend['forget'] = undefined;

/**
 * A key for the records' asynchronous AES-256-GCM: WebCrypto when it passes its probe, noble
 * otherwise. A platform whose synchronous AES-GCM is the fastest it has leaves it out, and the
 * asynchronous record calls run the synchronous ones.
 */
export const aeadKeyAsync: ((key: Uint8Array) => AsyncAeadKey) | undefined = webCryptoAeadKey;

/** Which implementation {@link aeadKeyAsync} uses in this runtime (after the probe). */
export const aeadAsyncName: () => Promise<AsyncAeadBackendName> = webCryptoAeadBackend;

/** Characters per `String.fromCharCode` call in {@link base64Of} (below the engines' argument limits). */
const CHUNK = 0x8000;

/**
 * RFC 4648 base64, standard alphabet, with padding: the one spelling `encoding.ts` accepts.
 * @param bytes - any bytes.
 * @returns the base64 text.
 */
export function base64Of(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return btoa(binary);
}

/**
 * The bytes base64 text spells, leniently: `atob` tolerates whitespace, missing padding and
 * non-zero pad bits, which `encoding.ts` refuses by re-encoding with {@link base64Of}.
 * @param text - the text.
 * @returns fresh bytes, or `undefined` for characters outside the alphabet.
 */
export function base64Bytes(text: string): Uint8Array | undefined {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** SHA-256. */
export const sha256: (message: Uint8Array) => Uint8Array = nobleSha256;

/**
 * SHA-256 of `prefix ‖ rest` for any number of `rest`s, the prefix hashed once: the state after
 * the prefix is copied for each call. Public data only (the state is kept).
 * @param prefix - the bytes every message starts with.
 * @returns a function of the rest, returning the 32-byte digest.
 */
export function sha256Prefixed(prefix: Uint8Array): (rest: Uint8Array) => Uint8Array {
  const state = nobleSha256.create().update(prefix);
  return (rest) => state.clone().update(rest).digest();
}

/** SHA3-256 (X-Wing's combiner). */
export const sha3_256: (message: Uint8Array) => Uint8Array = nobleSha3_256;
