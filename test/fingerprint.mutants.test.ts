/**
 * Fingerprints and pins (`src/core/fingerprint.ts`, spec §1, §2.1 checks 2 and 3): the human pin
 * forms and their limits, the set semantics of `parsePins`, the full-set comparison, and the
 * fields each refusal carries.
 */
import { describe, expect, test } from 'vitest';
import {
  assertFingerprintPinned,
  assertOwnFingerprint,
  computeFingerprint,
  fingerprintMatches,
  parsePin,
  parsePins,
} from '../src/core/fingerprint.js';
import { expectCode } from './helpers/errors.js';

const KEY = new Uint8Array(1184).fill(5);
const FP = computeFingerprint(KEY);
const OTHER = 'ab'.repeat(32);

describe('pins', () => {
  test('colon or single-space groups, either case, are the canonical form', () => {
    const pairs = FP.match(/../g) as string[];
    expect(parsePin(pairs.join(':').toUpperCase())).toBe(FP);
    expect(parsePin((FP.match(/.{8}/g) as string[]).join(' '))).toBe(FP);
    expect(parsePin(FP)).toBe(FP);
  });

  test('other forms are TypeErrors', () => {
    for (const pin of [
      `:${FP}`,
      `${FP}:`,
      `${FP.slice(0, 2)}::${FP.slice(2)}`,
      `${FP.slice(0, 2)}  ${FP.slice(2)}`,
      FP.slice(1),
      `${FP}0`,
      `${FP.slice(1)}g`,
      '',
      7,
      null,
    ]) {
      expect(() => parsePin(pin)).toThrow(TypeError);
      expect(() => parsePin(pin)).toThrow(/pin/);
    }
  });

  test('parsePins: one pin or a non-empty array, canonical, deduplicated, frozen', () => {
    expect(parsePins(FP)).toEqual([FP]);
    const set = parsePins([FP.toUpperCase(), FP, OTHER]);
    expect(set).toEqual([FP, OTHER]);
    expect(Object.isFrozen(set)).toBe(true);
    for (const pins of [[], undefined, null, 7, { 0: FP, length: 1 }, [FP, 'x']]) {
      expect(() => parsePins(pins)).toThrow(TypeError);
      expect(() => parsePins(pins)).toThrow(/pin/);
    }
  });
});

describe('comparisons', () => {
  test('fingerprintMatches: any pin of the set, and only a canonical fingerprint', () => {
    expect(fingerprintMatches(FP, [OTHER, FP])).toBe(true);
    expect(fingerprintMatches(FP, [FP, OTHER])).toBe(true);
    expect(fingerprintMatches(FP, FP)).toBe(true);
    expect(fingerprintMatches(FP, [FP, FP])).toBe(true);
    expect(fingerprintMatches(FP, [OTHER])).toBe(false);
    expect(fingerprintMatches(FP, OTHER)).toBe(false);
    expect(fingerprintMatches(FP.toUpperCase(), [FP])).toBe(false);
    // A fingerprint that is not canonical matches nothing, before any pin is looked at.
    expect(fingerprintMatches('not a fingerprint', ['not a pin'])).toBe(false);
  });

  test('assertFingerprintPinned names the first pin and the fingerprint, with the code asked for', () => {
    expect(() => assertFingerprintPinned(FP, [OTHER, FP])).not.toThrow();
    expect(() => assertFingerprintPinned(FP, [OTHER, 'cd'.repeat(32)])).toThrow(
      expect.objectContaining({
        code: 'fingerprint_mismatch',
        expectedFingerprint: OTHER,
        actualFingerprint: FP,
      }),
    );
    expect(() => assertFingerprintPinned(FP, OTHER, 'tofu_key_changed')).toThrow(
      expect.objectContaining({
        code: 'tofu_key_changed',
        expectedFingerprint: OTHER,
        actualFingerprint: FP,
      }),
    );
  });

  test('assertOwnFingerprint: the key’s own fingerprint, or fingerprint_inconsistent', () => {
    expect(assertOwnFingerprint(KEY, FP)).toBe(FP);
    expect(() => assertOwnFingerprint(KEY, OTHER)).toThrow(
      expect.objectContaining({
        code: 'fingerprint_inconsistent',
        expectedFingerprint: FP,
        actualFingerprint: OTHER,
      }),
    );
    let caught: unknown;
    try {
      assertOwnFingerprint(KEY, 7);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'fingerprint_inconsistent', expectedFingerprint: FP });
    expect((caught as { actualFingerprint?: string }).actualFingerprint).toBeUndefined();
    expectCode(() => assertOwnFingerprint(KEY, FP.toUpperCase()), 'fingerprint_inconsistent');
    expect(computeFingerprint(new Uint8Array(0))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});
