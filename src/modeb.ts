/**
 * ZeqSSL Mode-B seed derivation of spec §4: two machines that never shared a secret derive the
 * same 32-byte seed from one ML-KEM encapsulation, and confirm it with equal `seed_commitment`s.
 *
 * The commitment is an HMAC keyed by the seed, so it reveals nothing about the seed; the seed
 * itself never leaves the machine that derived it and is stored sealed (§5).
 * @module
 */
import { MODE_B_SEED_INFO, MODE_B_TRANSCRIPT_LABEL, SEED_COMMITMENT_LABEL, type Alg } from './constants.js';
import { hexEncode, lp, utf8 } from './encoding.js';
import { hkdf, hmacSha256, sha256 } from './primitives.js';

/** What a Mode-B transcript binds. */
export interface ModeBTranscriptInput {
  alg: Alg;
  initiatorMachineId: string;
  responderMachineId: string;
  responderPublicKey: Uint8Array;
  cipherText: Uint8Array;
}

/** A derived Mode-B seed with its commitment. */
export interface ModeBSeed {
  /** The 32-byte seed. Secret: store it sealed, wipe it after use. */
  seed: Uint8Array;
  /** `hex(HMAC-SHA256(seed, LP(label) ‖ LP(mb_transcript)))`, safe to publish. */
  seedCommitment: string;
  /** The Mode-B transcript hash. */
  transcript: Uint8Array;
}

/**
 * `SHA-256(LP("zeq-ssl/v1 mode-b") ‖ LP(alg) ‖ LP(initiator) ‖ LP(responder) ‖ LP(responder_pk) ‖ LP(ct))`.
 * @param input - the fields.
 * @returns the 32-byte Mode-B transcript hash.
 */
export function modeBTranscript(input: ModeBTranscriptInput): Uint8Array {
  return sha256(
    lp(MODE_B_TRANSCRIPT_LABEL, input.alg, input.initiatorMachineId, input.responderMachineId, input.responderPublicKey, input.cipherText),
  );
}

/**
 * Derives the seed and its commitment from the KEM shared secret.
 * @param sharedSecret - the ML-KEM shared secret.
 * @param transcript - the Mode-B transcript hash.
 * @returns the seed, commitment and transcript.
 */
export function deriveModeBSeed(sharedSecret: Uint8Array, transcript: Uint8Array): ModeBSeed {
  const seed = hkdf(sharedSecret, transcript, utf8(MODE_B_SEED_INFO), 32);
  const seedCommitment = hexEncode(hmacSha256(seed, lp(SEED_COMMITMENT_LABEL, transcript)));
  return { seed, seedCommitment, transcript: transcript.slice() };
}
