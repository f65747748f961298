/**
 * AES-256-GCM through WebCrypto, for the records' asynchronous calls (`sealAsync`, `openAsync`,
 * `request`) in the portable build: browsers, workers, anything without the `node` condition.
 * WebCrypto's AES-GCM is native code (often AES-NI) where noble's is JavaScript; it is only
 * asynchronous, which is why the synchronous `seal`/`open` keep noble.
 *
 * WebCrypto is used only after it passes a probe against noble, once per process: the same sealed
 * bytes for a random key, nonce, message and associated data, the message back when opened, and a
 * modified record refused. A runtime without `crypto.subtle` (a browser page on plain `http:`) or
 * one that fails the probe gets noble behind promises instead.
 *
 * Security caveats:
 * - A key is imported non-extractable. Forgetting it drops the reference to the `CryptoKey`; its
 *   memory inside the runtime cannot be zeroed from JavaScript (the copy of the key bytes kept
 *   until the import completes is zeroed).
 * - Inputs are read when a call is made: WebCrypto copies them (W3C Web Cryptography API, "get a
 *   copy of the bytes held by the buffer source"), and a call made before the key is imported
 *   copies them itself.
 * @module
 */
import { equalBytes } from '@noble/ciphers/utils.js';
import { randomBytes } from '@noble/hashes/utils.js';
import {
  type AsyncAeadBackendName,
  type AsyncAeadKey,
  nobleOpen,
  nobleSeal,
} from './aead-backend.js';
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES } from '../core/constants.js';

const GCM = 'AES-GCM';

let probed: Promise<SubtleCrypto | undefined> | undefined;

/** Whether `error` is WebCrypto's refusal of a tag (or of a ciphertext shorter than one). */
function isOperationError(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'OperationError'
  );
}

/** WebCrypto, once it agreed with noble (see the module comment); `undefined` otherwise. */
function usableSubtle(): Promise<SubtleCrypto | undefined> {
  probed ??= (async () => {
    const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
    if (subtle === undefined) return undefined;
    const key = randomBytes(AEAD_KEY_BYTES);
    const nonce = randomBytes(AEAD_NONCE_BYTES);
    const aad = randomBytes(13);
    const message = randomBytes(45);
    const params = paramsOf(nonce, aad);
    try {
      const cryptoKey = await subtle.importKey('raw', key as BufferSource, GCM, false, [
        'encrypt',
        'decrypt',
      ]);
      const sealed = new Uint8Array(await subtle.encrypt(params, cryptoKey, message));
      if (!equalBytes(sealed, nobleSeal(key, nonce, message, aad))) return undefined;
      if (!equalBytes(new Uint8Array(await subtle.decrypt(params, cryptoKey, sealed)), message))
        return undefined;
      sealed[sealed.length - 1] = (sealed[sealed.length - 1] as number) ^ 1;
      const refused = await subtle.decrypt(params, cryptoKey, sealed).then(
        () => false,
        (error: unknown) => isOperationError(error),
      );
      return refused ? subtle : undefined;
    } catch {
      return undefined;
    } finally {
      key.fill(0);
    }
  })();
  return probed;
}

/**
 * Which implementation the portable build's asynchronous record calls use in this runtime.
 * @returns `'webcrypto'` when WebCrypto's AES-GCM passed the probe, else `'noble'`.
 */
export async function webCryptoAeadBackend(): Promise<Exclude<AsyncAeadBackendName, 'node'>> {
  return (await usableSubtle()) === undefined ? 'noble' : 'webcrypto';
}

/** `AesGcmParams` (TypeScript's DOM types want `ArrayBuffer`-backed views; any view works). */
function paramsOf(nonce: Uint8Array, aad: Uint8Array): AesGcmParams {
  return { name: GCM, iv: nonce as BufferSource, additionalData: aad as BufferSource };
}

