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

/**
 * RFC 3339 `date-time` in UTC (§2.3 sends `expires_at` as "RFC 3339 UTC"): the offset `Z` or
 * `+00:00`/`-00:00` (UTC in RFC 3339 §4.3), its `T` and `Z` in either case, an optional fraction.
 */
const RFC3339_UTC = /^(\d{4})-(\d\d)-(\d\d)t(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:z|[+-]00:00)$/i;

/** Days in `month` (1–12) of `year`, by the Gregorian rules of RFC 3339 Appendix C. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * The instant an RFC 3339 UTC `date-time` names, in milliseconds (a fraction beyond them is cut),
 * computed from its fields rather than by `Date.parse`, whose handling of impossible dates differs
 * between engines (V8 rolls 02-30 over into March). A leap second (`:60`) is refused: responders
 * write the expiry from a clock without leap seconds.
 * @returns the time, or `undefined` for anything else (a date such as 02-30, an hour of 24, an offset
 *   other than UTC).
 */
function parseUtcDateTime(text: string): number | undefined {
  const match = RFC3339_UTC.exec(text);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Number((match[7] ?? '').padEnd(3, '0').slice(0, 3));
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC, which reads the years 0–99 as 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime();
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
  // §8.1: kept as received (`undefined` when absent), checked only where an identity pin applies.
  const attestation = jsonField(body as Record<string, unknown>, 'attestation');
  return { alg, publicKey, fingerprint, machineId, attestation };
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
  const expiresMs = parseUtcDateTime(expiresText);
  if (expiresMs === undefined) throw malformed('invalid expires_at');
  return { ...fields, expiresAt: new Date(expiresMs) };
}
