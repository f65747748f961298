/**
 * Fingerprints (spec §1): `hex(SHA-256(public_key))`, and pins — the fingerprints an app holds in
 * code to authenticate first contact (§2.1 step 3, §6).
 *
 * A pin is compared in constant time, and a set of pins is compared in full (no early exit), so
 * timing reveals neither how much of a pin matched nor which pin of a set did.
 * @module
 */
import { hexEncode, utf8 } from './encoding.js';
import { isFingerprint } from './identifiers.js';
import { constantTimeEqual, sha256 } from './primitives.js';

const HUMAN_PIN = /^[\da-f]+([: ][\da-f]+)*$/i;

/**
 * Computes a public key's fingerprint.
 * @param publicKey - the encapsulation key bytes.
 * @returns 64 lowercase hex characters.
 * @example
 * ```ts
 * const pin = computeFingerprint(publicKey); // '8522cf61…'
 * ```
 */
export function computeFingerprint(publicKey: Uint8Array): string {
  return hexEncode(sha256(publicKey));
}

/**
 * Parses a pin as a person writes it: upper or lower case, with groups of hex digits optionally
 * separated by `:` or single spaces (`85:22:CF:…`, `8522 cf61 …`; any grouping), into the
 * canonical 64-character lowercase form. Exactly 64 hex digits are required.
 * @param pin - the pin from configuration.
 * @returns the canonical fingerprint.
 * @throws {TypeError} for anything else: other characters, leading, trailing or doubled separators, or a digit count other than 64.
 */
export function parsePin(pin: unknown): string {
  const canonical = typeof pin === 'string' && HUMAN_PIN.test(pin) ? pin.replace(/[: ]/g, '').toLowerCase() : '';
  if (!isFingerprint(canonical)) throw new TypeError('a pin must be 64 hex digits, optionally grouped by ":" or single spaces');
  return canonical;
}

/**
 * Parses one pin or a set of pins (e.g. the old and the new key during a rotation).
 * @param pins - a pin or a non-empty array of pins.
 * @returns the canonical pins, deduplicated, frozen.
 * @throws {TypeError} for an empty set or any malformed pin.
 */
export function parsePins(pins: unknown): readonly string[] {
  const list = typeof pins === 'string' ? [pins] : pins;
  if (!Array.isArray(list) || list.length === 0) throw new TypeError('pins must be a pin or a non-empty array');
  return Object.freeze([...new Set(list.map(parsePin))]);
}

/**
 * Compares a fingerprint with one pin or a set of pins, in constant time.
 * @param fingerprint - the canonical fingerprint presented by the peer.
 * @param pins - canonical pins (see {@link parsePins}).
 * @returns whether the fingerprint equals one of the pins.
 */
export function fingerprintMatches(fingerprint: string, pins: string | readonly string[]): boolean {
  if (!isFingerprint(fingerprint)) return false;
  let matched = 0;
  // Every pin is compared in full, in constant time: no early exit tells which one matched.
  for (const pin of typeof pins === 'string' ? [pins] : pins) matched |= Number(constantTimeEqual(utf8(fingerprint), utf8(parsePin(pin))));
  return matched === 1;
}