/** Seals with an imported key; everything WebCrypto reads is read before this returns. */
async function sealWith(
  subtle: SubtleCrypto,
  key: CryptoKey,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  prefix: Uint8Array | undefined,
): Promise<Uint8Array> {
  const head = prefix?.slice();
  const sealed = new Uint8Array(
    await subtle.encrypt(paramsOf(nonce, aad), key, plaintext as BufferSource),
  );
  if (head === undefined || head.length === 0) return sealed;
  const out = new Uint8Array(head.length + sealed.length);
  out.set(head);
  out.set(sealed, head.length);
  return out;
}

/** Opens with an imported key: `undefined` when the tag does not verify. */
async function openWith(
  subtle: SubtleCrypto,
  key: CryptoKey,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await subtle.decrypt(paramsOf(nonce, aad), key, sealed as BufferSource));
  } catch (error) {
    if (isOperationError(error)) return undefined;
    throw error;
  }
}

/**
 * One AES-256-GCM key for asynchronous calls: WebCrypto where it passed the probe, noble otherwise.
 * @param key - the 32-byte key (copied now: the caller may wipe its buffer at once).
 * @returns the key.
 */
export function webCryptoAeadKey(key: Uint8Array): AsyncAeadKey {
  // One closure of ~70 lines on purpose: its six variables are the key's one state (importing,
  // then WebCrypto's or noble's, then forgotten once its pending calls settle), read by every call.
  // Kept until WebCrypto holds the key (then zeroed), or for noble's use until forgotten.
  let material: Uint8Array | undefined = Uint8Array.from(key);
  let subtle: SubtleCrypto | undefined;
  let cryptoKey: CryptoKey | undefined;
  let settled = false;
  let forgotten = false;
  let pending = 0;

  function release(): void {
    const done = forgotten && pending === 0;
    if (material !== undefined && (cryptoKey !== undefined || done)) {
      material.fill(0);
      material = undefined;
    }
    if (done) cryptoKey = undefined;
  }

  const ready = usableSubtle()
    .then(async (usable) => {
      if (usable === undefined || material === undefined) return;
      // The import reads its own copy, so forgetting the key meanwhile cannot change what it reads.
      const copy = material.slice();
      try {
        cryptoKey = await usable.importKey('raw', copy as BufferSource, GCM, false, [
          'encrypt',
          'decrypt',
        ]);
        subtle = usable;
      } catch {
        // Refused after passing the probe: noble, with the bytes still held.
      } finally {
        copy.fill(0);
      }
    })
    .finally(() => {
      settled = true;
      release();
    });

  /** Runs `call` now once the key is settled, else on copies of its inputs when it is. */
  function when<A extends Uint8Array[], T>(
    inputs: [...A],
    call: (inputs: [...A]) => Promise<T> | T,
  ): Promise<T> {
    if (forgotten) return Promise.reject(new TypeError('this AES-GCM key was forgotten'));
    if (settled) {
      try {
        return Promise.resolve(call(inputs));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const copies = inputs.map((input) => input.slice()) as [...A];
    pending += 1;
    return ready
      .then(() => call(copies))
      .finally(() => {
        pending -= 1;
        release();
      });
  }

  return {
    seal: (nonce, plaintext, aad, prefix) =>
      when([nonce, plaintext, aad, prefix ?? new Uint8Array(0)], ([n, p, a, h]) =>
        subtle !== undefined && cryptoKey !== undefined
          ? sealWith(subtle, cryptoKey, n, p, a, h)
          : nobleSeal(material as Uint8Array, n, p, a, h),
      ),
    open: (nonce, sealed, aad) =>
      when([nonce, sealed, aad], ([n, c, a]) =>
        subtle !== undefined && cryptoKey !== undefined
          ? openWith(subtle, cryptoKey, n, c, a)
          : nobleOpen(material as Uint8Array, n, c, a),
      ),
    forget(): void {
      forgotten = true;
      release();
    },
  };
}
