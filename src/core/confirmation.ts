/**
 * Key confirmation of spec §2.3: the responder proves it derived the same record key by sealing
 * the label `"zeq-keyex/v1 key confirmation"` under it, bound to the transcript and session id.
 *
 * Security caveats:
 * - Every way a confirmation can fail — not canonical base64, too short, a wrong tag, another
 *   plaintext — is one opaque `confirmation_failed`: an attacker learns nothing about which part
 *   was wrong.
 * - The record key seals this one confirmation only (records use keys derived from it, §3), so
 *   its nonce cannot repeat under it.
 * @module
 */
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, CONFIRM_LABEL } from './constants.js';
import { ZeqKeyExError } from './errors.js';
import { base64Decode, base64Encode, lp, utf8 } from './encoding.js';
import { aeadOpen, aeadSealPrefixed, constantTimeEqual, randomBytes } from './primitives.js';

// Pure, and no module-level `LABEL.length`: bundlers drop unused module-level code only when it
// is provably free of side effects (kem-backend.ts says why that matters).
const LABEL = /* @__PURE__ */ utf8(CONFIRM_LABEL);

/** `LP("zeq-keyex/v1 key confirmation") ‖ LP(transcript) ‖ LP(session_id)` (§2.3). */
function confirmationAad(transcript: Uint8Array, sessionId: string): Uint8Array {
  return lp(LABEL, transcript, sessionId);
}

/**
 * Seals a key confirmation with a given nonce: known-answer tests, and the responder, which cuts
 * its fresh random nonces from a pooled CSPRNG draw (`responder/responder.ts`). Everything else calls
 * {@link sealKeyConfirmation}. The nonce must be fresh random bytes outside tests.
 * @param recordKey - the §2.2 record key.
 * @param transcript - the §2.2 transcript hash.
 * @param sessionId - the session id the responder chose.
 * @param nonce - 12 bytes.
 * @returns the `key_confirmation` field (base64).
 * @internal
 */
export function sealKeyConfirmationWithNonce(
  recordKey: Uint8Array,
  transcript: Uint8Array,
  sessionId: string,
  nonce: Uint8Array,
): string {
  // `nonce ‖ ciphertext ‖ tag` sealed into one array (no copy to put the nonce in front).
  return base64Encode(
    aeadSealPrefixed(recordKey, nonce, LABEL, confirmationAad(transcript, sessionId), nonce),
  );
}

/**
 * Seals a key confirmation (responder side) under a fresh random nonce.
 * @param recordKey - the §2.2 record key.
 * @param transcript - the §2.2 transcript hash.
 * @param sessionId - the session id the responder chose.
 * @returns the `key_confirmation` field (base64).
 */
export function sealKeyConfirmation(
  recordKey: Uint8Array,
  transcript: Uint8Array,
  sessionId: string,
): string {
  return sealKeyConfirmationWithNonce(
    recordKey,
    transcript,
    sessionId,
    randomBytes(AEAD_NONCE_BYTES),
  );
}

/**
 * Opens and checks a key confirmation (initiator side).
 * @param recordKey - the initiator's own record key.
 * @param transcript - the §2.2 transcript hash.
 * @param sessionId - the session id from the response.
 * @param keyConfirmation - the `key_confirmation` field as received.
 * @throws {ZeqKeyExError} `confirmation_failed` for any failure.
 */
export function openKeyConfirmation(
  recordKey: Uint8Array,
  transcript: Uint8Array,
  sessionId: string,
  keyConfirmation: unknown,
): void {
  let bytes: Uint8Array;
  try {
    bytes = base64Decode(
      keyConfirmation,
      AEAD_NONCE_BYTES + LABEL.length + AEAD_TAG_BYTES,
      // Stryker disable next-line StringLiteral: names the field in a message replaced just below
      'key_confirmation',
    );
  } catch {
    // base64Decode throws nothing but invalid_encoding, which is one more opaque failure here.
    throw new ZeqKeyExError('confirmation_failed');
  }
  const nonce = bytes.subarray(0, AEAD_NONCE_BYTES);
  const opened = aeadOpen(
    recordKey,
    nonce,
    bytes.subarray(AEAD_NONCE_BYTES),
    confirmationAad(transcript, sessionId),
  );
  if (opened === undefined || !constantTimeEqual(opened, LABEL))
    throw new ZeqKeyExError('confirmation_failed');
}
