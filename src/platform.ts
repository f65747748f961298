/**
 * What the platform provides to the cryptography of the SDK: the native ML-KEM candidates, tried
 * in order (`kem-backend.ts`), and the synchronous AES-256-GCM (`aead.ts`).
 *
 * This is the portable platform of the default build (browsers, workers, anything without the
 * `node` export condition): WebCrypto ML-KEM where it exists, noble's AES-GCM. The Node build
 * (`node` condition, also taken by Deno and Bun) replaces this module with `node/platform.ts` at
 * build time (tsup.config.ts; vitest.config.ts does the same for the Node test run). Nothing is
 * registered at import time, so `sideEffects: false` holds.
 * @module
 */
import { type AeadBackend, nobleAead } from './aead.js';
import type { KemDriverProbe } from './kem-backend.js';
import { webCryptoKemDriver } from './webcrypto-kem.js';

/** The platform's cryptography. */
export interface Platform {
  /** Native ML-KEM drivers, in order of preference. */
  readonly kemDrivers: readonly KemDriverProbe[];
  /** AES-256-GCM; synchronous. */
  readonly aead: AeadBackend;
}

/** The portable platform. */
export const platform: Platform = { kemDrivers: [webCryptoKemDriver], aead: nobleAead };
