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
 * - X25519, for X-Wing: `diffieHellman` over `KeyObject`s: secret keys imported from PKCS #8 DER,
 *   public values imported and exported as JWK (the fastest form in every Node).
 * - SHA3-256, for X-Wing's combiner: the one-shot `crypto.hash`.
 * - AES-256-GCM: `createCipheriv`/`createDecipheriv` with a 16-byte tag: synchronous, as the record
 *   ratchet needs, and several times faster than pure JS in Node, Deno and Bun.
 *
 * Caveat: `node:crypto` copies keys into native memory that the SDK cannot zero; the SDK wipes
 * its own copies, and drops its references to native keys on close.
 * @module
 */
import { Buffer } from 'node:buffer';
import { equalBytes } from '@noble/ciphers/utils.js';
import * as crypto from 'node:crypto';
import { AEAD_TAG_BYTES } from '../core/constants.js';
import { ZeqKeyExError } from '../core/errors.js';
import type { Encapsulation } from '../core/kem.js';
import type { KemDriver } from './kem-backend.js';
import type * as portable from './platform.js';
import { webCryptoKemDriver } from './webcrypto-kem.js';
import { webCryptoX25519Driver } from './webcrypto-x25519.js';
import type { X25519Driver } from './xwing-backend.js';
import { createRecentCache } from '../core/recent-cache.js';

const KEY_TYPE = 'ml-kem-768';

/** `node:crypto`'s ML-KEM API (Node ≥ 24.7), which Node 20's type definitions do not have yet. */
interface NodeKemApi {
  encapsulate(key: crypto.KeyObject): { sharedKey: Uint8Array; ciphertext: Uint8Array };
  decapsulate(key: crypto.KeyObject, cipherText: Uint8Array): Uint8Array;
  createPrivateKey(input: {
    key: Uint8Array;
    format: 'raw-seed';
    asymmetricKeyType: string;
  }): crypto.KeyObject;
  createPublicKey(
    input: crypto.KeyObject | { key: Uint8Array; format: 'raw-public'; asymmetricKeyType: string },
  ): crypto.KeyObject;
}

/** A fresh `Uint8Array` with the bytes of a Buffer `node:crypto` returned, which is then zeroed. */
function take(buffer: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(buffer);
  buffer.fill(0);
  return copy;
}

/**
 * The last sixteen public keys encapsulated to, imported: a client doing handshake after handshake
 * with the same responders imports each key once, not per handshake (an import, with its modulus
 * check, costs about as much as the encapsulation itself; docs/performance.md).
 */
const importedPublicKeys = /* @__PURE__ */ createRecentCache<crypto.KeyObject>(16);

/** `publicKey` imported into `node:crypto`, from {@link importedPublicKeys} when kept. */
function importedPublicKey(node: NodeKemApi, publicKey: Uint8Array): crypto.KeyObject {
  return importedPublicKeys.obtain(publicKey, () => {
    try {
      // The import runs the FIPS 203 §7.2 modulus check; a key that fails it is never kept.
      return node.createPublicKey({
        key: publicKey,
        format: 'raw-public',
        asymmetricKeyType: KEY_TYPE,
      });
    } catch (cause) {
      throw new ZeqKeyExError('invalid_public_key', undefined, { cause });
    }
  });
}

/**
 * `node:crypto`'s ML-KEM-768, when this Node has it.
 * @returns the driver, or `undefined`.
 */
export async function nodeKemDriver(): Promise<KemDriver | undefined> {
  const api = crypto as unknown as Partial<NodeKemApi>;
  if (typeof api.encapsulate !== 'function' || typeof api.decapsulate !== 'function')
    return undefined;
  const node = api as NodeKemApi;
  return {
    name: 'node',
    async importSecretKey(seed: Uint8Array) {
      const privateKey = node.createPrivateKey({
        key: seed,
        format: 'raw-seed',
        asymmetricKeyType: KEY_TYPE,
      });
      const publicKey = new Uint8Array(
        node
          .createPublicKey(privateKey)
          .export({ format: 'raw-public' } as unknown as crypto.KeyExportOptions<'der'>),
      );
      return {
        publicKey,
        decapsulate: async (cipherText: Uint8Array): Promise<Uint8Array> =>
          take(node.decapsulate(privateKey, cipherText)),
      };
    },
    async encapsulate(publicKey: Uint8Array): Promise<Encapsulation> {
      const { sharedKey, ciphertext } = node.encapsulate(importedPublicKey(node, publicKey));
      return { cipherText: take(ciphertext), sharedSecret: take(sharedKey) };
    },
  };
}

