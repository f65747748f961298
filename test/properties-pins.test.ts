/**
 * Property tests of pins (spec §2.1 step 3, §6): the human forms `parsePin` accepts, everything it
 * refuses with a `TypeError`, set membership through `fingerprintMatches`, and the two checks that
 * throw: `assertFingerprintPinned` (§2.1 check 3) and `assertOwnFingerprint` (§2.1 check 2).
 */
import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { hexDecode } from '../src/core/encoding.js';
import {
  assertFingerprintPinned,
  assertOwnFingerprint,
  computeFingerprint,
  fingerprintMatches,
  parsePin,
  parsePins,
} from '../src/core/fingerprint.js';
import { anyString, anyValue, attempt, bytesOf, flipBit } from './helpers/properties.js';
import { toHex } from './helpers/vectors.js';

const RUNS = { numRuns: 200 };

type Style = 'plain' | 'colon' | 'space';

function group(text: string, size: number, separator: string): string {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return parts.join(separator);
}

/** Writes hex digits as a person would: plain, `85:22:cf:…` or `8522 cf61 …`. */
function format(hexDigits: string, style: Style): string {
  return style === 'colon'
    ? group(hexDigits, 2, ':')
    : style === 'space'
      ? group(hexDigits, 4, ' ')
      : hexDigits;
}

const style = fc.constantFrom<Style>('plain', 'colon', 'space');
const fingerprint = bytesOf(32).map(toHex);

/** A fingerprint and one human spelling of it (random letter case, any of the three groupings). */
const humanPin = fc.tuple(fingerprint, style).chain(([canonical, s]) =>
  fc.tuple(
    fc.constant(canonical),
    fc.mixedCase(fc.constant(canonical)).map((h) => format(h, s)),
  ),
);

/** A human pin written with separators (so it has at least one to tamper with). */
const groupedPin = fc
  .tuple(fingerprint, fc.constantFrom<Style>('colon', 'space'))
  .chain(([canonical, s]) =>
    fc
      .mixedCase(fc.constant(canonical))
      .map((h) => ({ text: format(h, s), separator: s === 'colon' ? ':' : ' ' })),
  );

function expectTypeError(value: unknown): void {
  const outcome = attempt(() => parsePin(value));
  expect(outcome.ok, `parsePin accepted ${JSON.stringify(value)}`).toBe(false);
  expect(outcome.ok ? undefined : outcome.error).toBeInstanceOf(TypeError);
}

