/**
 * Shared helpers and arbitraries of the property tests (`test/properties-*.test.ts`).
 */
import { fc } from '@fast-check/vitest';
import { expect } from 'vitest';
import { type ErrorCode, isZeqKeyExError } from '../../src/core/errors.js';

/** The standard base64 alphabet of RFC 4648 §4 (without the pad character). */
export const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The result of calling a function: the value it returned or the error it threw. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Calls `fn` and records whether it returned or threw. */
export function attempt(fn: () => unknown): Outcome {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * Asserts that `fn` throws the SDK's error with one of `codes` and never returns a value.
 * @returns the code it threw.
 */
export function expectRejected(fn: () => unknown, ...codes: ErrorCode[]): ErrorCode {
  const outcome = attempt(fn);
  expect(outcome.ok, 'expected a rejection, but a value was returned').toBe(false);
  const error = outcome.ok ? undefined : outcome.error;
  expect(isZeqKeyExError(error), `expected ZeqKeyExError, got ${String(error)}`).toBe(true);
  const code = (error as { code: ErrorCode }).code;
  expect(codes).toContain(code);
  return code;
}

/**
 * Asserts that a call on untrusted input either returned or threw only what the function
 * documents: the SDK's error with one of `codes`, or (where `typeErrors` is set) a `TypeError`.
 */
export function expectOnlyDocumentedErrors(
  outcome: Outcome,
  codes: readonly ErrorCode[],
  typeErrors = false,
): void {
  if (outcome.ok) return;
  const { error } = outcome;
  if (typeErrors && error instanceof TypeError) return;
  expect(isZeqKeyExError(error), `unexpected throw: ${String(error)}`).toBe(true);
  expect(codes).toContain((error as { code: ErrorCode }).code);
}

/** A copy of `bytes` with bit `bit` (0 = most significant bit of byte 0) flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  const at = bit >> 3;
  out[at] = (out[at] as number) ^ (0x80 >> (bit & 7));
  return out;
}

/** A fixed-length byte string. */
export function bytesOf(length: number): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ minLength: length, maxLength: length });
}

/** Any value at all, including exotic ones (boxed strings, typed arrays, null prototypes, …). */
export const anyValue: fc.Arbitrary<unknown> = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withObjectString: true,
  withSet: true,
  withSparseArray: true,
  withTypedArray: true,
  stringUnit: 'binary',
});

/** Any string, lone surrogates included. */
export const anyString: fc.Arbitrary<string> = fc.string({ unit: 'binary', maxLength: 200 });

/** Strings over the base64 alphabet and `=`, short enough that canonical ones turn up often. */
export const base64ishString: fc.Arbitrary<string> = fc.string({
  unit: fc.constantFrom(...`${B64_ALPHABET}=`.split('')),
  maxLength: 16,
});

/** A session id of the §1 grammar. */
export const sessionId: fc.Arbitrary<string> = fc.stringMatching(/^[A-Za-z0-9_-]{16,40}$/);
