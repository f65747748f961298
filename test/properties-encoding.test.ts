/**
 * Property tests of the spec §1 encodings: strict base64 (one spelling per byte string), lowercase
 * hex, and `LP()` framing. The suite runs with the Node build's platform (`Buffer` decodes and
 * encodes base64); the two builds' base64 primitives are also checked against each other (the
 * portable one is `atob`/`btoa`), so neither is its own oracle.
 */
import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  base64Decode,
  base64Encode,
  hexDecode,
  hexEncode,
  lp,
  utf8,
} from '../src/core/encoding.js';
import { u32be } from '../src/internal/testing.js';
import * as nodePlatform from '../src/backends/platform.node.js';
import * as portablePlatform from '../src/backends/platform.js';
import { B64_ALPHABET, attempt, base64ishString, expectRejected } from './helpers/properties.js';
import { toHex } from './helpers/vectors.js';

const RUNS = { numRuns: 200 };

const bytes = fc.uint8Array({ maxLength: 96 });
/** Bytes whose encoding ends in padding (length not a multiple of 3). */
const paddedBytes = fc
  .uint8Array({ minLength: 1, maxLength: 96 })
  .filter((b) => b.length % 3 !== 0);
const whitespace = fc.constantFrom(
  ' ',
  '\t',
  '\n',
  '\r',
  '\r\n',
  '\f',
  '\v',
  '\u00a0',
  '\u2028',
  '\ufeff',
);
/** One character that is neither in the base64 alphabet nor `=`. */
const nonBase64Char = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 1 })
  .filter((c) => !B64_ALPHABET.includes(c) && c !== '=');
const nonHexChar = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 1 })
  .filter((c) => !/^[0-9a-f]$/.test(c));

function insertAt(text: string, at: number, piece: string): string {
  return text.slice(0, at) + piece + text.slice(at);
}

function replaceAt(text: string, at: number, piece: string): string {
  return text.slice(0, at) + piece + text.slice(at + 1);
}

function padLength(text: string): number {
  return text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
}