describe('parsePin', () => {
  test.prop([humanPin], RUNS)(
    'parses upper, lower or mixed case, plain or grouped, to the canonical form',
    ([canonical, text]) => {
      expect(parsePin(text)).toBe(canonical);
      expect(parsePin(canonical)).toBe(canonical);
    },
  );

  const otherLength = fc
    .integer({ min: 0, max: 48 })
    .filter((n) => n !== 32)
    .chain((n) => fc.mixedCase(bytesOf(n).map(toHex)));
  test.prop([otherLength, style], RUNS)('refuses a pin of any other byte length', (h, s) => {
    expectTypeError(format(h, s));
  });

  test.prop(
    [fingerprint, style, fc.boolean(), fc.constantFrom(...'0123456789abcdefABCDEF'.split(''))],
    RUNS,
  )('refuses an odd number of hex digits', (canonical, s, drop, digit) => {
    expectTypeError(format(drop ? canonical.slice(1) : canonical + digit, s));
  });

  test.prop(
    [
      humanPin,
      fc.nat(),
      fc
        .string({ unit: 'binary', minLength: 1, maxLength: 1 })
        .filter((c) => !/^[0-9A-Fa-f: ]$/.test(c)),
    ],
    RUNS,
  )('refuses a character that is neither hex nor a separator', ([, text], where, char) => {
    const at = where % text.length;
    expectTypeError(text.slice(0, at) + char + text.slice(at + 1));
    expectTypeError(text.slice(0, at) + char + text.slice(at));
  });

  test.prop([humanPin, fc.constantFrom(':', ' ', '::', '  '), fc.boolean()], RUNS)(
    'refuses leading or trailing separators',
    ([, text], sep, lead) => {
      expectTypeError(lead ? sep + text : text + sep);
    },
  );

  test.prop([groupedPin, fc.nat()], RUNS)(
    'refuses a doubled separator',
    ({ text, separator }, which) => {
      const positions = text.split('').flatMap((c, i) => (c === separator ? [i] : []));
      const at = positions[which % positions.length] as number;
      expectTypeError(text.slice(0, at) + separator + text.slice(at));
    },
  );

  test.prop([fingerprint, fc.constantFrom('-', '.', '\t', '\n', '\u00a0', ', ', ': ')], RUNS)(
    'refuses other separators',
    (canonical, separator) => {
      expectTypeError(group(canonical, 2, separator));
      expectTypeError(group(canonical, 4, separator));
    },
  );

  test.prop([humanPin, fc.constantFrom('\n', '\r\n', '\t', '\u0000')], RUNS)(
    'refuses trailing control characters',
    ([, text], tail) => {
      expectTypeError(text + tail);
    },
  );

  test.prop([fc.oneof(anyValue, anyString)], { numRuns: 500 })(
    'throws only TypeError, and returns only canonical fingerprints',
    (value) => {
      const outcome = attempt(() => parsePin(value));
      if (outcome.ok) {
        expect(outcome.value).toMatch(/^[0-9a-f]{64}$/);
        expect(outcome.value).toBe((value as string).replace(/[: ]/g, '').toLowerCase());
      } else {
        expect(outcome.error).toBeInstanceOf(TypeError);
      }
    },
  );
});

describe('parsePins', () => {
  test.prop([fc.array(humanPin, { minLength: 1, maxLength: 6 }), fc.nat()], RUNS)(
    'parses a set of pins to canonical, deduplicated, frozen form',
    (pins, dup) => {
      // Repeat one pin in another spelling: it must collapse to one entry.
      const [canonicalDup] = pins[dup % pins.length] as [string, string];
      const texts = [...pins.map(([, text]) => text), canonicalDup.toUpperCase()];
      const parsed = parsePins(texts);
      expect(parsed).toEqual([...new Set(pins.map(([canonical]) => canonical))]);
      expect(Object.isFrozen(parsed)).toBe(true);
    },
  );

  test.prop([humanPin], RUNS)('takes one pin as a string', ([canonical, text]) => {
    expect(parsePins(text)).toEqual([canonical]);
  });

  test.prop(
    [
      fc.array(humanPin, { maxLength: 4 }),
      fc.nat(),
      anyString.filter((s) => !attempt(() => parsePin(s)).ok),
    ],
    RUNS,
  )('refuses a set with any malformed pin', (pins, where, bad) => {
    const texts = pins.map(([, text]) => text);
    texts.splice(where % (texts.length + 1), 0, bad);
    const outcome = attempt(() => parsePins(texts));
    expect(outcome.ok ? undefined : outcome.error).toBeInstanceOf(TypeError);
  });

  test.prop([anyValue.filter((v) => typeof v !== 'string' && !Array.isArray(v))], RUNS)(
    'refuses anything but a pin or an array of pins',
    (value) => {
      const outcome = attempt(() => parsePins(value));
      expect(outcome.ok ? undefined : outcome.error).toBeInstanceOf(TypeError);
    },
  );

  test('refuses an empty set', () => {
    expect(() => parsePins([])).toThrow(TypeError);
  });
});