/** The DER prefix of a raw X25519 secret key (RFC 8410, PKCS #8). */
const X25519_PKCS8_PREFIX = /* @__PURE__ */ Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * A raw X25519 public value as a `KeyObject` (any 32 bytes import; a low-order one fails on use),
 * imported as a JWK: several times faster than the same key as SPKI DER on Node 20, and faster on
 * Node 24 too (`npm run bench`, the X-Wing section).
 */
function x25519PublicKey(bytes: Uint8Array): crypto.KeyObject {
  return crypto.createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(bytes).toString('base64url') },
    format: 'jwk',
  });
}

/** The raw 32 bytes of an X25519 public `KeyObject`, through its JWK (DER export costs ~30× more). */
function rawX25519(key: crypto.KeyObject): Uint8Array {
  const { x } = key.export({ format: 'jwk' });
  if (typeof x !== 'string') throw new TypeError('an X25519 public key without its JWK "x"');
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

/**
 * The last sixteen X25519 public keys encapsulated to, imported: a client doing handshake after
 * handshake with the same X-Wing responders imports each key once (an import costs about as much
 * as the Diffie-Hellman itself).
 */
const importedX25519Keys = /* @__PURE__ */ createRecentCache<crypto.KeyObject>(16);

/** `crypto.diffieHellman`; OpenSSL refuses an all-zero result (it throws), as the SDK requires. */
function x25519(privateKey: crypto.KeyObject, peer: crypto.KeyObject): Uint8Array {
  return take(crypto.diffieHellman({ privateKey, publicKey: peer }));
}

/**
 * `node:crypto`'s X25519 (OpenSSL, every supported Node), for X-Wing's native backend.
 * @returns the driver.
 */
export async function nodeX25519Driver(): Promise<X25519Driver | undefined> {
  return {
    name: 'node',
    async importSecretKey(secretKey: Uint8Array) {
      const der = Buffer.alloc(X25519_PKCS8_PREFIX.length + secretKey.length);
      X25519_PKCS8_PREFIX.copy(der);
      der.set(secretKey, X25519_PKCS8_PREFIX.length);
      let privateKey: crypto.KeyObject;
      try {
        privateKey = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      } finally {
        der.fill(0);
      }
      return {
        publicKey: rawX25519(crypto.createPublicKey(privateKey)),
        sharedSecret: async (peer: Uint8Array) => x25519(privateKey, x25519PublicKey(peer)),
      };
    },
    async ephemeral(peer: Uint8Array) {
      const peerKey = importedX25519Keys.obtain(peer, () => x25519PublicKey(peer));
      const pair = crypto.generateKeyPairSync('x25519');
      return {
        publicKey: rawX25519(pair.publicKey),
        sharedSecret: x25519(pair.privateKey, peerKey),
      };
    },
  };
}

/** Whether this is Node itself rather than Deno or Bun running the Node build. */
function isNode(): boolean {
  const g = globalThis as Record<string, unknown>;
  return g['Deno'] === undefined && g['Bun'] === undefined;
}

/** A key imported once, and a copy of the bytes it was imported from. */
interface ImportedKey {
  readonly object: crypto.KeyObject;
  readonly bytes: Uint8Array;
}

/**
 * The `KeyObject` of each AES key buffer in use, made once per buffer even for a key used once (the
 * key confirmation's): Node 24 takes three times as long to set up a cipher from raw key bytes as
 * from a `KeyObject`, import included (raw bytes are checked with an exception thrown and caught
 * inside `node:crypto`). Keyed by the buffer, so an entry lives no longer than the key: `wipe`
 * drops it (`forget`), and garbage collection drops the rest. Each use checks that the buffer still
 * holds the bytes the key was imported from (a caller may reuse a buffer), and imports afresh if not.
 */
const aesKeyObjects = /* @__PURE__ */ new WeakMap<Uint8Array, ImportedKey>();

/**
 * How many entries of {@link aesKeyObjects} still hold their copy of a key: one more per import,
 * one fewer when the copy is zeroed (`forget`, or a buffer re-imported with other bytes). An entry
 * whose key was never wiped stays counted even once garbage collection took it, as its copy was
 * never zeroed. Read by the test seam {@link heldAesKeyCount}.
 */
let heldAesKeys = 0;

/** Zeroes an entry's copy of its key. */
function release(known: ImportedKey): void {
  known.bytes.fill(0);
  heldAesKeys -= 1;
}

/** The `KeyObject` of an AES key, from {@link aesKeyObjects} when the buffer still holds its bytes. */
function keyObjectOf(key: Uint8Array): crypto.KeyObject {
  const known = aesKeyObjects.get(key);
  if (known !== undefined && equalBytes(known.bytes, key)) return known.object;
  if (known !== undefined) release(known);
  const imported = { object: crypto.createSecretKey(key), bytes: Uint8Array.from(key) };
  aesKeyObjects.set(key, imported);
  heldAesKeys += 1;
  return imported.object;
}

/**
 * How many AES keys this module imported and still holds (a copy of the bytes and a `KeyObject`)
 * because no `wipe` of their buffer came: for the test seam of `src/internal/node-testing.ts`,
 * which shows that wiping a session or closing a responder leaves no key behind.
 * @returns the count.
 */
export function heldAesKeyCount(): number {
  return heldAesKeys;
}

/** The bytes of a Buffer `node:crypto` made, as a plain `Uint8Array`: a view when it owns its memory, else a copy (then zeroed). */
function own(buffer: Buffer): Uint8Array {
  if (buffer.byteOffset === 0 && buffer.buffer.byteLength === buffer.length)
    return new Uint8Array(buffer.buffer, 0, buffer.length);
  return take(buffer);
}

/** `AeadBackend.seal` of `node:crypto`'s AES-256-GCM. */
function nodeSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  prefix?: Uint8Array,
): Uint8Array {
  const cipher = crypto.createCipheriv('aes-256-gcm', keyObjectOf(key), nonce, {
    authTagLength: AEAD_TAG_BYTES,
  });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const rest = cipher.final();
  const tag = cipher.getAuthTag();
  const at = prefix === undefined ? 0 : prefix.length;
  const sealed = new Uint8Array(at + body.length + rest.length + AEAD_TAG_BYTES);
  if (prefix !== undefined) sealed.set(prefix);
  sealed.set(body, at);
  sealed.set(rest, at + body.length);
  sealed.set(tag, at + body.length + rest.length);
  return sealed;
}