describe('base64', () => {
  test.prop([bytes], RUNS)('decode(encode(b)) = b, with and without the expected length', (b) => {
    const text = base64Encode(b);
    expect(text.length % 4).toBe(0);
    expect(text).toBe(Buffer.from(b).toString('base64'));
    expect(base64Decode(text)).toEqual(b);
    expect(base64Decode(text, b.length)).toEqual(b);
  });

  const candidate = fc.oneof(base64ishString, fc.uint8Array({ maxLength: 12 }).map(base64Encode));
  test.prop([candidate], { numRuns: 1000 })(
    'accepts a string exactly when it is the canonical encoding of some bytes',
    (text) => {
      // Node's lenient decoder followed by its (canonical) encoder is the oracle.
      const canonical = Buffer.from(text, 'base64').toString('base64') === text;
      const outcome = attempt(() => base64Decode(text));
      expect(outcome.ok).toBe(canonical);
      if (outcome.ok) expect(base64Encode(outcome.value as Uint8Array)).toBe(text);
      else expectRejected(() => base64Decode(text), 'invalid_encoding');
    },
  );

  test.prop([bytes], RUNS)('the two builds encode alike', (b) => {
    expect(nodePlatform.base64Of(b)).toBe(portablePlatform.base64Of(b));
    expect(nodePlatform.base64Of(b.subarray(1))).toBe(portablePlatform.base64Of(b.subarray(1)));
  });

  test.prop([candidate], { numRuns: 1000 })(
    'the two builds accept exactly the same texts, as the same bytes',
    (text) => {
      const strict = (platform: typeof portablePlatform): string | undefined => {
        const decoded = platform.base64Bytes(text);
        return decoded !== undefined && platform.base64Of(decoded) === text
          ? toHex(decoded)
          : undefined;
      };
      expect(strict(nodePlatform)).toBe(strict(portablePlatform));
    },
  );

  test.prop([bytes], RUNS)(
    "decoded bytes own their memory (nothing of Buffer's shared pool shows through)",
    (b) => {
      const decoded = base64Decode(base64Encode(b));
      expect(decoded.byteOffset).toBe(0);
      expect(decoded.buffer.byteLength).toBe(b.length);
      expect(Object.getPrototypeOf(decoded)).toBe(Uint8Array.prototype);
    },
  );

  test.prop([bytes, fc.nat(), whitespace], RUNS)(
    'rejects whitespace or a line break inserted anywhere',
    (b, where, space) => {
      const text = base64Encode(b);
      const bad = insertAt(text, where % (text.length + 1), space);
      expectRejected(() => base64Decode(bad), 'invalid_encoding');
      expectRejected(() => base64Decode(bad, b.length), 'invalid_encoding');
    },
  );

  test.prop([paddedBytes, fc.boolean()], RUNS)('rejects missing padding', (b, all) => {
    const text = base64Encode(b);
    const bad = text.slice(0, text.length - (all ? padLength(text) : 1));
    expectRejected(() => base64Decode(bad), 'invalid_encoding');
    expectRejected(() => base64Decode(bad, b.length), 'invalid_encoding');
  });

  test.prop([bytes, fc.constantFrom('=', '==', '===', '====')], RUNS)(
    'rejects extra padding',
    (b, extra) => {
      const bad = base64Encode(b) + extra;
      expectRejected(() => base64Decode(bad), 'invalid_encoding');
      expectRejected(() => base64Decode(bad, b.length), 'invalid_encoding');
    },
  );

  test.prop([paddedBytes, fc.integer({ min: 1, max: 15 })], RUNS)(
    'rejects non-zero pad bits',
    (b, bits) => {
      const text = base64Encode(b);
      const pads = padLength(text);
      const last = text.length - pads - 1;
      // One pad character leaves 2 unused bits in the last data character, two leave 4.
      const unused = pads === 2 ? 0b1111 : 0b11;
      const index = B64_ALPHABET.indexOf(text.charAt(last));
      expect(index & unused).toBe(0);
      const bad = replaceAt(text, last, B64_ALPHABET.charAt(index | ((bits % unused) + 1)));
      expect(Buffer.from(bad, 'base64')).toEqual(Buffer.from(b)); // a lenient decoder would accept it
      expectRejected(() => base64Decode(bad), 'invalid_encoding');
      expectRejected(() => base64Decode(bad, b.length), 'invalid_encoding');
    },
  );

  test.prop(
    [fc.uint8Array({ minLength: 1, maxLength: 96 }), fc.nat(), fc.constantFrom('-', '_')],
    RUNS,
  )('rejects a base64url character in place of any data character', (b, where, urlChar) => {
    const text = base64Encode(b);
    const bad = replaceAt(text, where % (text.length - padLength(text)), urlChar);
    expectRejected(() => base64Decode(bad), 'invalid_encoding');
    expectRejected(() => base64Decode(bad, b.length), 'invalid_encoding');
  });

  test.prop([fc.uint8Array({ minLength: 1, maxLength: 96 })], RUNS)(
    'rejects the base64url spelling of bytes',
    (b) => {
      const text = base64Encode(b);
      const url = text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      fc.pre(url !== text);
      expectRejected(() => base64Decode(url), 'invalid_encoding');
    },
  );

  test.prop([bytes, fc.nat(), nonBase64Char, fc.boolean()], RUNS)(
    'rejects a character outside the alphabet, inserted or replacing one',
    (b, where, char, insert) => {
      const text = base64Encode(b);
      const bad =
        insert || text.length === 0
          ? insertAt(text, where % (text.length + 1), char)
          : replaceAt(text, where % text.length, char);
      expectRejected(() => base64Decode(bad), 'invalid_encoding');
      expectRejected(() => base64Decode(bad, b.length), 'invalid_encoding');
    },
  );

  test.prop([fc.uint8Array({ minLength: 4, maxLength: 96 }), fc.nat()], RUNS)(
    'rejects padding in the middle',
    (b, where) => {
      const text = base64Encode(b);
      // Any character before the last quad turned into '=' (the length stays a multiple of 4).
      const bad = replaceAt(text, where % (text.length - 4), '=');
      expectRejected(() => base64Decode(bad), 'invalid_encoding');
    },
  );

  test.prop([paddedBytes, fc.uint8Array({ minLength: 1, maxLength: 48 })], RUNS)(
    'rejects two encodings run together after padding',
    (a, b) => {
      const bad = base64Encode(a) + base64Encode(b);
      expectRejected(() => base64Decode(bad), 'invalid_encoding');
      expectRejected(() => base64Decode(bad, a.length + b.length), 'invalid_encoding');
    },
  );

  test.prop([bytes, fc.nat(200)], RUNS)(
    'rejects any decoded length but the expected one',
    (b, length) => {
      fc.pre(length !== b.length);
      expectRejected(() => base64Decode(base64Encode(b), length), 'invalid_encoding');
    },
  );
});

