/**
 * ML-KEM-768 from WebCrypto (the WICG "Modern Algorithms in WebCrypto" API: `encapsulateBits`,
 * `decapsulateBits`, `getPublicKey`, keys imported as `raw-seed` and `raw-public`), as shipped by
 * Chromium, Deno and Bun. Runtimes without it make {@link webCryptoKemDriver} answer `undefined`;
 * one that has it is still probed against noble before use (`kem-backend.ts`).
 *
 * Secret keys are imported non-extractable; the caller's seed is copied by WebCrypto when it is
 * imported, so the caller wipes its own copy.
 * @module
 */
import type { Encapsulation } from '../core/kem.js';
import type { KemDriver } from './kem-backend.js';
import { ALG } from '../core/constants.js';
import { ZeqKeyExError } from '../core/errors.js';

/** The parts of the WebCrypto KEM API used here (not yet in TypeScript's DOM types). */
interface KemSubtle {
  importKey(
    format: 'raw-seed' | 'raw-public',
    keyData: Uint8Array,
    algorithm: { name: string },
    extractable: boolean,
    usages: string[],
  ): Promise<object>;
  exportKey(format: 'raw-public', key: object): Promise<ArrayBuffer>;
  getPublicKey(key: object, usages: string[]): Promise<object>;
  encapsulateBits(
    algorithm: { name: string },
    key: object,
  ): Promise<{ sharedKey: ArrayBuffer; ciphertext: ArrayBuffer }>;
  decapsulateBits(
    algorithm: { name: string },
    key: object,
    cipherText: Uint8Array,
  ): Promise<ArrayBuffer>;
}

const ALGORITHM = { name: ALG };

/**
 * The WebCrypto ML-KEM-768 driver, when `crypto.subtle` has the KEM methods.
 * @returns the driver, or `undefined` when the API is absent.
 */
export async function webCryptoKemDriver(): Promise<KemDriver | undefined> {
  // The KEM methods are there only where the runtime ships the API: checked before any use.
  const api = (globalThis as unknown as { crypto?: { subtle?: Partial<KemSubtle> } }).crypto
    ?.subtle as KemSubtle | undefined;
  if (
    typeof api?.encapsulateBits !== 'function' ||
    typeof api.decapsulateBits !== 'function' ||
    typeof api.getPublicKey !== 'function'
  )
    return undefined;
  return {
    name: 'webcrypto',
    async importSecretKey(seed: Uint8Array) {
      const privateKey = await api.importKey('raw-seed', seed, ALGORITHM, false, [
        'decapsulateBits',
      ]);
      return {
        publicKey: new Uint8Array(
          await api.exportKey(
            'raw-public',
            await api.getPublicKey(privateKey, ['encapsulateBits']),
          ),
        ),
        decapsulate: async (cipherText: Uint8Array): Promise<Uint8Array> =>
          new Uint8Array(await api.decapsulateBits(ALGORITHM, privateKey, cipherText)),
      };
    },
    async encapsulate(publicKey: Uint8Array): Promise<Encapsulation> {
      let result: { sharedKey: ArrayBuffer; ciphertext: ArrayBuffer };
      try {
        // Chromium and Bun refuse a key failing the §7.2 modulus check on import, Deno on use.
        result = await api.encapsulateBits(
          ALGORITHM,
          await api.importKey('raw-public', publicKey, ALGORITHM, false, ['encapsulateBits']),
        );
      } catch (cause) {
        throw new ZeqKeyExError('invalid_public_key', undefined, { cause });
      }
      return {
        cipherText: new Uint8Array(result.ciphertext),
        sharedSecret: new Uint8Array(result.sharedKey),
      };
    },
  };
}