/** `AeadBackend.open` of `node:crypto`'s AES-256-GCM. */
function nodeOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  const decipher = crypto.createDecipheriv('aes-256-gcm', keyObjectOf(key), nonce, {
    authTagLength: AEAD_TAG_BYTES,
  });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - AEAD_TAG_BYTES));
  // GCM decrypts before it verifies: this output is released only if final() accepts the tag.
  const body = decipher.update(sealed.subarray(0, sealed.length - AEAD_TAG_BYTES));
  let rest: Buffer;
  try {
    rest = decipher.final();
  } catch {
    body.fill(0);
    return undefined;
  }
  // GCM's final() yields no bytes; the general case is kept for safety.
  if (rest.length === 0) return own(body);
  const plaintext = new Uint8Array(body.length + rest.length);
  plaintext.set(body);
  plaintext.set(rest, body.length);
  body.fill(0);
  return plaintext;
}

/** `AeadBackend.forget`: drops the `KeyObject` imported for `key`. */
function nodeForget(key: Uint8Array): void {
  const known = aesKeyObjects.get(key);
  if (known === undefined) return;
  release(known);
  aesKeyObjects.delete(key);
}

// The Node platform: the names and types of the portable `platform.ts`, which this module replaces.

/** Native ML-KEM drivers, in order of preference: `node:crypto`, then WebCrypto outside Node. */
export const kemDrivers: typeof portable.kemDrivers = [
  nodeKemDriver,
  async () => (isNode() ? undefined : webCryptoKemDriver()),
];

