/**
 * Record-layer primitives of spec §3: per-direction traffic keys, the epoch rekey, the 13-byte
 * header, and sealing/opening one record under one epoch key. The stateful ratchet (which epoch,
 * which sequence number, the replay window) is built on these in `record-channel.ts`.
 *
 * Caveat: the nonce is `uint32_be(epoch) ‖ uint64_be(seq)`, unique only while a sender never
 * seals two records with the same `(epoch, seq)` under one key; the record channel's sender
 * guarantees that.
 * @module
 */
import {
  AEAD_TAG_BYTES,
  I2R_INFO,
  MAX_EPOCH,
  R2I_INFO,
  RECORD_HEADER_BYTES,
  RECORD_VERSION,
  REKEY_INFO,
} from './constants.js';
import { ZeqKeyExError } from './errors.js';
import { lp, readU32be, utf8, writeU32be } from './encoding.js';
import type { AsyncAeadKey } from '../backends/aead-backend.js';
import { aeadOpen, aeadSealPrefixed, hkdfExpand } from './primitives.js';

/** A record direction: initiator → responder, or responder → initiator. */
export type Direction = 'i2r' | 'r2i';

// Pure, so that bundlers can drop them from apps without records (kem-backend.ts says why).
const I2R = /* @__PURE__ */ utf8(I2R_INFO);
const R2I = /* @__PURE__ */ utf8(R2I_INFO);
const REKEY = /* @__PURE__ */ utf8(REKEY_INFO);
const EMPTY = /* @__PURE__ */ new Uint8Array(0);

/** The parsed header of a record. */
export interface RecordHeader {
  /** The version byte (always 0x01 for records this SDK accepts). */
  version: number;
  /** The epoch, in [0, 2^32). */
  epoch: number;
  /** The sequence number within the epoch, in [0, 2^32). */
  seq: number;
}

/**
 * The epoch-0 traffic key of one direction, bound to its session (spec §3, revision 2):
 * `HKDF-Expand(record_key, "zeq-keyex/v1 i2r"|"… r2i" ‖ LP(session_id), 32)`. Two sessions never
 * share a traffic key, even when a responder accepted one `cipher_text` twice (the same record
 * key): no AES-GCM nonce is used twice under one key. Keys of revision 1 (without the session id)
 * open none of these records.
 * @param recordKey - the §2.2 record key.
 * @param sessionId - the session id the responder chose.
 * @param direction - `'i2r'` or `'r2i'`.
 * @returns the 32-byte key. Wipe after use.
 * @throws {TypeError} for a session id that is not a string or an unknown direction.
 */
export function deriveTrafficKey(
  recordKey: Uint8Array,
  sessionId: string,
  direction: Direction,
): Uint8Array {
  if (typeof sessionId !== 'string') throw new TypeError('sessionId must be a string');
  if (direction !== 'i2r' && direction !== 'r2i')
    throw new TypeError('direction must be "i2r" or "r2i"');
  const label = direction === 'i2r' ? I2R : R2I;
  const session = lp(sessionId);
  const info = new Uint8Array(label.length + session.length);
  info.set(label);
  info.set(session, label.length);
  return hkdfExpand(recordKey, info, 32);
}

/**
 * One epoch forward: `k[e+1] = HKDF-Expand(k[e], "zeq-keyex/v1 rekey", 32)`.
 * @param key - the key of epoch e.
 * @returns the key of epoch e+1 (the caller wipes the old one).
 */
export function rekey(key: Uint8Array): Uint8Array {
  return hkdfExpand(key, REKEY, 32);
}

function assertCounter(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_EPOCH)
    throw new RangeError(`${name} must be an integer in [0, 2^32)`);
}

/**
 * `0x01 ‖ uint32_be(epoch) ‖ uint64_be(seq)`.
 * @param epoch - in [0, 2^32).
 * @param seq - in [0, 2^32) (the sender ratchets before 2^32 records).
 * @returns the 13-byte header.
 */
export function encodeRecordHeader(epoch: number, seq: number): Uint8Array {
  assertCounter(epoch, 'epoch');
  assertCounter(seq, 'seq');
  const header = new Uint8Array(RECORD_HEADER_BYTES);
  header[0] = RECORD_VERSION;
  writeU32be(header, 1, epoch);
  // Bytes 5–8, the high half of uint64_be(seq), stay zero: seq < 2^32.
  writeU32be(header, 9, seq);
  return header;
}

/**
 * Parses a record's header.
 * @param record - a whole record.
 * @returns the header fields.
 * @throws {ZeqKeyExError} `record_malformed` when the record is shorter than header and tag, or its
 *   seq is 2^32 or more (no conforming sender reaches it); `record_unsupported_version` for a
 *   version byte other than 0x01.
 */
