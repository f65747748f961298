/**
 * A session's record key sealed for a store outside the process (the Redis session store): the
 * same construction as the §5 sealed secrets — AES-256-GCM, a random 12-byte nonce,
 * `base64(nonce ‖ ciphertext ‖ tag)`, an AAD binding the secret to what it belongs to — under a
 * key of its own per session:
 *
 * ```
 * session_seal_key = HKDF-SHA256(IKM = seal_key, salt = "",
 *                                info = LP("zeq-keyex/v1 sealed record key") ‖ LP(session_id), L = 32)
 * AAD = LP("zeq-keyex/v1 sealed record key") ‖ LP(session_id) ‖ LP(slug) ‖ LP(machine_id)
 *       ‖ LP(decimal expires_at_ms)
 * ```
 *
 * Why a key per session: sessions are sealed at the handshake rate, and random 96-bit nonces under
 * one key must stay well below 2^32 seals; with a key per (random, 128-bit) session id, each key
 * seals once. The label is the SDK's own (not in the spec), distinct from both §5 labels, so a
 * sealed record key can never open as a sealed machine key or seed, nor the reverse.
 *
 * Caveat: whoever holds the field key and reads Redis can open the record keys of live sessions,
 * exactly as they can open the machine keys: the field key is the deployment's root secret.
 * @module
 */
import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  SEALED_RECORD_KEY_LABEL,
} from '../core/constants.js';
import { base64Decode } from '../core/encoding.js';
import { ZeqKeyExError } from '../core/errors.js';
import { lp } from '../core/encoding.js';
import { aeadOpen, hkdf, wipe } from '../core/primitives.js';
import { seal } from '../core/sealing.js';

/** The length of a §2.2 record key. */
const RECORD_KEY_BYTES = 32;

/** What a sealed record key is bound to. */
export interface RecordKeyContext {
  readonly sessionId: string;
  readonly slug: string;
  readonly machineId: string;
  readonly expiresAt: number;
}

function sessionSealKey(sealKey: Uint8Array, sessionId: string): Uint8Array {
  return hkdf(sealKey, new Uint8Array(0), lp(SEALED_RECORD_KEY_LABEL, sessionId), AEAD_KEY_BYTES);
}

function aad(context: RecordKeyContext): Uint8Array {
  return lp(
    SEALED_RECORD_KEY_LABEL,
    context.sessionId,
    context.slug,
    context.machineId,
    String(context.expiresAt),
  );
}

/**
 * Seals a session's record key.
 * @param sealKey - the §5 seal key (not modified).
 * @param context - the session it belongs to.
 * @param recordKey - the 32-byte record key (not modified).
 * @returns `base64(nonce ‖ ciphertext ‖ tag)`.
 */
export function sealRecordKey(
  sealKey: Uint8Array,
  context: RecordKeyContext,
  recordKey: Uint8Array,
): string {
  const key = sessionSealKey(sealKey, context.sessionId);
  try {
    return seal(key, recordKey, aad(context));
  } finally {
    wipe(key);
  }
}

/**
 * Opens a sealed record key.
 * @param sealKey - the §5 seal key (not modified).
 * @param context - the session it must belong to.
 * @param sealed - the stored string.
 * @returns the 32-byte record key.
 * @throws {ZeqKeyExError} `unseal_failed` when it is malformed, tampered with, sealed for another
 *   session or under another field key.
 */
export function unsealRecordKey(
  sealKey: Uint8Array,
  context: RecordKeyContext,
  sealed: unknown,
): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = base64Decode(
      sealed,
      AEAD_NONCE_BYTES + RECORD_KEY_BYTES + AEAD_TAG_BYTES,
      'sealed record key',
    );
  } catch (cause) {
    throw new ZeqKeyExError('unseal_failed', undefined, { cause });
  }
  const key = sessionSealKey(sealKey, context.sessionId);
  try {
    const opened = aeadOpen(
      key,
      bytes.subarray(0, AEAD_NONCE_BYTES),
      bytes.subarray(AEAD_NONCE_BYTES),
      aad(context),
    );
    if (opened === undefined) throw new ZeqKeyExError('unseal_failed');
    return opened;
  } finally {
    wipe(key);
  }
}
