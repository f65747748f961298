/**
 * The shortcuts on the hot paths keep the results of the long way round:
 * - public keys kept expanded (noble's `prepare()`): the key document's modulus check, skipped for
 *   one of the last keys that passed it, still refuses every invalid key, in the same order of
 *   checks and with the same codes, and encapsulation to a kept key decapsulates as before;
 * - a noble secret key that keeps its public half expanded decapsulates as one-shot does;
 * - the Node build's AES-GCM, which keeps one `KeyObject` per key buffer, gives the bytes of a
 *   fresh import even when a caller reuses the buffer for another key, and forgets the key on wipe;
 * - records built with the per-session `LP(session_id)` and the header written into the sealed
 *   output are the bytes of the spec's construction, for sessions that interleave.
 */
import { describe, expect, test } from 'vitest';
import { isPreparedKey, nobleAead } from '../src/internal/testing.js';
import { heldAesKeyCount, nodeAead } from '../src/internal/node-testing.js';
import { ALG } from '../src/core/constants.js';
import { base64Encode, concat, lp } from '../src/core/encoding.js';
import { parseKeyDocument } from '../src/core/document.js';
import { computeFingerprint } from '../src/core/fingerprint.js';
import {
  type KemKeyPair,
  assertPublicKey,
  kemDecapsulate,
  kemEncapsulate,
  kemKeygen,
} from '../src/core/kem.js';
import { nobleKem } from '../src/backends/kem-backend.js';
import { randomBytes, wipe } from '../src/core/primitives.js';
import { encodeRecordHeader, openRecord, sealRecord } from '../src/core/record-format.js';
import { expectCode, expectCodeAsync } from './helpers/errors.js';
import { toHex } from './helpers/vectors.js';

function documentOf(
  publicKey: Uint8Array,
  fingerprint = computeFingerprint(publicKey),
): Record<string, string> {
  return { alg: ALG, public_key: base64Encode(publicKey), fingerprint, machine_id: 'machine-01' };
}

/** A valid key with its first coefficient set to 4095 (≥ q): fails the FIPS 203 §7.2 check. */
function badModulusKey(): Uint8Array {
  const key = Uint8Array.from(kemKeygen(randomBytes(64)).publicKey);
  key[0] = 0xff;
  key[1] = (key[1] as number) | 0x0f;
  return key;
}

describe('public keys kept expanded: the modulus check once per key, encapsulation without re-expansion', () => {
  test('a checked key is kept; the document parses the same and encapsulation to it decapsulates', () => {
    const pair = kemKeygen(randomBytes(64));
    expect(isPreparedKey(pair.publicKey)).toBe(false);
    const first = parseKeyDocument(documentOf(pair.publicKey));
    expect(isPreparedKey(pair.publicKey)).toBe(true);
    const again = parseKeyDocument(documentOf(pair.publicKey));
    expect(toHex(again.publicKey)).toBe(toHex(first.publicKey));
    expect(again).toEqual(first);
    const { cipherText, sharedSecret } = kemEncapsulate(again.publicKey);
    expect(toHex(kemDecapsulate(pair.secretKey, cipherText))).toBe(toHex(sharedSecret));
  });

  test('an invalid key is refused every time and never kept', () => {
    const key = badModulusKey();
    for (let i = 0; i < 3; i++) {
      expectCode(() => parseKeyDocument(documentOf(key)), 'invalid_public_key');
      expectCode(() => kemEncapsulate(key), 'invalid_public_key');
    }
    expect(isPreparedKey(key)).toBe(false);
  });

  test("a kept key is a copy: changing the caller's bytes afterwards makes a key that is checked afresh", () => {
    const { publicKey } = kemKeygen(randomBytes(64));
    assertPublicKey(publicKey);
    publicKey[0] = 0xff;
    publicKey[1] = (publicKey[1] as number) | 0x0f;
    expect(isPreparedKey(publicKey)).toBe(false);
    expectCode(() => kemEncapsulate(publicKey), 'invalid_public_key');
    expectCode(() => assertPublicKey(publicKey), 'invalid_public_key');
  });

  test('the modulus check still comes before the fingerprint check', () => {
    const key = badModulusKey();
    const other = computeFingerprint(kemKeygen(randomBytes(64)).publicKey);
    expectCode(() => parseKeyDocument(documentOf(key, other)), 'invalid_public_key');
    const { publicKey } = kemKeygen(randomBytes(64));
    parseKeyDocument(documentOf(publicKey));
    expect(isPreparedKey(publicKey)).toBe(true);
    expectCode(() => parseKeyDocument(documentOf(publicKey, other)), 'fingerprint_inconsistent');
  });

  test('eight keys are kept, oldest out first; a key let go of is expanded again and still right', () => {
    const pairs = Array.from({ length: 9 }, () => kemKeygen(randomBytes(64)));
    for (const pair of pairs) assertPublicKey(pair.publicKey);
    expect(pairs.map((pair) => isPreparedKey(pair.publicKey))).toEqual([
      false,
      ...Array<boolean>(8).fill(true),
    ]);
    for (const pair of [0, 8, 1].map((i) => pairs[i] as KemKeyPair)) {
      const { cipherText, sharedSecret } = kemEncapsulate(pair.publicKey);
      expect(toHex(kemDecapsulate(pair.secretKey, cipherText))).toBe(toHex(sharedSecret));
    }
  });
});