export function parseRecordHeader(record: Uint8Array): RecordHeader {
  if (!(record instanceof Uint8Array) || record.length < RECORD_HEADER_BYTES + AEAD_TAG_BYTES) {
    throw new ZeqKeyExError('record_malformed');
  }
  const version = record[0] as number;
  if (version !== RECORD_VERSION) throw new ZeqKeyExError('record_unsupported_version');
  if (readU32be(record, 5) !== 0) throw new ZeqKeyExError('record_malformed');
  return { version, epoch: readU32be(record, 1), seq: readU32be(record, 9) };
}

/** `LP(session_id)` of the session that sealed or opened last: a session's records share it. */
let lastSessionId: string | undefined;
let lastSessionField: Uint8Array = EMPTY;

/** `header ‖ LP(session_id) ‖ LP(app_aad)` (spec §3), built in one array. */
function recordAad(header: Uint8Array, sessionId: string, appAad: Uint8Array): Uint8Array {
  // Stryker disable next-line ConditionalExpression: `→ true` is equivalent: the cached `LP(session_id)` is recomputed, with the same bytes.
  if (sessionId !== lastSessionId) {
    lastSessionField = lp(sessionId);
    lastSessionId = sessionId;
  }
  const sessionField = lastSessionField;
  const aad = new Uint8Array(header.length + sessionField.length + 4 + appAad.length);
  aad.set(header);
  aad.set(sessionField, header.length);
  const at = header.length + sessionField.length;
  writeU32be(aad, at, appAad.length);
  aad.set(appAad, at + 4);
  return aad;
}

/**
 * Seals one record: `header ‖ AES-256-GCM-Seal(k[epoch], nonce, plaintext, aad)`.
 * @param key - the traffic key of `epoch`.
 * @param sessionId - the session id.
 * @param epoch - the epoch of `key`.
 * @param seq - the sequence number, never reused in this epoch.
 * @param plaintext - the message.
 * @param appAad - optional application associated data.
 * @returns the record bytes.
 */
export function sealRecord(
  key: Uint8Array,
  sessionId: string,
  epoch: number,
  seq: number,
  plaintext: Uint8Array,
  appAad: Uint8Array = EMPTY,
): Uint8Array {
  const header = encodeRecordHeader(epoch, seq);
  return aeadSealPrefixed(
    key,
    header.subarray(1),
    plaintext,
    recordAad(header, sessionId, appAad),
    header,
  );
}

/**
 * Opens one record under the key of the epoch its header names (the caller picks the key).
 * @param key - the traffic key of the record's epoch.
 * @param sessionId - the session id.
 * @param record - the record bytes.
 * @param appAad - the application associated data it was sealed with.
 * @returns the plaintext.
 * @throws {ZeqKeyExError} `record_malformed`, `record_unsupported_version`, or `record_auth_failed`.
 */
export function openRecord(
  key: Uint8Array,
  sessionId: string,
  record: Uint8Array,
  appAad: Uint8Array = EMPTY,
): Uint8Array {
  parseRecordHeader(record);
  const header = record.subarray(0, RECORD_HEADER_BYTES);
  const opened = aeadOpen(
    key,
    header.subarray(1),
    record.subarray(RECORD_HEADER_BYTES),
    recordAad(header, sessionId, appAad),
  );
  if (opened === undefined) throw new ZeqKeyExError('record_auth_failed');
  return opened;
}

/**
 * {@link sealRecord} through an asynchronous AES-GCM key (`aeadKeyAsync` of the platform): the
 * same bytes. The header, nonce and AAD are built now; the caller has taken `seq` already.
 * @param key - the traffic key of `epoch`, for asynchronous use.
 * @param sessionId - the session id.
 * @param epoch - the epoch of `key`.
 * @param seq - the sequence number, never reused in this epoch.
 * @param plaintext - the message (read before this returns).
 * @param appAad - optional application associated data.
 * @returns the record bytes.
 * @internal
 */
export function sealRecordAsync(
  key: AsyncAeadKey,
  sessionId: string,
  epoch: number,
  seq: number,
  plaintext: Uint8Array,
  appAad: Uint8Array = EMPTY,
): Promise<Uint8Array> {
  const header = encodeRecordHeader(epoch, seq);
  return key.seal(header.subarray(1), plaintext, recordAad(header, sessionId, appAad), header);
}

/**
 * {@link openRecord} through an asynchronous AES-GCM key, for a record whose header was parsed.
 * @param key - the traffic key of the record's epoch, for asynchronous use.
 * @param sessionId - the session id.
 * @param record - the record bytes (read before this returns).
 * @param appAad - the application associated data it was sealed with.
 * @returns the plaintext.
 * @throws {ZeqKeyExError} `record_auth_failed` (as a rejection).
 * @internal
 */
export async function openRecordAsync(
  key: AsyncAeadKey,
  sessionId: string,
  record: Uint8Array,
  appAad: Uint8Array = EMPTY,
): Promise<Uint8Array> {
  const header = record.subarray(0, RECORD_HEADER_BYTES);
  const opened = await key.open(
    header.subarray(1),
    record.subarray(RECORD_HEADER_BYTES),
    recordAad(header, sessionId, appAad),
  );
  if (opened === undefined) throw new ZeqKeyExError('record_auth_failed');
  return opened;
}
