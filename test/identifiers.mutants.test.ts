/**
 * The identifier grammars of spec §1 (`src/core/identifiers.ts`): each predicate is false for a
 * value that is not a string — including objects whose `toString` would match — and each
 * grammar's edges (first character, length limits, the characters allowed).
 */
import { describe, expect, test } from 'vitest';
import {
  assertMachineId,
  assertSlug,
  isFingerprint,
  isMachineId,
  isSessionId,
  isSlug,
} from '../src/core/identifiers.js';

const FP = 'ab'.repeat(32);
/** Values that are not strings, some of which stringify to a valid identifier. */
const NOT_STRINGS: unknown[] = [
  undefined,
  null,
  7,
  1234567890123456789n,
  true,
  ['edge-01'],
  { toString: () => 'edge-01' },
  new String('edge-01'),
  [FP],
  { toString: () => FP },
  ['a'.repeat(20)],
];

describe('values that are not strings', () => {
  test('are never identifiers', () => {
    for (const value of NOT_STRINGS) {
      expect(isSlug(value)).toBe(false);
      expect(isMachineId(value)).toBe(false);
      expect(isSessionId(value)).toBe(false);
      expect(isFingerprint(value)).toBe(false);
      expect(() => assertSlug(value)).toThrow(TypeError);
      expect(() => assertMachineId(value)).toThrow(TypeError);
      // The message names what was expected.
      expect(() => assertSlug(value)).toThrow(/^slug /);
      expect(() => assertMachineId(value)).toThrow(/^machine_id /);
    }
  });
});

describe('the grammars', () => {
  test('slug: a letter or digit, then up to 63 of [A-Za-z0-9._-]', () => {
    for (const slug of ['a', 'Z9', 'edge-01', 'a.b_c-d', `a${'b'.repeat(63)}`])
      expect([slug, isSlug(slug)]).toEqual([slug, true]);
    for (const slug of ['', '-a', '.a', `a${'b'.repeat(64)}`, 'a:b', 'a/b', 'a b', 'é'])
      expect([slug, isSlug(slug)]).toEqual([slug, false]);
    expect(() => assertSlug('edge-01')).not.toThrow();
  });

  test('machine_id: like a slug, with ":" and up to 128 characters', () => {
    for (const id of ['m', 'machine:edge-01', `m${'x'.repeat(127)}`])
      expect([id, isMachineId(id)]).toEqual([id, true]);
    for (const id of ['', ':m', `m${'x'.repeat(128)}`, 'm/x', 'm x'])
      expect([id, isMachineId(id)]).toEqual([id, false]);
    expect(() => assertMachineId('machine:edge-01')).not.toThrow();
  });

  test('session_id: 16 to 128 of [A-Za-z0-9_-]', () => {
    for (const id of ['a'.repeat(16), '-_'.repeat(8), 'Z'.repeat(128)])
      expect([id, isSessionId(id)]).toEqual([id, true]);
    for (const id of ['a'.repeat(15), 'a'.repeat(129), `${'a'.repeat(15)}.`, `${'a'.repeat(15)}:`])
      expect([id, isSessionId(id)]).toEqual([id, false]);
  });

  test('fingerprint: exactly 64 lowercase hex characters', () => {
    expect(isFingerprint(FP)).toBe(true);
    expect(isFingerprint('0123456789abcdef'.repeat(4))).toBe(true);
    for (const fp of [FP.toUpperCase(), FP.slice(1), `${FP}a`, `${FP.slice(1)}g`, ''])
      expect(isFingerprint(fp)).toBe(false);
  });
});
