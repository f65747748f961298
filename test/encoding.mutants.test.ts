/**
 * The byte encodings of spec §1 (`src/core/encoding.ts`) at each of their lines: canonical base64
 * and lowercase hex of an exact length (each refusal `invalid_encoding`, its message naming the
 * field and the length), the chunks of a body joined, `uint32_be` written and read at an offset,
 * and `LP()` over strings and bytes.
 */
import { describe, expect, test } from 'vitest';
import {
  base64Decode,
  base64Encode,
  concat,
  hexDecode,
  hexEncode,
  joinChunks,
  lp,
  readU32be,
  utf8,
  writeU32be,
} from '../src/core/encoding.js';
import { isZeqKeyExError } from '../src/core/errors.js';
import { expectCode } from './helpers/errors.js';

/** The message of the `invalid_encoding` error `fn` throws. */
function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(isZeqKeyExError(error, 'invalid_encoding')).toBe(true);
    return (error as Error).message;
  }
  throw new Error('nothing thrown');
}

describe('base64Decode', () => {
  test('the canonical spelling of the required length, and only it', () => {
    expect(base64Decode('AAEC', 3)).toEqual(Uint8Array.of(0, 1, 2));
    expect(base64Decode('AAE=', 2)).toEqual(Uint8Array.of(0, 1));
    expect(base64Decode('AA==', 1)).toEqual(Uint8Array.of(0));
    expect(base64Decode('', 0)).toEqual(new Uint8Array(0));
    expect(base64Decode('AAECAw==')).toEqual(Uint8Array.of(0, 1, 2, 3));
    for (const [text, length] of [
      ['AAEC', 2],
      ['AAEC', 4],
      ['AAE=', 1],
      ['AAE=', 3],
      ['AAE', 2],
      ['AAF=', 2],
      ['AA=', 1],
      [' AA=', 1],
      ['AAEC ', 3],
      ['AA==AA==', 2],
      ['AAECAw', 4],
    ] as const)
      expectCode(() => base64Decode(text, length), 'invalid_encoding');
    for (const text of ['AAE', 'AAECAw', 'AAF=', 'AA=\n=', '-_8=', 7, null, undefined, ['AA==']])
      expectCode(() => base64Decode(text), 'invalid_encoding');
  });

  test('the message names the field and, when fixed, the length', () => {
    const withLength = messageOf(() => base64Decode('AA==', 32, 'public_key'));
    expect(withLength).toContain('public_key');
    expect(withLength).toContain('32 bytes');
    const without = messageOf(() => base64Decode('A', undefined, 'sealed secret'));
    expect(without).toContain('sealed secret');
    expect(without).not.toContain('bytes');
    expect(without).not.toContain('undefined');
    expect(messageOf(() => base64Decode(5))).toContain('base64 field');
  });
});

describe('hexDecode', () => {
  test('lowercase hex of the required length, and only it', () => {
    expect(hexDecode('00ff10', 3)).toEqual(Uint8Array.of(0, 255, 16));
    expect(hexDecode('')).toEqual(new Uint8Array(0));
    expect(hexDecode('abcdef')).toEqual(Uint8Array.of(0xab, 0xcd, 0xef));
    for (const [text, length] of [
      ['00ff10', 2],
      ['00ff10', 4],
      ['00FF10', 3],
      ['0ff10', undefined],
      ['00fg', undefined],
      [' 00ff', undefined],
      ['00ff\n', undefined],
      ['x00ff', undefined],
      [7, undefined],
      [null, 0],
    ] as const)
      expectCode(() => hexDecode(text, length), 'invalid_encoding');
  });

  test('the message names the field and, when fixed, the number of characters', () => {
    const withLength = messageOf(() => hexDecode('00', 32, 'fingerprint'));
    expect(withLength).toContain('fingerprint');
    expect(withLength).toContain('64 ');
    const without = messageOf(() => hexDecode('0', undefined, 'machine key'));
    expect(without).toContain('machine key');
    expect(without).not.toContain('undefined');
    expect(without).not.toMatch(/\d|NaN/);
    expect(messageOf(() => hexDecode('G'))).toContain('hex field');
  });

  test('hexEncode writes lowercase, two characters a byte', () => {
    expect(hexEncode(Uint8Array.of(0, 0xab, 0x0f))).toBe('00ab0f');
    expect(base64Encode(Uint8Array.of(0xfb, 0xff))).toBe('+/8=');
  });
});

describe('joinChunks', () => {
  test('the only chunk is returned itself; several are joined in order; none is empty', () => {
    const only = Uint8Array.of(1, 2, 3);
    expect(joinChunks([only])).toBe(only);
    expect(joinChunks([])).toEqual(new Uint8Array(0));
    const joined = joinChunks([
      Uint8Array.of(1),
      new Uint8Array(0),
      Uint8Array.of(2, 3),
      Uint8Array.of(4),
    ]);
    expect(joined).toEqual(Uint8Array.of(1, 2, 3, 4));
    expect(joined).toHaveLength(4);
    // More chunks than a call can take arguments.
    const many = Array.from({ length: 200_000 }, (_, i) => Uint8Array.of(i & 0xff));
    const all = joinChunks(many);
    expect(all).toHaveLength(200_000);
    expect([all[0], all[255], all[256], all[199_999]]).toEqual([0, 255, 0, 199_999 & 0xff]);
    expect(concat(Uint8Array.of(1), Uint8Array.of(2))).toEqual(Uint8Array.of(1, 2));
  });
});

describe('uint32_be', () => {
  test('written and read at an offset, big-endian, the whole range', () => {
    for (const n of [
      0, 1, 0xff, 0x100, 0x01020304, 0x7fffffff, 0x80000000, 0xfedcba98, 0xffffffff,
    ]) {
      const bytes = new Uint8Array(7).fill(0xaa);
      writeU32be(bytes, 2, n);
      expect(bytes.subarray(0, 2)).toEqual(Uint8Array.of(0xaa, 0xaa));
      expect(bytes[6]).toBe(0xaa);
      expect(readU32be(bytes, 2)).toBe(n);
    }
    const bytes = new Uint8Array(4);
    writeU32be(bytes, 0, 0x01020304);
    expect(bytes).toEqual(Uint8Array.of(1, 2, 3, 4));
    writeU32be(bytes, 0, 0xfedcba98);
    expect(bytes).toEqual(Uint8Array.of(0xfe, 0xdc, 0xba, 0x98));
    expect(readU32be(Uint8Array.of(9, 0x80, 0, 0, 1), 1)).toBe(0x80000001);
    expect(readU32be(Uint8Array.of(0x12, 0x34, 0x56, 0x78), 0)).toBe(0x12345678);
  });
});

describe('lp', () => {
  test('each field as uint32_be(length) ‖ bytes, strings in UTF-8', () => {
    expect(lp()).toEqual(new Uint8Array(0));
    expect(lp('')).toEqual(Uint8Array.of(0, 0, 0, 0));
    expect(lp('é', Uint8Array.of(7, 8, 9))).toEqual(
      Uint8Array.of(0, 0, 0, 2, 0xc3, 0xa9, 0, 0, 0, 3, 7, 8, 9),
    );
    expect(lp(new Uint8Array(300))).toEqual(
      concat(Uint8Array.of(0, 0, 1, 44), new Uint8Array(300)),
    );
    expect(utf8('zeq')).toEqual(Uint8Array.of(0x7a, 0x65, 0x71));
  });
});
