/**
 * ML-DSA-65 verification from WebCrypto (the WICG "Modern Algorithms in WebCrypto" API: keys
 * imported as `raw-public`, `verify` with the `ML-DSA-65` algorithm and an empty context), where a
 * runtime ships it. Probed against noble before use (`dsa-backend.ts`).
 * @module
 */
import { SIG_ALG } from '../core/constants.js';
import type { DsaVerifierDriver } from './dsa-backend.js';

/** The parts of the WebCrypto API used here (ML-DSA is not yet in TypeScript's DOM types). */
interface DsaSubtle {
  importKey(
    format: 'raw-public',
    keyData: Uint8Array,
    algorithm: { name: string },
    extractable: boolean,
    usages: string[],
  ): Promise<object>;
  verify(
    algorithm: { name: string },
    key: object,
    signature: Uint8Array,
    data: Uint8Array,
  ): Promise<boolean>;
}

const ALGORITHM = { name: SIG_ALG };

/**
 * The WebCrypto ML-DSA-65 verifier, when `crypto.subtle` can import an ML-DSA-65 key.
 * @returns the driver, or `undefined`.
 */
export async function webCryptoDsaVerifier(): Promise<DsaVerifierDriver | undefined> {
  const api = (globalThis as unknown as { crypto?: { subtle?: Partial<DsaSubtle> } }).crypto
    ?.subtle as DsaSubtle | undefined;
  if (typeof api?.importKey !== 'function' || typeof api.verify !== 'function') return undefined;
  return {
    name: 'webcrypto',
    async verify(signature, message, identityKey) {
      const key = await api.importKey('raw-public', identityKey, ALGORITHM, false, ['verify']);
      return api.verify(ALGORITHM, key, signature, message);
    },
  };
}