/** Native X25519 drivers, in order of preference: `node:crypto`, then WebCrypto. */
export const x25519Drivers: typeof portable.x25519Drivers = [
  nodeX25519Driver,
  webCryptoX25519Driver,
];

/**
 * Native ML-DSA-65 verifiers: `node:crypto`'s `verify(null, …)` on a key imported as `raw-public`
 * (Node ≥ 24.7). WebCrypto's is not tried in Node (it prints an ExperimentalWarning).
 */
export const dsaVerifiers: typeof portable.dsaVerifiers = [
  async () => {
    const api = crypto as unknown as {
      createPublicKey(input: {
        key: Uint8Array;
        format: 'raw-public';
        asymmetricKeyType: string;
      }): crypto.KeyObject;
    };
    try {
      // Where ML-DSA is missing, the import throws: no native verifier.
      api.createPublicKey({
        key: new Uint8Array(1952),
        format: 'raw-public',
        asymmetricKeyType: 'ml-dsa-65',
      });
    } catch {
      return undefined;
    }
    return {
      name: 'node',
      verify: async (signature, message, identityKey) =>
        crypto.verify(
          null,
          message,
          api.createPublicKey({
            key: identityKey,
            format: 'raw-public',
            asymmetricKeyType: 'ml-dsa-65',
          }),
          signature,
        ),
    };
  },
];

/** `'node'`: AES-256-GCM is `node:crypto`'s. */
export const aeadName: typeof portable.aeadName = 'node';

/** AES-256-GCM encryption; synchronous. */
export const aeadSeal: typeof portable.aeadSeal = nodeSeal;

/** AES-256-GCM decryption; synchronous. */
export const aeadOpen: typeof portable.aeadOpen = nodeOpen;

/** Drops the `KeyObject` imported for a key; `wipe` calls it. */
export const aeadForget: typeof portable.aeadForget = nodeForget;

/**
 * None: `node:crypto`'s synchronous AES-GCM is the fastest here, so the records' asynchronous
 * calls run the synchronous ones (one pass, no key of their own).
 */
export const aeadKeyAsync: typeof portable.aeadKeyAsync = undefined;

/** {@link portable.aeadAsyncName}: always `'node'` here. */
export const aeadAsyncName: typeof portable.aeadAsyncName = async () => 'node';

/** {@link portable.base64Of} through `Buffer` (native code). */
export const base64Of: typeof portable.base64Of = (bytes) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/**
 * {@link portable.base64Bytes} through `Buffer`, which skips characters outside the alphabet
 * instead of refusing them (and reads the URL-safe one): `encoding.ts` refuses every such text
 * by re-encoding. The bytes are copied out of `Buffer`'s shared pool into an array of their own.
 */
export const base64Bytes: typeof portable.base64Bytes = (text) =>
  new Uint8Array(Buffer.from(text, 'base64'));

/** {@link portable.sha256} from `node:crypto` (OpenSSL, with the CPU's SHA extensions where it has them). */
export const sha256: typeof portable.sha256 =
  // The one-shot `crypto.hash` (Node ≥ 20.12) makes no Hash object per call.
  typeof crypto.hash === 'function'
    ? (message) => own(crypto.hash('sha256', message, 'buffer'))
    : (message) => own(crypto.createHash('sha256').update(message).digest());

/** {@link portable.sha256Prefixed} from `node:crypto`: a `Hash` fed the prefix, copied per call. */
export const sha256Prefixed: typeof portable.sha256Prefixed = (prefix) => {
  const state = crypto.createHash('sha256').update(prefix);
  return (rest) => own(state.copy().update(rest).digest());
};

/** {@link portable.sha3_256} from `node:crypto` (OpenSSL): several times faster than pure JS. */
export const sha3_256: typeof portable.sha3_256 =
  typeof crypto.hash === 'function'
    ? (message) => own(crypto.hash('sha3-256', message, 'buffer'))
    : (message) => own(crypto.createHash('sha3-256').update(message).digest());
