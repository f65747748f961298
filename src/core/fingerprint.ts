/**
 * Fingerprints (spec §1): `hex(SHA-256(public_key))`, and pins — the fingerprints an app holds in
 * code to authenticate first contact (§2.1 step 3, §6).
 *
 * A pin is compared in constant time, and a set of pins is compared in full (no early exit), so
 * timing reveals neither how much of a pin matched nor which pin of a set did.
 * {@link assertFingerprintPinned} is the one pin check of the SDK: the initiator's trust policy
 * (pins and TOFU, §6) and Mode-B's initiator side (§4.1) both call it before anything is sent.
 * @module
 */
import { hexEncode, utf8 } from './encoding.js';
import { ZeqKeyExError } from './errors.js';
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
 * §2.1 check 2: the fingerprint a key document states must be its key's own, compared in
 * constant time (a responder that lies about its own fingerprint is broken or hostile).
 * @param publicKey - the document's public key bytes.
 * @param stated - the fingerprint the document states.
 * @returns the computed fingerprint.
 * @throws {ZeqKeyExError} `fingerprint_inconsistent`, with `expectedFingerprint` (the computed
 *   one) and `actualFingerprint` (the stated one, when it is a string).
 */
export function assertOwnFingerprint(publicKey: Uint8Array, stated: unknown): string {
  const computed = computeFingerprint(publicKey);
  if (typeof stated !== 'string')
    throw new ZeqKeyExError('fingerprint_inconsistent', undefined, {
      expectedFingerprint: computed,
    });
  if (!constantTimeEqual(utf8(computed), utf8(stated))) {
    throw new ZeqKeyExError('fingerprint_inconsistent', undefined, {
      expectedFingerprint: computed,
      actualFingerprint: stated,
    });
  }
  return computed;
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
  const canonical =
    // Stryker disable next-line ConditionalExpression,StringLiteral: a non-string fails the pattern or has no `replace` (a TypeError either way); any fallback but a fingerprint is refused below
    typeof pin === 'string' && HUMAN_PIN.test(pin) ? pin.replace(/[: ]/g, '').toLowerCase() : '';
  if (!isFingerprint(canonical))
    throw new TypeError('a pin must be 64 hex digits, optionally grouped by ":" or single spaces');
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
  if (!Array.isArray(list) || list.length === 0)
    throw new TypeError('pins must be a pin or a non-empty array');
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
  for (const pin of typeof pins === 'string' ? [pins] : pins)
    matched |= Number(constantTimeEqual(utf8(fingerprint), utf8(parsePin(pin))));
  return matched === 1;
}

/**
 * §2.1 check 3: the peer's fingerprint must be one of the pins, compared as
 * {@link fingerprintMatches} does (constant time, the full set).
 * @param fingerprint - the canonical fingerprint the peer presented.
 * @param pins - canonical pins (see {@link parsePins}); a TOFU store's remembered fingerprint is one.
 * @param code - the code of the refusal: `fingerprint_mismatch` for pins, `tofu_key_changed` for a
 *   fingerprint remembered on first use.
 * @throws {ZeqKeyExError} `code`, with `expectedFingerprint` (the first pin) and
 *   `actualFingerprint`, when it matches none.
 */
export function assertFingerprintPinned(
  fingerprint: string,
  pins: string | readonly string[],
  code: 'fingerprint_mismatch' | 'tofu_key_changed' = 'fingerprint_mismatch',
): void {
  if (fingerprintMatches(fingerprint, pins)) return;
  const expectedFingerprint = typeof pins === 'string' ? pins : (pins[0] as string);
  throw new ZeqKeyExError(code, undefined, { expectedFingerprint, actualFingerprint: fingerprint });
}
