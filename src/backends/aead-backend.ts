/**
 * AES-256-GCM backends (spec §1): the calls `aeadSeal`/`aeadOpen` in `primitives.ts` make after
 * checking their inputs. Noble's is the portable one; the Node build swaps in `node:crypto`'s
 * (`platform.node.ts`). Both are synchronous, which the record ratchet relies on: a sender
 * takes its sequence number and seals in one step, with no `await` in between. The asynchronous
 * calls of the records ({@link AsyncAeadKey}) take the sequence number first, synchronously, and
 * may then use WebCrypto (`webcrypto-aead.ts`).
 *
 * Every backend must give the same bytes: the Wycheproof AES-GCM vectors run through each one
 * (`test/aead-backends.test.ts`).
 * @module
 */
import { gcm } from '@noble/ciphers/aes.js';
import { concatBytes } from '@noble/hashes/utils.js';

/** Which AES-256-GCM implementation seals and opens: noble's, or `node:crypto`'s (Node, Deno, Bun). */
export type AeadBackendName = 'noble' | 'node';

/**
 * Which AES-256-GCM implementation the records' asynchronous calls use: `node:crypto`'s in the
 * Node build; in the portable build WebCrypto's where it passes its probe, else noble's.
 */
export type AsyncAeadBackendName = AeadBackendName | 'webcrypto';

/** One AES-256-GCM implementation. Inputs are checked by the caller (32-byte key, 12-byte nonce). */
export interface AeadBackend {
  readonly name: AeadBackendName;
  /**
   * Encrypts and authenticates.
   * @param prefix - bytes to put in front of the output (a record's header), saving a copy.
   * @returns `prefix ‖ ciphertext ‖ tag` (16-byte tag), in a fresh array.
   */
  seal(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
    prefix?: Uint8Array,
  ): Uint8Array;
  /**
   * Verifies and decrypts `ciphertext ‖ tag` (at least 16 bytes, checked by the caller).
   * @returns the plaintext in a fresh array, or `undefined` when the tag does not verify.
   */
  open(
    key: Uint8Array,
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array,
  ): Uint8Array | undefined;
  /**
   * Drops whatever the backend keeps for `key` (an imported key object); called by `wipe`.
   * Backends that keep nothing leave it out.
   */
  forget?(key: Uint8Array): void;
}

/** {@link AeadBackend.seal} of noble's AES-256-GCM. */
export function nobleSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  prefix?: Uint8Array,
): Uint8Array {
  const sealed = gcm(key, nonce, aad).encrypt(plaintext);
  return prefix?.length ? concatBytes(prefix, sealed) : sealed;
}

/** {@link AeadBackend.open} of noble's AES-256-GCM. */
export function nobleOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  try {
    return gcm(key, nonce, aad).decrypt(sealed);
  } catch {
    // noble throws only on a tag mismatch here; inputs were checked by the caller.
    return undefined;
  }
}

/**
 * One AES-256-GCM key for asynchronous use (the records' `sealAsync`/`openAsync` in the portable
 * build): WebCrypto's where it passes its probe, else noble's behind promises.
 * Inputs are checked by the caller, as for {@link AeadBackend}.
 *
 * What is read synchronously: the key when the object is made (so the caller may wipe or reuse its
 * buffer at once); `plaintext`, `aad`, `prefix` and `sealed` when a call is made (a caller may
 * change its buffers as soon as the call returns its promise).
 */
export interface AsyncAeadKey {
  /** {@link AeadBackend.seal}, settled later. */
  seal(
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
    prefix?: Uint8Array,
  ): Promise<Uint8Array>;
  /** {@link AeadBackend.open}, settled later: `undefined` when the tag does not verify. */
  open(nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array | undefined>;
  /**
   * Lets go of the key once the calls already made have settled (a WebCrypto key is dropped, a
   * held copy of the bytes zeroed); later calls reject. The caller still wipes its own buffer.
   */
  forget(): void;
}