describe('fingerprintMatches', () => {
  const pinSet = fc.uniqueArray(fingerprint, { maxLength: 6 });

  test.prop([humanPin, pinSet, fc.nat()], RUNS)(
    'is true when the fingerprint is anywhere in the set, in any spelling',
    ([canonical, text], others, where) => {
      const pins = others.filter((p) => p !== canonical);
      const at = where % (pins.length + 1);
      expect(
        fingerprintMatches(canonical, [...pins.slice(0, at), canonical, ...pins.slice(at)]),
      ).toBe(true);
      expect(fingerprintMatches(canonical, [...pins.slice(0, at), text, ...pins.slice(at)])).toBe(
        true,
      );
      expect(fingerprintMatches(canonical, text)).toBe(true);
    },
  );

  test.prop([fingerprint, pinSet], RUNS)(
    'is false when the fingerprint is not in the set',
    (canonical, others) => {
      const pins = others.filter((p) => p !== canonical);
      expect(fingerprintMatches(canonical, pins)).toBe(false);
      if (pins[0] !== undefined) expect(fingerprintMatches(canonical, pins[0])).toBe(false);
    },
  );

  test.prop([bytesOf(32), fc.nat(255), pinSet, fc.nat()], RUNS)(
    'is false for a pin one bit away',
    (bytes, bit, others, where) => {
      const canonical = toHex(bytes);
      const near = toHex(flipBit(bytes, bit));
      const pins = others.filter((p) => p !== canonical);
      const at = where % (pins.length + 1);
      expect(fingerprintMatches(canonical, [...pins.slice(0, at), near, ...pins.slice(at)])).toBe(
        false,
      );
      expect(fingerprintMatches(near, canonical)).toBe(false);
    },
  );

  test.prop([humanPin], RUNS)(
    'is false for a fingerprint that is not in canonical form',
    ([canonical, text]) => {
      fc.pre(text !== canonical);
      expect(fingerprintMatches(text, canonical)).toBe(false);
    },
  );
});

describe('assertFingerprintPinned', () => {
  const pinSet = fc.uniqueArray(fingerprint, { minLength: 1, maxLength: 6 });
  const refusal = (fn: () => unknown): unknown => {
    const outcome = attempt(fn);
    return outcome.ok ? outcome : outcome.error;
  };

  test.prop([humanPin, pinSet], RUNS)(
    'passes when the fingerprint is in the set, in any spelling',
    ([canonical, text], others) => {
      expect(() => assertFingerprintPinned(canonical, [...others, text])).not.toThrow();
      expect(() => assertFingerprintPinned(canonical, text, 'tofu_key_changed')).not.toThrow();
    },
  );

  test.prop(
    [
      fingerprint,
      pinSet,
      fc.constantFrom('fingerprint_mismatch' as const, 'tofu_key_changed' as const),
    ],
    RUNS,
  )(
    'refuses one that is not, with its code, the first pin as expected and the fingerprint as actual',
    (canonical, others, code) => {
      const pins = others.filter((p) => p !== canonical);
      fc.pre(pins[0] !== undefined);
      expect(refusal(() => assertFingerprintPinned(canonical, pins, code))).toMatchObject({
        code,
        expectedFingerprint: pins[0],
        actualFingerprint: canonical,
      });
      expect(refusal(() => assertFingerprintPinned(canonical, pins))).toMatchObject({
        code: 'fingerprint_mismatch',
      });
    },
  );

  describe('assertOwnFingerprint', () => {
    const publicKey = fc.uint8Array({ minLength: 1, maxLength: 64 });

    test.prop([publicKey], RUNS)(
      'returns the key’s fingerprint when the document states it',
      (key) => {
        const own = computeFingerprint(key);
        expect(assertOwnFingerprint(key, own)).toBe(own);
      },
    );

    test.prop([publicKey, fc.nat(255), anyValue], RUNS)(
      'refuses any other statement as fingerprint_inconsistent',
      (key, bit, other) => {
        const own = computeFingerprint(key);
        const near = toHex(flipBit(hexDecode(own), bit));
        for (const stated of [near, own.toUpperCase(), other]) {
          expect(refusal(() => assertOwnFingerprint(key, stated))).toMatchObject({
            code: 'fingerprint_inconsistent',
            expectedFingerprint: own,
          });
        }
      },
    );
  });
});