describe('a noble secret key keeps its public half expanded', () => {
  test('the same secrets as one-shot decapsulation, implicit rejection included, and none after dispose', async () => {
    const seed = randomBytes(64);
    const pair = kemKeygen(seed);
    const key = await nobleKem.importSecretKey(seed);
    for (let i = 0; i < 3; i++) {
      const { cipherText, sharedSecret } = kemEncapsulate(pair.publicKey);
      expect(toHex(await key.decapsulate(cipherText))).toBe(toHex(sharedSecret));
      cipherText[i] = (cipherText[i] as number) ^ 1;
      const rejected = await key.decapsulate(cipherText);
      expect(toHex(rejected)).toBe(toHex(kemDecapsulate(pair.secretKey, cipherText)));
      expect(toHex(rejected)).not.toBe(toHex(sharedSecret));
    }
    await expectCodeAsync(key.decapsulate(new Uint8Array(1087)), 'invalid_cipher_text');
    key.dispose();
    await expectCodeAsync(
      key.decapsulate(kemEncapsulate(pair.publicKey).cipherText),
      'invalid_secret_key',
    );
  });
});

describe('node:crypto AES-GCM with one KeyObject per key buffer', () => {
  const nonce = randomBytes(12);
  const aad = randomBytes(43);
  const plaintext = randomBytes(1000);

  test('a buffer reused for another key seals and opens under the new key', () => {
    const key = randomBytes(32);
    expect(toHex(nodeAead.seal(key, nonce, plaintext, aad))).toBe(
      toHex(nobleAead.seal(key, nonce, plaintext, aad)),
    );
    const next = randomBytes(32);
    key.set(next);
    const sealed = nodeAead.seal(key, nonce, plaintext, aad);
    expect(toHex(sealed)).toBe(toHex(nobleAead.seal(next, nonce, plaintext, aad)));
    expect(toHex(nodeAead.open(key, nonce, sealed, aad) ?? new Uint8Array(0))).toBe(
      toHex(plaintext),
    );
  });

  test('a buffer changed between uses gives the current bytes every time, cached or re-imported', () => {
    const key = randomBytes(32);
    for (let use = 0; use < 5; use++) {
      if (use % 2 === 1) key.set(randomBytes(32));
      const expected = nobleAead.seal(Uint8Array.from(key), nonce, plaintext, aad);
      expect(toHex(nodeAead.seal(key, nonce, plaintext, aad)), `use ${use}`).toBe(toHex(expected));
      expect(
        toHex(nodeAead.open(key, nonce, expected, aad) ?? new Uint8Array(0)),
        `use ${use}`,
      ).toBe(toHex(plaintext));
    }
  });

  test('after wipe, the zeroed buffer is a zero key, not the old one', () => {
    const key = randomBytes(32);
    const sealed = nodeAead.seal(key, nonce, plaintext, aad);
    wipe(key);
    expect(nodeAead.open(key, nonce, sealed, aad)).toBeUndefined();
    expect(toHex(nodeAead.seal(key, nonce, plaintext, aad))).toBe(
      toHex(nobleAead.seal(new Uint8Array(32), nonce, plaintext, aad)),
    );
  });

  test('the cache holds one copy per key buffer in use, and none once the buffer is wiped', () => {
    const baseline = heldAesKeyCount();
    const [a, b] = [randomBytes(32), randomBytes(32)];
    nodeAead.seal(a, nonce, plaintext, aad);
    nodeAead.seal(a, nonce, plaintext, aad);
    nodeAead.seal(b, nonce, plaintext, aad);
    expect(heldAesKeyCount()).toBe(baseline + 2);
    // A buffer reused for another key: the old copy is zeroed, the new one held in its place.
    a.set(randomBytes(32));
    nodeAead.seal(a, nonce, plaintext, aad);
    expect(heldAesKeyCount()).toBe(baseline + 2);
    wipe(a, b);
    expect(heldAesKeyCount()).toBe(baseline);
    wipe(a);
    expect(heldAesKeyCount()).toBe(baseline);
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
      const expected = concat(
        header,
        nobleAead.seal(key, header.subarray(1), plaintext, concat(header, lp(sessionId, appAad))),
      );
      expect(toHex(record)).toBe(toHex(expected));
      expect(toHex(openRecord(key, sessionId, record, appAad))).toBe(toHex(plaintext));
      expectCode(
        () =>
          openRecord(key, sessionId === 'session-a' ? 'session-b' : 'session-a', record, appAad),
        'record_auth_failed',
      );
    }
  });
});
