/**
 * Key confirmation (`src/core/confirmation.ts`, spec §2.3) at each of its lines: the field is
 * `nonce ‖ AES-256-GCM(record key, nonce, label, AAD)` with the AAD of §2.3, a fresh nonce each
 * time, and every failure one opaque `confirmation_failed` — including a confirmation that opens
 * under the right key and AAD but holds another plaintext.
 */
import { describe, expect, test } from 'vitest';
import { AEAD_NONCE_BYTES, CONFIRM_LABEL } from '../src/core/constants.js';
import {
  openKeyConfirmation,
  sealKeyConfirmation,
  sealKeyConfirmationWithNonce,
} from '../src/core/confirmation.js';
import { base64Decode, base64Encode, concat, lp, utf8 } from '../src/core/encoding.js';
import { aeadSeal } from '../src/core/primitives.js';
import { expectCode } from './helpers/errors.js';

const KEY = new Uint8Array(32).fill(7);
const TRANSCRIPT = new Uint8Array(32).fill(9);
const SID = 'A'.repeat(22);
const NONCE = Uint8Array.from({ length: 12 }, (_, i) => i);
const LABEL = utf8(CONFIRM_LABEL);

/** A confirmation sealed by hand: `plaintext` under KEY with the §2.3 AAD. */
function sealedBy(plaintext: Uint8Array, sid = SID): string {
  return base64Encode(concat(NONCE, aeadSeal(KEY, NONCE, plaintext, lp(LABEL, TRANSCRIPT, sid))));
}

describe('key confirmation', () => {
  test('nonce ‖ the sealed label, under the AAD LP(label) ‖ LP(transcript) ‖ LP(session_id)', () => {
    const field = sealKeyConfirmationWithNonce(KEY, TRANSCRIPT, SID, NONCE);
    expect(field).toBe(sealedBy(LABEL));
    expect(base64Decode(field).subarray(0, AEAD_NONCE_BYTES)).toEqual(NONCE);
    expect(() => openKeyConfirmation(KEY, TRANSCRIPT, SID, field)).not.toThrow();
  });

  test('a fresh nonce each time', () => {
    const a = base64Decode(sealKeyConfirmation(KEY, TRANSCRIPT, SID));
    const b = base64Decode(sealKeyConfirmation(KEY, TRANSCRIPT, SID));
    expect(a).toHaveLength(AEAD_NONCE_BYTES + LABEL.length + 16);
    expect(a.subarray(0, AEAD_NONCE_BYTES)).not.toEqual(b.subarray(0, AEAD_NONCE_BYTES));
    openKeyConfirmation(KEY, TRANSCRIPT, SID, base64Encode(a));
    openKeyConfirmation(KEY, TRANSCRIPT, SID, base64Encode(b));
  });

  test('another plaintext of the same length, sealed under the right key and AAD: confirmation_failed', () => {
    const other = concat(LABEL.subarray(0, -1), Uint8Array.of((LABEL.at(-1) ?? 0) ^ 1));
    expectCode(
      () => openKeyConfirmation(KEY, TRANSCRIPT, SID, sealedBy(other)),
      'confirmation_failed',
    );
    expectCode(
      () => openKeyConfirmation(KEY, TRANSCRIPT, SID, sealedBy(new Uint8Array(LABEL.length))),
      'confirmation_failed',
    );
  });

  test('not base64, another length or not a string: confirmation_failed, never invalid_encoding', () => {
    const good = base64Decode(sealKeyConfirmationWithNonce(KEY, TRANSCRIPT, SID, NONCE));
    for (const field of [
      undefined,
      null,
      42,
      '',
      'not base64!',
      base64Encode(good.subarray(1)),
      base64Encode(concat(good, Uint8Array.of(0))),
      base64Encode(good.subarray(0, AEAD_NONCE_BYTES + 16)),
      sealedBy(concat(LABEL, Uint8Array.of(0))),
    ])
      expectCode(() => openKeyConfirmation(KEY, TRANSCRIPT, SID, field), 'confirmation_failed');
    // Another session id than the one it was sealed for.
    expectCode(
      () => openKeyConfirmation(KEY, TRANSCRIPT, SID, sealedBy(LABEL, 'B'.repeat(22))),
      'confirmation_failed',
    );
  });
});
