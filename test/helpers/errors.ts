import { expect } from 'vitest';
import { type ErrorCode, isZeqKeyExError } from '../../src/core/errors.js';

/** Asserts that `fn` throws the SDK's error with `code` (never asserts on message text). */
export function expectCode(fn: () => unknown, code: ErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(isZeqKeyExError(thrown), `expected ZeqKeyExError ${code}, got ${String(thrown)}`).toBe(
    true,
  );
  expect((thrown as { code: string }).code).toBe(code);
}

/** Async version of {@link expectCode}. */
export async function expectCodeAsync(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  let thrown: unknown;
  try {
    await promise;
  } catch (error) {
    thrown = error;
  }
  expect(isZeqKeyExError(thrown), `expected ZeqKeyExError ${code}, got ${String(thrown)}`).toBe(
    true,
  );
  expect((thrown as { code: string }).code).toBe(code);
}
