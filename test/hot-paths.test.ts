/**
 * The shortcuts on the hot paths keep the results of the long way round:
 * - the key document's modulus check, skipped for a key already checked (by fingerprint), still
 *   refuses every invalid key, in the same order of checks and with the same codes;
 * - the Node build's AES-GCM, which keeps one `KeyObject` per key buffer, gives the bytes of a
 *   fresh import even when a caller reuses the buffer for another key, and forgets the key on wipe;
 * - records built with the per-session `LP(session_id)` and the header written into the sealed
 *   output are the bytes of the spec's construction, for sessions that interleave.
 */
import { describe, expect, test } from 'vitest';
import { nobleAead } from '../src/aead.js';
import { ALG } from '../src/constants.js';
import { base64Encode, concat, lp } from '../src/encoding.js';
import { createCheckedKeys, parseKeyDocument, parseKeyDocumentChecked } from '../src/document.js';
import { computeFingerprint } from '../src/fingerprint.js';
import { kemKeygen } from '../src/kem.js';
import { nodeAead } from '../src/node/platform.js';
import { randomBytes, wipe } from '../src/primitives.js';
import { encodeRecordHeader, openRecord, sealRecord } from '../src/records.js';
import { expectCode } from './helpers/errors.js';
import { toHex } from './helpers/vectors.js';

function documentOf(publicKey: Uint8Array, fingerprint = computeFingerprint(publicKey)): Record<string, string> {
  return { alg: ALG, public_key: base64Encode(publicKey), fingerprint, machine_id: 'machine-01' };
}

/** A valid key with its first coefficient set to 4095 (≥ q): fails the FIPS 203 §7.2 check. */
function badModulusKey(): Uint8Array {
  const key = Uint8Array.from(kemKeygen(randomBytes(64)).publicKey);
  key[0] = 0xff;
  key[1] = (key[1] as number) | 0x0f;
  return key;
}

describe('key document modulus check, once per key', () => {
  test('a checked key is remembered by fingerprint; the document parses the same', () => {
    const { publicKey } = kemKeygen(randomBytes(64));
    const checked = createCheckedKeys();
    const fingerprint = computeFingerprint(publicKey);
    expect(checked.has(fingerprint)).toBe(false);
    const first = parseKeyDocumentChecked(documentOf(publicKey), [ALG], checked);
    expect(checked.has(fingerprint)).toBe(true);
    const again = parseKeyDocumentChecked(documentOf(publicKey), [ALG], checked);
    expect(toHex(again.publicKey)).toBe(toHex(first.publicKey));
    expect(again).toEqual(parseKeyDocument(documentOf(publicKey)));
  });

  test('an invalid key is refused every time and never remembered', () => {
    const key = badModulusKey();
    const checked = createCheckedKeys();
    for (let i = 0; i < 3; i++) expectCode(() => parseKeyDocumentChecked(documentOf(key), [ALG], checked), 'invalid_public_key');
    expect(checked.has(computeFingerprint(key))).toBe(false);
    expectCode(() => parseKeyDocument(documentOf(key)), 'invalid_public_key');
  });

  test('the modulus check still comes before the fingerprint check', () => {
    const key = badModulusKey();
    const other = computeFingerprint(kemKeygen(randomBytes(64)).publicKey);
    expectCode(() => parseKeyDocumentChecked(documentOf(key, other), [ALG], createCheckedKeys()), 'invalid_public_key');
    const { publicKey } = kemKeygen(randomBytes(64));
    const checked = createCheckedKeys();
    parseKeyDocumentChecked(documentOf(publicKey), [ALG], checked);
    expectCode(() => parseKeyDocumentChecked(documentOf(publicKey, other), [ALG], checked), 'fingerprint_inconsistent');
  });

  test('the set is bounded, oldest out first', () => {
    const checked = createCheckedKeys(2);
    checked.add('a');
    checked.add('b');
    checked.add('a');
    checked.add('c');
    expect([checked.has('a'), checked.has('b'), checked.has('c')]).toEqual([false, true, true]);
  });
});

describe('node:crypto AES-GCM with one KeyObject per key buffer', () => {
  const nonce = randomBytes(12);
  const aad = randomBytes(43);
  const plaintext = randomBytes(1000);

  test('a buffer reused for another key seals and opens under the new key', () => {
    const key = randomBytes(32);
    expect(toHex(nodeAead.seal(key, nonce, plaintext, aad))).toBe(toHex(nobleAead.seal(key, nonce, plaintext, aad)));
    const next = randomBytes(32);
    key.set(next);
    const sealed = nodeAead.seal(key, nonce, plaintext, aad);
    expect(toHex(sealed)).toBe(toHex(nobleAead.seal(next, nonce, plaintext, aad)));
    expect(toHex(nodeAead.open(key, nonce, sealed, aad) ?? new Uint8Array(0))).toBe(toHex(plaintext));
  });

  test('a buffer changed between uses gives the current bytes every time, cached or re-imported', () => {
    const key = randomBytes(32);
    for (let use = 0; use < 5; use++) {
      if (use % 2 === 1) key.set(randomBytes(32));
      const expected = nobleAead.seal(Uint8Array.from(key), nonce, plaintext, aad);
      expect(toHex(nodeAead.seal(key, nonce, plaintext, aad)), `use ${use}`).toBe(toHex(expected));
      expect(toHex(nodeAead.open(key, nonce, expected, aad) ?? new Uint8Array(0)), `use ${use}`).toBe(toHex(plaintext));
    }
  });

  test('after wipe, the zeroed buffer is a zero key, not the old one', () => {
    const key = randomBytes(32);
    const sealed = nodeAead.seal(key, nonce, plaintext, aad);
    wipe(key);
    expect(nodeAead.open(key, nonce, sealed, aad)).toBeUndefined();
    expect(toHex(nodeAead.seal(key, nonce, plaintext, aad))).toBe(toHex(nobleAead.seal(new Uint8Array(32), nonce, plaintext, aad)));
  });

  test('the prefix goes in front of ciphertext and tag, and an opened plaintext is a plain Uint8Array', () => {
    const key = randomBytes(32);
    const prefix = randomBytes(13);
    for (const backend of [nodeAead, nobleAead]) {
      const sealed = backend.seal(key, nonce, plaintext, aad, prefix);
      expect(toHex(sealed)).toBe(toHex(concat(prefix, nobleAead.seal(key, nonce, plaintext, aad))));
      const opened = backend.open(key, nonce, sealed.subarray(13), aad);
      expect(opened?.constructor).toBe(Uint8Array);
      expect(toHex(opened ?? new Uint8Array(0))).toBe(toHex(plaintext));
    }
  });
});

describe('records with a per-session LP(session_id)', () => {
  test('interleaved sessions give the spec construction, and open only under their own session id', () => {
    const key = randomBytes(32);
    const ids = ['session-a', 'session-b', 'session-a'];
    for (const [seq, sessionId] of ids.entries()) {
      const appAad = seq === 1 ? new Uint8Array(0) : randomBytes(seq + 5);
      const plaintext = randomBytes(64 + seq);
      const record = sealRecord(key, sessionId, 0, seq, plaintext, appAad);
      const header = encodeRecordHeader(0, seq);
      const expected = concat(header, nobleAead.seal(key, header.subarray(1), plaintext, concat(header, lp(sessionId, appAad))));
      expect(toHex(record)).toBe(toHex(expected));
      expect(toHex(openRecord(key, sessionId, record, appAad))).toBe(toHex(plaintext));
      expectCode(() => openRecord(key, sessionId === 'session-a' ? 'session-b' : 'session-a', record, appAad), 'record_auth_failed');
    }
  });
});
