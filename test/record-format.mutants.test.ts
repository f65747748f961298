/**
 * The record format (`src/core/record-format.ts`, spec §3) at its edges: counters are integers in
 * [0, 2^32) — 2^32 would be written as 0, a repeated nonce — so the exported `encodeRecordHeader`
 * and `sealRecord` refuse anything else; the header's layout byte by byte; `parseRecordHeader`'s
 * limits (one byte short, another version, a seq of 2^32 or more); the AAD binding the session id
 * and the application AAD, also when sessions alternate.
 */
import { describe, expect, test } from 'vitest';
import { RECORD_HEADER_BYTES } from '../src/core/constants.js';
import {
  deriveTrafficKey,
  encodeRecordHeader,
  openRecord,
  parseRecordHeader,
  rekey,
  sealRecord,
} from '../src/core/record-format.js';
import { expectCode } from './helpers/errors.js';
import { text, utf8 } from './helpers/records.js';
import { toHex } from './helpers/vectors.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const SID = 'record-format-session';

describe('counters', () => {
  test('epoch and seq 2^32 are refused, not written as 0', () => {
    expect(() => encodeRecordHeader(2 ** 32, 0)).toThrow(RangeError);
    expect(() => encodeRecordHeader(0, 2 ** 32)).toThrow(RangeError);
    expect(() => sealRecord(KEY, SID, 0, 2 ** 32, utf8('x'))).toThrow(RangeError);
    expect(() => sealRecord(KEY, SID, 2 ** 32, 0, utf8('x'))).toThrow(RangeError);
  });

  test('negative, fractional and non-numeric counters are refused', () => {
    for (const bad of [-1, 0.5, Number.NaN, Infinity, 2 ** 53, '1' as unknown as number]) {
      expect(() => encodeRecordHeader(bad, 0)).toThrow(RangeError);
      expect(() => encodeRecordHeader(0, bad)).toThrow(RangeError);
    }
  });

  test('0 and 2^32 − 1 are the limits, both written big-endian', () => {
    expect(toHex(encodeRecordHeader(0, 0))).toBe(`01${'00'.repeat(12)}`);
    expect(toHex(encodeRecordHeader(2 ** 32 - 1, 2 ** 32 - 1))).toBe(`01ffffffff00000000ffffffff`);
    expect(toHex(encodeRecordHeader(0x01020304, 0x0a0b0c0d))).toBe('0101020304000000000a0b0c0d');
  });
});

describe('parseRecordHeader', () => {
  const record = sealRecord(KEY, SID, 7, 9, utf8(''));

  test('the shortest record is header and tag; one byte less is malformed', () => {
    expect(record).toHaveLength(RECORD_HEADER_BYTES + 16);
    expect(parseRecordHeader(record)).toEqual({ version: 1, epoch: 7, seq: 9 });
    expectCode(() => parseRecordHeader(record.subarray(0, record.length - 1)), 'record_malformed');
    expectCode(() => parseRecordHeader(new Uint8Array(0)), 'record_malformed');
  });

  test('what is not a Uint8Array is malformed', () => {
    for (const value of [null, undefined, 'record', Array.from(record), record.buffer])
      expectCode(() => parseRecordHeader(value as unknown as Uint8Array), 'record_malformed');
  });

  test('another version byte is record_unsupported_version', () => {
    for (const version of [0x00, 0x02, 0xff]) {
      const other = record.slice();
      other[0] = version;
      expectCode(() => parseRecordHeader(other), 'record_unsupported_version');
    }
  });

  test('any bit of the seq’s high half set (seq ≥ 2^32) is malformed', () => {
    for (const at of [5, 6, 7, 8]) {
      const high = record.slice();
      high[at] = 1;
      expectCode(() => parseRecordHeader(high), 'record_malformed');
      expectCode(() => openRecord(KEY, SID, high), 'record_malformed');
    }
  });
});

