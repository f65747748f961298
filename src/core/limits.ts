/**
 * The SDK's own limits that are not part of the wire format (those live in `constants.ts`), and
 * the one check of a duration option and of a count option.
 * @module
 */

/** 2^31 − 1 ms (about 24.8 days): the longest delay JavaScript timers accept, and so the longest
 * duration option (timeouts, session lifetimes, rekey intervals) the SDK takes. */
export const MAX_DURATION_MS = 0x7fff_ffff;

/**
 * Checks a duration option (programmer input).
 * @param value - the option's value.
 * @param name - the option's name, for the message.
 * @returns the value, an integer number of milliseconds in [1, 2^31 − 1].
 * @throws {RangeError} for anything else.
 */
export function assertDurationMs(value: unknown, name: string): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 1 ||
    value > MAX_DURATION_MS
  ) {
    throw new RangeError(`${name} must be an integer number of milliseconds in [1, 2^31 - 1]`);
  }
  return value;
}

/**
 * Checks a count option such as a bound of stored sessions (programmer input).
 * @param value - the option's value.
 * @param name - the option's name, for the message.
 * @returns the value, a safe integer of at least 1.
 * @throws {RangeError} for anything else.
 */
export function assertPositiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer`);
  }
  return value;
}
