/**
 * Identifier grammars of spec §1: `slug`, `machine_id`, `session_id`, and the fingerprint form.
 * Predicates for wire values (callers map a failure to their own error code) and asserting
 * checks for programmer input (which throw `TypeError`).
 * @module
 */
import {
  FINGERPRINT_PATTERN,
  MACHINE_ID_PATTERN,
  SESSION_ID_PATTERN,
  SLUG_PATTERN,
} from './constants.js';

/** @returns whether `value` is a valid `slug` (§1). */
export function isSlug(value: unknown): value is string {
  return typeof value === 'string' && SLUG_PATTERN.test(value);
}

/** @returns whether `value` is a valid `machine_id` (§1). */
export function isMachineId(value: unknown): value is string {
  return typeof value === 'string' && MACHINE_ID_PATTERN.test(value);
}

/** @returns whether `value` is a valid `session_id` (§1). */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID_PATTERN.test(value);
}

/** @returns whether `value` is a canonical fingerprint: 64 lowercase hex characters (§1). */
export function isFingerprint(value: unknown): value is string {
  return typeof value === 'string' && FINGERPRINT_PATTERN.test(value);
}

/**
 * Checks a slug given by the programmer.
 * @param value - the slug.
 * @throws {TypeError} when it does not match `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.
 */
export function assertSlug(value: unknown): asserts value is string {
  if (!isSlug(value)) throw new TypeError('slug must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$');
}

/**
 * Checks a machine_id given by the programmer.
 * @param value - the machine_id.
 * @throws {TypeError} when it does not match `^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`.
 */
export function assertMachineId(value: unknown): asserts value is string {
  if (!isMachineId(value))
    throw new TypeError('machine_id must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$');
}
