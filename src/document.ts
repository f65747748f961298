/**
 * Parsers for the JSON documents of first contact (spec §2.1 and §2.3), shared by the initiator
 * client and the Mode-B peer fetch. They are total: any input either yields a validated value or
 * throws a {@link ZeqKeyExError}. Unknown extra fields are ignored (forward compatibility).
 * @module
 */
import { ALG, ALG_SIZES, type Alg } from './constants.js';
import { ZeqKeyExError, isZeqKeyExError } from './errors.js';
import { base64Decode } from './encoding.js';
import { computeFingerprint } from './fingerprint.js';
import { isFingerprint, isMachineId, isSessionId } from './identifiers.js';
import { assertAlg, assertPublicKey } from './kem.js';
import { constantTimeEqual } from './primitives.js';

/** A validated key document (§2.1). */
export interface KeyDocument {
  /** The KEM algorithm. */
  alg: Alg;
  /** The public key bytes. */
  publicKey: Uint8Array;
  /** Its fingerprint, checked to be `hex(SHA-256(publicKey))`. */
  fingerprint: string;
  /** The machine's stable identifier. */
  machineId: string;
}

/** A validated handshake response (§2.3), before its key confirmation is checked. */
export interface HandshakeResponse {
  sessionId: string;
  keyConfirmation: string;
  machineId: string;
  fingerprint: string;
  alg: string;
  expiresAt: Date;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** Rejects dates such as 02-30 that `Date.parse` would silently roll over into the next month. */
function isCalendarDate(text: string): boolean {
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(5, 7));
  const day = Number(text.slice(8, 10));
  const hour = Number(text.slice(11, 13));
  const minute = Number(text.slice(14, 16));
  const second = Number(text.slice(17, 19));
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 60;
}

function asObject(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ZeqKeyExError('malformed_response', `the ${what} is not a JSON object`);
  }
  return body as Record<string, unknown>;
}

function field(body: Record<string, unknown>, name: string, what: string): string {
  const value = Object.hasOwn(body, name) ? body[name] : undefined;
  if (typeof value !== 'string') throw new ZeqKeyExError('malformed_response', `the ${what} has no string field "${name}"`);
  return value;
}

/**
 * Validates a key document: §2.1 checks 1 and 2, in order (check 3, the pin, is the caller's).
 * @param body - the parsed JSON body.
 * @param accepted - the `alg` values the caller accepts.
 * @returns the validated document.
 * @throws {ZeqKeyExError} `malformed_response`, `unsupported_alg`, `invalid_public_key`,
 *   `fingerprint_inconsistent`.
 */
export function parseKeyDocument(body: unknown, accepted: readonly Alg[] = [ALG]): KeyDocument {
  return parseKeyDocumentChecked(body, accepted, undefined);
}

/**
 * Fingerprints of public keys that already passed the FIPS 203 §7.2 modulus check, so that a
 * client fetching the same key document again does not pay the check again. The fingerprint is
 * SHA-256 of the key, which the parser computes anyway, so a hit is the same key byte for byte.
 * Bounded: the oldest entry goes first.
 * @internal
 */
export interface CheckedKeys {
  has(fingerprint: string): boolean;
  add(fingerprint: string): void;
}

/**
 * A {@link CheckedKeys} holding at most `limit` fingerprints.
 * @param limit - how many keys to remember.
 * @returns the set.
 * @internal
 */
export function createCheckedKeys(limit = 256): CheckedKeys {
  const seen = new Set<string>();
  return {
    has: (fingerprint) => seen.has(fingerprint),
    add(fingerprint) {
      if (seen.has(fingerprint)) return;
      if (seen.size >= limit) {
        const oldest = seen.values().next();
        if (oldest.done !== true) seen.delete(oldest.value);
      }
      seen.add(fingerprint);
    },
  };
}

/**
 * {@link parseKeyDocument}, skipping the modulus check for a key in `checked` and adding the key
 * to it once it passes. Same checks, same order, same codes.
 * @param body - the parsed JSON body.
 * @param accepted - the `alg` values the caller accepts.
 * @param checked - keys already checked, or `undefined` to check every time.
 * @returns the validated document.
 * @throws {ZeqKeyExError} as {@link parseKeyDocument}.
 * @internal
 */
export function parseKeyDocumentChecked(body: unknown, accepted: readonly Alg[], checked: CheckedKeys | undefined): KeyDocument {
  const doc = asObject(body, 'key document');
  const alg = field(doc, 'alg', 'key document');
  const publicKeyText = field(doc, 'public_key', 'key document');
  const fingerprint = field(doc, 'fingerprint', 'key document');
  const machineId = field(doc, 'machine_id', 'key document');
  if (!isMachineId(machineId)) throw new ZeqKeyExError('malformed_response', 'the key document has an invalid machine_id');
  if (!isFingerprint(fingerprint)) throw new ZeqKeyExError('malformed_response', 'the key document fingerprint is not 64 lowercase hex characters');
  // 1. alg accepted; public key of the right length, passing the modulus check.
  assertAlg(alg, accepted);
  let publicKey: Uint8Array;
  try {
    publicKey = base64Decode(publicKeyText, undefined, 'public_key');
  } catch (error) {
    if (isZeqKeyExError(error)) throw new ZeqKeyExError('malformed_response', 'public_key is not canonical base64', { cause: error });
    throw error;
  }
  if (publicKey.length !== ALG_SIZES[alg].publicKey) throw new ZeqKeyExError('invalid_public_key');
  const computed = computeFingerprint(publicKey);
  if (checked === undefined || !checked.has(computed)) {
    assertPublicKey(publicKey, alg);
    checked?.add(computed);
  }
  // 2. the fingerprint is the key's own.
  if (!constantTimeEqual(new TextEncoder().encode(computed), new TextEncoder().encode(fingerprint))) {
    throw new ZeqKeyExError('fingerprint_inconsistent', undefined, { expectedFingerprint: computed, actualFingerprint: fingerprint });
  }
  return { alg, publicKey, fingerprint, machineId };
}

/**
 * Validates the shape of a handshake response (§2.3). The caller then checks that it names the
 * key it encapsulated to, and opens the confirmation.
 * @param body - the parsed JSON body.
 * @returns the validated fields.
 * @throws {ZeqKeyExError} `malformed_response`.
 */
export function parseHandshakeResponse(body: unknown): HandshakeResponse {
  const doc = asObject(body, 'handshake response');
  const sessionId = field(doc, 'session_id', 'handshake response');
  const keyConfirmation = field(doc, 'key_confirmation', 'handshake response');
  const machineId = field(doc, 'machine_id', 'handshake response');
  const fingerprint = field(doc, 'fingerprint', 'handshake response');
  const alg = field(doc, 'alg', 'handshake response');
  const expiresText = field(doc, 'expires_at', 'handshake response');
  if (!isSessionId(sessionId)) throw new ZeqKeyExError('malformed_response', 'the handshake response has an invalid session_id');
  const expiresMs = RFC3339.test(expiresText) && isCalendarDate(expiresText) ? Date.parse(expiresText) : Number.NaN;
  if (Number.isNaN(expiresMs)) throw new ZeqKeyExError('malformed_response', 'expires_at is not an RFC 3339 timestamp');
  return { sessionId, keyConfirmation, machineId, fingerprint, alg, expiresAt: new Date(expiresMs) };
}
