/**
 * X25519 (RFC 7748) from WebCrypto, for X-Wing's native backend (`xwing-backend.ts`) wherever
 * the runtime has it: browsers, Deno, Bun, and Node's `crypto.subtle`. A runtime without it makes
 * {@link webCryptoX25519Driver} answer `undefined`; the X-Wing composition built on it is probed
 * against noble before use.
 *
 * Secret keys are imported non-extractable from PKCS #8 (WebCrypto imports no raw X25519 secret);
 * the DER copy of the key is zeroed once imported. The public key of a secret key is computed as
 * the draft defines it, `X25519(sk, 9)`: WebCrypto has no other way to derive it. WebCrypto refuses
 * an all-zero shared secret (`deriveBits` throws), as the SDK requires of every backend.
 * @module
 */
import type { X25519Driver } from './xwing-backend.js';

/** The parts of WebCrypto used here (typed locally: the SDK builds without the DOM library). */
interface X25519Subtle {
  importKey(
    format: 'pkcs8' | 'raw',
    keyData: Uint8Array,
    algorithm: { name: string },
    extractable: boolean,
    usages: string[],
  ): Promise<object>;
  exportKey(format: 'raw', key: object): Promise<ArrayBuffer>;
  generateKey(
    algorithm: { name: string },
    extractable: boolean,
    usages: string[],
  ): Promise<{ publicKey: object; privateKey: object }>;
  deriveBits(
    algorithm: { name: string; public: object },
    key: object,
    length: number,
  ): Promise<ArrayBuffer>;
}

const ALGORITHM = { name: 'X25519' };

/** The PKCS #8 (RFC 8410) prefix of a 32-byte X25519 secret key. */
const PKCS8_PREFIX = /* @__PURE__ */ Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
);

/** The base point, `u = 9`. */
const BASE_POINT = /* @__PURE__ */ Uint8Array.of(9, ...new Uint8Array(31));

/**
 * The WebCrypto X25519 driver, when `crypto.subtle` supports X25519.
 * @returns the driver, or `undefined` when the runtime has no X25519.
 */
export async function webCryptoX25519Driver(): Promise<X25519Driver | undefined> {
  const api = (globalThis as unknown as { crypto?: { subtle?: X25519Subtle } }).crypto?.subtle;
  if (api === undefined) return undefined;
  const publicKeyOf = (bytes: Uint8Array): Promise<object> =>
    api.importKey('raw', bytes, ALGORITHM, true, []);
  const derive = async (privateKey: object, peer: Uint8Array): Promise<Uint8Array> =>
    new Uint8Array(
      await api.deriveBits({ ...ALGORITHM, public: await publicKeyOf(peer) }, privateKey, 256),
    );
  try {
    await publicKeyOf(BASE_POINT);
  } catch {
    return undefined;
  }
  return {
    name: 'webcrypto',
    async importSecretKey(secretKey: Uint8Array) {
      const der = new Uint8Array(PKCS8_PREFIX.length + secretKey.length);
      der.set(PKCS8_PREFIX);
      der.set(secretKey, PKCS8_PREFIX.length);
      let privateKey: object;
      try {
        privateKey = await api.importKey('pkcs8', der, ALGORITHM, false, ['deriveBits']);
      } finally {
        der.fill(0);
      }
      return {
        publicKey: await derive(privateKey, BASE_POINT),
        sharedSecret: (peer: Uint8Array) => derive(privateKey, peer),
      };
    },
    async ephemeral(peer: Uint8Array) {
      const pair = await api.generateKey(ALGORITHM, true, ['deriveBits']);
      return {
        publicKey: new Uint8Array(await api.exportKey('raw', pair.publicKey)),
        sharedSecret: await derive(pair.privateKey, peer),
      };
    },
  };
}
