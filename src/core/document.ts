/**
 * Parsers for the JSON documents of first contact (spec §2.1 and §2.3), shared by the initiator
 * client and the Mode-B peer fetch. They are total: any input either yields a validated value or
 * throws a {@link ZeqKeyExError}. Unknown extra fields are ignored (forward compatibility), and
 * fields are read as own properties only (`json.ts`), so a body cannot reach `Object.prototype`.
 * @module
 */
import { ALG, type Alg } from './constants.js';
import { ZeqKeyExError } from './errors.js';
import { base64Decode } from './encoding.js';
import { assertOwnFingerprint } from './fingerprint.js';
import { isFingerprint, isMachineId, isSessionId } from './identifiers.js';
import { isJsonObject, jsonField, jsonString } from './json.js';
import { assertAlg, assertPublicKey } from './kem.js';

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
  /**
   * The document's `attestation` as received (spec §8.1), unchecked: checked only where an
   * identity pin applies (`core/attestation.ts`). Absent when the document has none.
   */
  attestation?: unknown;
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

/** RFC 3339 `date-time` (its `T` and `Z` in either case). */
const RFC3339 = /^\d{4}-\d\d-\d\dt\d\d:\d\d:\d\d(\.\d{1,9})?(z|[+-]\d\d:\d\d)$/i;

/** Rejects dates such as 02-30 that `Date.parse` would silently roll over into the next month. */
function isCalendarDate(text: string): boolean {
  // An RFC3339 match: the first six runs of digits are year, month, day, hour, minute, second.
  const [year, month, day, hour, minute, second] = text.split(/\D/, 6).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return (
    month > 0 &&
    month < 13 &&
    day > 0 &&
    day <= new Date(Date.UTC(year, month, 0)).getUTCDate() &&
    hour < 24 &&
    minute < 60 &&
    second < 61
  );
}

function malformed(what: string): ZeqKeyExError {
  return new ZeqKeyExError('malformed_response', what);
}

/** The string fields of a JSON object named by `names` (property → wire name), checked in order. */
function stringFields<K extends string>(
  body: unknown,
  names: Readonly<Record<K, string>>,
): Record<K, string> {
  if (!isJsonObject(body)) throw malformed('not a JSON object');
  const fields = {} as Record<K, string>;
  for (const [key, name] of Object.entries(names) as [K, string][]) {
    const value = jsonString(body, name);
    if (value === undefined) throw malformed(`no string ${name}`);
    fields[key] = value;
  }
  return fields;
}

/**
 * Validates a key document: §2.1 checks 1 and 2, in order (check 3, the pin, is the caller's).
 * The modulus check is not run again for one of the last few keys that passed it (`kem.ts` keeps
 * them expanded, found by their bytes); the checks, their order and their codes are the same.
 * @param body - the parsed JSON body.
 * @param accepted - the `alg` values the caller accepts.
 * @returns the validated document.
 * @throws {ZeqKeyExError} `malformed_response`, `unsupported_alg`, `invalid_public_key`,
 *   `fingerprint_inconsistent`.
 */
export function parseKeyDocument(body: unknown, accepted: readonly Alg[] = [ALG]): KeyDocument {
  const { alg, publicKeyText, fingerprint, machineId } = stringFields(body, {
    alg: 'alg',
    publicKeyText: 'public_key',
    fingerprint: 'fingerprint',
    machineId: 'machine_id',
  });
  if (!isMachineId(machineId)) throw malformed('invalid machine_id');
  if (!isFingerprint(fingerprint)) throw malformed('invalid fingerprint');
  // 1. alg accepted; public key of the right length, passing the modulus check.
  assertAlg(alg, accepted);
  let publicKey: Uint8Array;
  try {
    publicKey = base64Decode(publicKeyText, undefined, 'public_key');
  } catch (cause) {
    // base64Decode throws nothing but invalid_encoding.
    throw new ZeqKeyExError('malformed_response', 'invalid public_key', { cause });
  }
  assertPublicKey(publicKey, alg);
  // 2. the fingerprint is the key's own.
  assertOwnFingerprint(publicKey, fingerprint);
  const attestation = jsonField(body as Record<string, unknown>, 'attestation');
  return attestation === undefined
    ? { alg, publicKey, fingerprint, machineId }
    : { alg, publicKey, fingerprint, machineId, attestation };
}

/**
 * Validates the shape of a handshake response (§2.3). The caller then checks that it names the
 * key it encapsulated to, and opens the confirmation.
 * @param body - the parsed JSON body.
 * @returns the validated fields.
 * @throws {ZeqKeyExError} `malformed_response`.
 */
export function parseHandshakeResponse(body: unknown): HandshakeResponse {
  const fields = stringFields(body, {
    sessionId: 'session_id',
    keyConfirmation: 'key_confirmation',
    machineId: 'machine_id',
    fingerprint: 'fingerprint',
    alg: 'alg',
    expiresAt: 'expires_at',
  });
  const expiresText = fields.expiresAt;
  if (!isSessionId(fields.sessionId)) throw malformed('invalid session_id');
  const expiresMs =
    RFC3339.test(expiresText) && isCalendarDate(expiresText) ? Date.parse(expiresText) : Number.NaN;
  if (Number.isNaN(expiresMs)) throw malformed('invalid expires_at');
  return { ...fields, expiresAt: new Date(expiresMs) };
}