describe('hex', () => {
  test.prop([bytes], RUNS)('decode(encode(b)) = b, with and without the expected length', (b) => {
    const text = hexEncode(b);
    expect(text).toBe(toHex(b));
    expect(hexDecode(text)).toEqual(b);
    expect(hexDecode(text, b.length)).toEqual(b);
  });

  test.prop([bytes, fc.nat()], RUNS)('rejects upper case anywhere', (b, where) => {
    const text = hexEncode(b);
    const letters = Array.from(text.matchAll(/[a-f]/g), (match) => match.index);
    fc.pre(letters.length > 0);
    const at = letters[where % letters.length] as number;
    expectRejected(
      () => hexDecode(replaceAt(text, at, text.charAt(at).toUpperCase())),
      'invalid_encoding',
    );
    expectRejected(() => hexDecode(text.toUpperCase(), b.length), 'invalid_encoding');
  });

  test.prop(
    [
      fc.uint8Array({ minLength: 1, maxLength: 96 }),
      fc.boolean(),
      fc.constantFrom(...'0123456789abcdef'.split('')),
    ],
    RUNS,
  )('rejects an odd length', (b, drop, digit) => {
    const text = hexEncode(b);
    const bad = drop ? text.slice(0, -1) : text + digit;
    expectRejected(() => hexDecode(bad), 'invalid_encoding');
    expectRejected(() => hexDecode(bad, b.length), 'invalid_encoding');
  });

  test.prop([fc.uint8Array({ minLength: 1, maxLength: 96 }), fc.nat(), nonHexChar], RUNS)(
    'rejects a non-hex character',
    (b, where, char) => {
      const text = hexEncode(b);
      const bad = replaceAt(text, where % text.length, char);
      expectRejected(() => hexDecode(bad), 'invalid_encoding');
      expectRejected(() => hexDecode(bad, b.length), 'invalid_encoding');
    },
  );

  test.prop([bytes, fc.nat(200)], RUNS)(
    'rejects any decoded length but the expected one',
    (b, length) => {
      fc.pre(length !== b.length);
      expectRejected(() => hexDecode(hexEncode(b), length), 'invalid_encoding');
    },
  );
});

describe('LP()', () => {
  const field = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
  );

  test.prop([fc.array(field, { maxLength: 8 })], RUNS)(
    'is uint32_be(len) ‖ bytes for every field, in order',
    (fields) => {
      const out = lp(...fields);
      const bytes = fields.map((f) => (typeof f === 'string' ? utf8(f) : f));
      expect(out.length).toBe(bytes.reduce((n, b) => n + 4 + b.length, 0));
      let at = 0;
      for (const b of bytes) {
        expect(out.subarray(at, at + 4)).toEqual(u32be(b.length));
        expect(out.subarray(at + 4, at + 4 + b.length)).toEqual(b);
        at += 4 + b.length;
      }
      expect(at).toBe(out.length);
    },
  );

  test.prop([fc.array(fc.string({ maxLength: 8 }), { maxLength: 6 })], RUNS)(
    'frames a string exactly like its UTF-8 bytes',
    (fields) => {
      expect(lp(...fields)).toEqual(lp(...fields.map(utf8)));
    },
  );

  // A tiny alphabet makes equal concatenations with different splits common.
  const smallFields = fc.array(fc.uint8Array({ max: 1, maxLength: 3 }), { maxLength: 4 });
  test.prop([smallFields, smallFields], { numRuns: 500 })(
    'is injective: equal output means equal field lists',
    (a, b) => {
      const same =
        a.length === b.length && a.every((f, i) => toHex(f) === toHex(b[i] as Uint8Array));
      expect(toHex(lp(...a)) === toHex(lp(...b))).toBe(same);
    },
  );

  test('separates fields that plain concatenation would confuse', () => {
    const distinct: [Uint8Array, Uint8Array][] = [
      [lp('ab', 'c'), lp('a', 'bc')],
      [lp('', 'x'), lp('x', '')],
      [lp('a'), lp('a', '')],
      [lp(''), lp()],
      [lp('zeq-keyex/v1', 'ML-KEM-768'), lp('zeq-keyex/v1ML-KEM-768')],
      // A field that itself looks like a length-prefixed field.
      [lp(new Uint8Array([0, 0, 0, 1, 0x61])), lp('a')],
    ];
    for (const [x, y] of distinct) expect(toHex(x)).not.toBe(toHex(y));
  });
});

describe('SHA-256 of messages sharing a prefix', () => {
  test.prop(
    [fc.uint8Array({ maxLength: 200 }), fc.array(bytes, { minLength: 1, maxLength: 4 })],
    RUNS,
  )(
    'each build hashes prefix ‖ rest as one-shot SHA-256 does, for every rest in turn',
    (prefix, rests) => {
      for (const platform of [nodePlatform, portablePlatform]) {
        const hashOf = platform.sha256Prefixed(prefix);
        for (const rest of rests) {
          const whole = new Uint8Array(prefix.length + rest.length);
          whole.set(prefix);
          whole.set(rest, prefix.length);
          expect(toHex(hashOf(rest))).toBe(toHex(portablePlatform.sha256(whole)));
        }
      }
    },
  );
});
