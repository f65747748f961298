/**
 * The first-contact key schedule of spec §2.2: the transcript hash and the record key.
 *
 * The transcript binds everything both sides agreed on — protocol label, `alg`, `slug`,
 * `machine_id`, the public key and the ciphertext — into the HKDF salt, so a record key can only
 * be shared by two parties that saw the same first contact.
 *
 * Caveat: the record key is as secret as the KEM shared secret; callers wipe both. A matching
 * record key proves nothing by itself: the key confirmation (§2.3) is what shows it.
 * @module
 */
import { AEAD_KEY_BYTES, RECORD_KEY_INFO, TRANSCRIPT_LABEL, type Alg } from './constants.js';
import { lp, utf8 } from './encoding.js';
import { hkdf, sha256, sha256Prefixed } from './primitives.js';

/** What a first-contact transcript binds. */
export interface TranscriptInput {
  /** The KEM algorithm (`alg` of the key document, §2.1): `'ML-KEM-768'`. */
  alg: Alg;
  /** The slug the initiator asked for (the `{slug}` of the §2 routes). */
  slug: string;
  /** The responder machine's `machine_id`, as its key document states it (§2.1). */
  machineId: string;
  /** The responder's ML-KEM public key (`public_key`, 1184 bytes for ML-KEM-768). */
  publicKey: Uint8Array;
  /** The initiator's ML-KEM ciphertext (`cipher_text` of the §2.2 handshake, 1088 bytes). */
  cipherText: Uint8Array;
}

/**
 * `SHA-256(LP("zeq-keyex/v1") ‖ LP(alg) ‖ LP(slug) ‖ LP(machine_id) ‖ LP(public_key) ‖ LP(cipher_text))`.
 * @param input - the fields.
 * @returns the 32-byte transcript hash.
 */
export function firstContactTranscript(input: TranscriptInput): Uint8Array {
  return sha256(
    lp(TRANSCRIPT_LABEL, input.alg, input.slug, input.machineId, input.publicKey, input.cipherText),
  );
}

/**
 * {@link firstContactTranscript} for many ciphertexts to one key: the transcript's fields before
 * the ciphertext are the same for every handshake with that key, so they are hashed once and the
 * hash state is copied per ciphertext. The same bytes as {@link firstContactTranscript}; a
 * responder keeps one per key it serves (saves hashing the 1.2 KB public key per handshake).
 * @param key - the fields other than the ciphertext (public data, copied into the hash state).
 * @returns the transcript of a ciphertext under that key.
 */
export function firstContactTranscriptOf(
  key: Omit<TranscriptInput, 'cipherText'>,
): (cipherText: Uint8Array) => Uint8Array {
  const afterKey = sha256Prefixed(
    lp(TRANSCRIPT_LABEL, key.alg, key.slug, key.machineId, key.publicKey),
  );
  return (cipherText) => afterKey(lp(cipherText));
}

/**
 * `HKDF-Expand(HKDF-Extract(salt = transcript, IKM = ss), "zeq-keyex/v1 record key", 32)`.
 * @param sharedSecret - the KEM shared secret.
 * @param transcript - the §2.2 transcript hash.
 * @returns the 32-byte record key. Wipe after use.
 */
export function deriveRecordKey(sharedSecret: Uint8Array, transcript: Uint8Array): Uint8Array {
  return hkdf(sharedSecret, transcript, utf8(RECORD_KEY_INFO), AEAD_KEY_BYTES);
}