describe('seal and open', () => {
  test('a record opens with its key, session and app AAD only', () => {
    const aad = utf8('app');
    const sealed = sealRecord(KEY, SID, 1, 2, utf8('hello'), aad);
    expect(text(openRecord(KEY, SID, sealed, aad))).toBe('hello');
    expectCode(() => openRecord(KEY, SID, sealed), 'record_auth_failed');
    expectCode(() => openRecord(KEY, SID, sealed, utf8('apq')), 'record_auth_failed');
    expectCode(() => openRecord(KEY, `${SID}x`, sealed, aad), 'record_auth_failed');
    expectCode(() => openRecord(rekey(KEY), SID, sealed, aad), 'record_auth_failed');
    const other = sealed.slice();
    other[4] = (other[4] as number) ^ 1; // the epoch is in the nonce and the AAD
    expectCode(() => openRecord(KEY, SID, other, aad), 'record_auth_failed');
  });

  test('sessions that alternate each bind their own id', () => {
    const a = sealRecord(KEY, 'session-a-000000', 0, 0, utf8('a'));
    const b = sealRecord(KEY, 'session-b-000000', 0, 0, utf8('b'));
    const a2 = sealRecord(KEY, 'session-a-000000', 0, 1, utf8('a2'));
    expect(text(openRecord(KEY, 'session-a-000000', a))).toBe('a');
    expect(text(openRecord(KEY, 'session-b-000000', b))).toBe('b');
    expect(text(openRecord(KEY, 'session-a-000000', a2))).toBe('a2');
    expectCode(() => openRecord(KEY, 'session-b-000000', a), 'record_auth_failed');
    // Same key, epoch and seq under two sessions: the AAD differs, so do the tags.
    expect(toHex(a.subarray(-16))).not.toBe(toHex(b.subarray(-16)));
  });

  test('the app AAD defaults to empty; one zero byte of AAD is another AAD', () => {
    const sealed = sealRecord(KEY, SID, 0, 3, utf8('x'));
    expect(text(openRecord(KEY, SID, sealed, new Uint8Array(0)))).toBe('x');
    expectCode(() => openRecord(KEY, SID, sealed, new Uint8Array(1)), 'record_auth_failed');
  });

  test('the record is header ‖ ciphertext ‖ tag, its header the one of encodeRecordHeader', () => {
    const sealed = sealRecord(KEY, SID, 3, 4, utf8('abc'));
    expect(sealed).toHaveLength(RECORD_HEADER_BYTES + 3 + 16);
    expect(toHex(sealed.subarray(0, RECORD_HEADER_BYTES))).toBe(toHex(encodeRecordHeader(3, 4)));
  });
});

describe('keys', () => {
  test('traffic keys differ per direction and session, and the rekey chain moves', () => {
    const i2r = deriveTrafficKey(KEY, SID, 'i2r');
    const r2i = deriveTrafficKey(KEY, SID, 'r2i');
    expect(i2r).toHaveLength(32);
    expect(toHex(i2r)).not.toBe(toHex(r2i));
    expect(toHex(deriveTrafficKey(KEY, `${SID}2`, 'i2r'))).not.toBe(toHex(i2r));
    expect(toHex(rekey(i2r))).not.toBe(toHex(i2r));
    expect(rekey(i2r)).toHaveLength(32);
  });

  test('a session id that is not a string, or another direction, is a TypeError', () => {
    expect(() => deriveTrafficKey(KEY, 7 as unknown as string, 'i2r')).toThrow(TypeError);
    for (const direction of ['I2R', 'both', ''])
      expect(() => deriveTrafficKey(KEY, SID, direction as 'i2r')).toThrow(TypeError);
  });
});

describe('the programmer errors name the argument at fault', () => {
  test('a counter out of range names epoch or seq', () => {
    expect(() => encodeRecordHeader(2 ** 32, 0)).toThrow(/epoch/);
    expect(() => encodeRecordHeader(0, 2 ** 32)).toThrow(/seq/);
    expect(() => encodeRecordHeader(0, -1)).toThrow(/2\^32/);
  });

  test('deriveTrafficKey names sessionId and direction', () => {
    expect(() => deriveTrafficKey(KEY, 7 as unknown as string, 'i2r')).toThrow(/sessionId/);
    expect(() => deriveTrafficKey(KEY, SID, 'x2y' as 'i2r')).toThrow(/direction/);
  });
});
