/**
 * The raw ML-KEM-768 bounds the SDK is measured against: the same primitive, called directly,
 * with nothing around it. One object per backend:
 * - `noble`: `@noble/post-quantum` (what the SDK is built on, every runtime);
 * - `node:crypto`: `crypto.encapsulate` / `crypto.decapsulate` (Node ≥ 24.7);
 * - `webcrypto`: `crypto.subtle.encapsulateBits` / `decapsulateBits` (Node ≥ 24.7, experimental);
 * - `noble-prepared`: noble with each public key expanded once (a reference, not a target's bound).
 *
 * What "raw" includes is what the SDK's backend of the same kind pays: encapsulation starts from
 * the public key as bytes; WebCrypto imports it on every encapsulation (as the SDK's WebCrypto
 * backend does), node:crypto once per key (as the SDK's node:crypto backend keeps the keys it
 * encapsulated to). Decapsulation uses a private key already loaded (as a responder keeps it).
 * Shared secrets are returned as `Uint8Array`.
 */
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';

const ALG = 'ML-KEM-768';

function noble() {
  return {
    id: 'noble',
    label: '@noble/post-quantum',
    available: true,
    sync: true,
    keygen() {
      const { publicKey, secretKey } = ml_kem768.keygen();
      return { publicKey, privateKey: secretKey };
    },
    encapsulate(publicKey) {
      return ml_kem768.encapsulate(publicKey);
    },
    decapsulate(privateKey, cipherText) {
      return ml_kem768.decapsulate(cipherText, privateKey);
    },
    /** The FIPS 203 §7.2 modulus check alone, as noble runs it (`prepare()` expands the key). */
    checkPublicKey(publicKey) {
      ml_kem768.prepare(publicKey).clean();
    },
  };
}

/**
 * noble with each public key expanded once (`prepare()`: the matrix Â and t̂), as the SDK's noble
 * backend keeps the keys it checked or encapsulated to, and a responder's key: the stricter bound
 * for the SDK's noble rows, printed beside the one-shot bound the targets are set against.
 */
function noblePrepared() {
  const prepared = new WeakMap();
  const expanded = (publicKey) => {
    let key = prepared.get(publicKey);
    if (key === undefined) {
      key = ml_kem768.prepare(publicKey);
      prepared.set(publicKey, key);
    }
    return key;
  };
  return {
    id: 'noble-prepared',
    label: '@noble/post-quantum, keys expanded once',
    available: true,
    sync: true,
    reference: true,
    keygen() {
      const { publicKey, secretKey } = ml_kem768.keygen();
      return { publicKey, privateKey: { secretKey, publicKey } };
    },
    encapsulate(publicKey) {
      return expanded(publicKey).encapsulate();
    },
    decapsulate(privateKey, cipherText) {
      return expanded(privateKey.publicKey).decapsulate(cipherText, privateKey.secretKey);
    },
  };
}

async function nodeCrypto() {
  const base = { id: 'node:crypto', label: 'node:crypto', sync: true };
  let crypto;
  try {
    crypto = await import('node:crypto');
  } catch (error) {
    return { ...base, available: false, reason: `node:crypto cannot be loaded (${error.message})` };
  }
  if (typeof crypto.encapsulate !== 'function' || typeof crypto.decapsulate !== 'function') {
    return {
      ...base,
      available: false,
      reason: `Node ${process.versions.node} has no ML-KEM in node:crypto (crypto.encapsulate arrived in Node 24.7)`,
    };
  }
  try {
    crypto.generateKeyPairSync('ml-kem-768');
  } catch (error) {
    return {
      ...base,
      available: false,
      reason: `node:crypto refuses ml-kem-768 (${error.message})`,
    };
  }
  // The public key is imported once per key (a KeyObject kept beside its bytes), as the SDK's
  // node:crypto backend keeps the keys it encapsulated to: the raw bound pays no import either.
  const imported = new WeakMap();
  return {
    ...base,
    available: true,
    keygen() {
      const { publicKey, privateKey } = crypto.generateKeyPairSync('ml-kem-768');
      return { publicKey: new Uint8Array(publicKey.export({ format: 'raw-public' })), privateKey };
    },
    encapsulate(publicKey) {
      let key = imported.get(publicKey);
      if (key === undefined) {
        key = crypto.createPublicKey({
          key: publicKey,
          format: 'raw-public',
          asymmetricKeyType: 'ml-kem-768',
        });
        imported.set(publicKey, key);
      }
      const { sharedKey, ciphertext } = crypto.encapsulate(key);
      return {
        cipherText: new Uint8Array(ciphertext.buffer, ciphertext.byteOffset, ciphertext.length),
        sharedSecret: new Uint8Array(sharedKey.buffer, sharedKey.byteOffset, sharedKey.length),
      };
    },
    decapsulate(privateKey, cipherText) {
      const secret = crypto.decapsulate(privateKey, cipherText);
      return new Uint8Array(secret.buffer, secret.byteOffset, secret.length);
    },
  };
}

async function webCrypto() {
  const base = { id: 'webcrypto', label: 'WebCrypto', sync: false };
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined || typeof subtle.encapsulateBits !== 'function') {
    return {
      ...base,
      available: false,
      reason: `this runtime's WebCrypto has no encapsulateBits (ML-KEM arrived in Node 24.7)`,
    };
  }
  try {
    await subtle.generateKey({ name: ALG }, true, ['encapsulateBits', 'decapsulateBits']);
  } catch (error) {
    return { ...base, available: false, reason: `WebCrypto refuses ${ALG} (${error.message})` };
  }
  return {
    ...base,
    available: true,
    async keygen() {
      const pair = await subtle.generateKey({ name: ALG }, true, [
        'encapsulateBits',
        'decapsulateBits',
      ]);
      return {
        publicKey: new Uint8Array(await subtle.exportKey('raw-public', pair.publicKey)),
        privateKey: pair.privateKey,
      };
    },
    async encapsulate(publicKey) {
      const key = await subtle.importKey('raw-public', publicKey, { name: ALG }, false, [
        'encapsulateBits',
      ]);
      const { sharedKey, ciphertext } = await subtle.encapsulateBits({ name: ALG }, key);
      return { cipherText: new Uint8Array(ciphertext), sharedSecret: new Uint8Array(sharedKey) };
    },
    async decapsulate(privateKey, cipherText) {
      return new Uint8Array(await subtle.decapsulateBits({ name: ALG }, privateKey, cipherText));
    },
  };
}

/**
 * Every raw backend, available or not (with the reason).
 * @returns `[noble, noble-prepared, node:crypto, webcrypto]`.
 */
export async function rawKems() {
  // WebCrypto's ML-KEM prints an ExperimentalWarning once; it says nothing about the numbers.
  return [noble(), noblePrepared(), await nodeCrypto(), await webCrypto()];
}

/**
 * Checks that a backend round-trips (the same secret on both sides), so a broken backend cannot
 * produce a fast number.
 */
export async function selfTest(kem) {
  const { publicKey, privateKey } = await kem.keygen();
  const { cipherText, sharedSecret } = await kem.encapsulate(publicKey);
  const secret = await kem.decapsulate(privateKey, cipherText);
  if (
    secret.length !== 32 ||
    Buffer.compare(Buffer.from(secret), Buffer.from(sharedSecret)) !== 0
  ) {
    throw new Error(`${kem.label}: decapsulation does not give the encapsulated secret`);
  }
}
