/**
 * The platform of the Node build (`node` export condition; Deno and Bun take it too): the one
 * module of the SDK's cryptography that imports `node:crypto`. At build time it replaces
 * `platform.ts` (see tsup.config.ts), so the default build, and every browser bundle made from
 * it, never reaches `node:*`.
 *
 * - ML-KEM-768: `node:crypto`'s `encapsulate`/`decapsulate` (OpenSSL, Node ≥ 24.7), keys imported
 *   from the 64-byte seed (`raw-seed`) and public keys as `raw-public`; these print no
 *   ExperimentalWarning. Then WebCrypto, for Deno and Bun, whose `node:crypto` has no ML-KEM. In
 *   Node itself WebCrypto's ML-KEM is never tried: it prints an ExperimentalWarning, and every Node
 *   that has it also has `node:crypto`'s.
 * - AES-256-GCM: `createCipheriv`/`createDecipheriv` with a 16-byte tag: synchronous, as the record
 *   ratchet needs, and several times faster than pure JS in Node, Deno and Bun.
 *
 * Caveat: `node:crypto` copies keys into native memory that the SDK cannot zero; the SDK wipes
 * its own copies, and drops its references to native keys on close.
 * @module
 */
import * as crypto from 'node:crypto';
import { type AeadBackend } from '../aead.js';
import { ZeqKeyExError } from '../errors.js';
import type { Encapsulation } from '../kem.js';
import type { KemDriver } from '../kem-backend.js';
import type { Platform } from '../platform.js';
import { webCryptoKemDriver } from '../webcrypto-kem.js';

const TAG_BYTES = 16;
const KEY_TYPE = 'ml-kem-768';

/** `node:crypto`'s ML-KEM API (Node ≥ 24.7), which Node 20's type definitions do not have yet. */
interface NodeKemApi {
  encapsulate(key: crypto.KeyObject): { sharedKey: Uint8Array; ciphertext: Uint8Array };
  decapsulate(key: crypto.KeyObject, cipherText: Uint8Array): Uint8Array;
  createPrivateKey(input: { key: Uint8Array; format: 'raw-seed'; asymmetricKeyType: string }): crypto.KeyObject;
  createPublicKey(input: crypto.KeyObject | { key: Uint8Array; format: 'raw-public'; asymmetricKeyType: string }): crypto.KeyObject;
}

/** A fresh `Uint8Array` with the bytes of a Buffer `node:crypto` returned, which is then zeroed. */
function take(buffer: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(buffer);
  buffer.fill(0);
  return copy;
}

/**
 * `node:crypto`'s ML-KEM-768, when this Node has it.
 * @returns the driver, or `undefined`.
 */
export async function nodeKemDriver(): Promise<KemDriver | undefined> {
  const api = crypto as unknown as Partial<NodeKemApi>;
  if (typeof api.encapsulate !== 'function' || typeof api.decapsulate !== 'function') return undefined;
  const node = api as NodeKemApi;
  return {
    name: 'node',
    async importSecretKey(seed: Uint8Array) {
      const privateKey = node.createPrivateKey({ key: seed, format: 'raw-seed', asymmetricKeyType: KEY_TYPE });
      const publicKey = new Uint8Array(node.createPublicKey(privateKey).export({ format: 'raw-public' } as unknown as crypto.KeyExportOptions<'der'>));
      return { publicKey, decapsulate: async (cipherText: Uint8Array): Promise<Uint8Array> => take(node.decapsulate(privateKey, cipherText)) };
    },
    async encapsulate(publicKey: Uint8Array): Promise<Encapsulation> {
      let key: crypto.KeyObject;
      try {
        // The import runs the FIPS 203 §7.2 modulus check.
        key = node.createPublicKey({ key: publicKey, format: 'raw-public', asymmetricKeyType: KEY_TYPE });
      } catch (cause) {
        throw new ZeqKeyExError('invalid_public_key', undefined, { cause });
      }
      const { sharedKey, ciphertext } = node.encapsulate(key);
      return { cipherText: take(ciphertext), sharedSecret: take(sharedKey) };
    },
  };
}

/** Whether this is Node itself rather than Deno or Bun running the Node build. */
function isNode(): boolean {
  const g = globalThis as Record<string, unknown>;
  return g['Deno'] === undefined && g['Bun'] === undefined;
}

/**
 * AES-256-GCM from `node:crypto`. The key goes in as a `KeyObject`: Node 24 takes three times as
 * long to set up a cipher from raw key bytes as from a `KeyObject` made from the same bytes.
 */
export const nodeAead: AeadBackend = {
  name: 'node',
  seal(key, nonce, plaintext, aad) {
    const cipher = crypto.createCipheriv('aes-256-gcm', crypto.createSecretKey(key), nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    const rest = cipher.final();
    const tag = cipher.getAuthTag();
    const sealed = new Uint8Array(body.length + rest.length + TAG_BYTES);
    sealed.set(body);
    sealed.set(rest, body.length);
    sealed.set(tag, body.length + rest.length);
    return sealed;
  },
  open(key, nonce, sealed, aad) {
    const decipher = crypto.createDecipheriv('aes-256-gcm', crypto.createSecretKey(key), nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    // GCM decrypts before it verifies: this output is released only if final() accepts the tag.
    const body = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    let rest: Uint8Array;
    try {
      rest = decipher.final();
    } catch {
      body.fill(0);
      return undefined;
    }
    const plaintext = new Uint8Array(body.length + rest.length);
    plaintext.set(body);
    plaintext.set(rest, body.length);
    body.fill(0);
    return plaintext;
  },
};

/** The Node platform. */
export const platform: Platform = {
  kemDrivers: [nodeKemDriver, async () => (isNode() ? undefined : webCryptoKemDriver())],
  aead: nodeAead,
};
