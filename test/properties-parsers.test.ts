/**
 * Parsers of untrusted input, given anything at all, throw only what they document (the SDK's error
 * with their code, or `TypeError` for programmer input), and no function mutates its inputs.
 */
import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { ALG, type Alg } from '../src/core/constants.js';
import { base64Decode, base64Encode, hexDecode, hexEncode, lp } from '../src/core/encoding.js';
import { openKeyConfirmation, sealKeyConfirmation } from '../src/core/confirmation.js';
import { parsePin } from '../src/core/fingerprint.js';
import {
  assertAlg,
  assertPublicKey,
  kemDecapsulate,
  kemDecapsulateSeed,
  kemEncapsulate,
  kemKeygen,
} from '../src/core/kem.js';
import { deriveModeBSeed, modeBTranscript } from '../src/core/modeb.js';
import {
  deriveTrafficKey,
  openRecord,
  parseRecordHeader,
  rekey,
  sealRecord,
} from '../src/core/record-format.js';
import {
  deriveSealKey,
  parseFieldKey,
  sealSecretKey,
  sealSeed,
  unsealSecretKey,
  unsealSeed,
  type SecretKeyContext,
  type SeedContext,
} from '../src/core/sealing.js';
import { deriveRecordKey, firstContactTranscript } from '../src/core/transcript.js';
import {
  anyString,
  anyValue,
  attempt,
  bytesOf,
  base64ishString,
  expectOnlyDocumentedErrors,
  flipBit,
  sessionId,
} from './helpers/properties.js';
import { toHex } from './helpers/vectors.js';

const RUNS = { numRuns: 300 };
const KEM_RUNS = { numRuns: 15 };

const recordKey = new Uint8Array(32).fill(3);
const transcript = new Uint8Array(32).fill(4);
const sid = 'session-0123456789abcdef';
const sealKey = deriveSealKey(new Uint8Array(32).fill(5));
const keyContext: SecretKeyContext = {
  alg: ALG,
  slug: 'edge-01',
  machineId: 'machine:edge-01',
  publicKey: new Uint8Array(1184).fill(6),
};
const seedContext: SeedContext = {
  localMachineId: 'machine:edge-01',
  peerMachineId: 'machine:peer-02',
  seedCommitment: 'c0'.repeat(32),
};
const keyPair = kemKeygen(new Uint8Array(64).fill(8));

/** Bytes that get past the header checks of §3, so opening reaches the AEAD. */
const recordLike = fc.uint8Array({ minLength: 29, maxLength: 120 }).map((b) => {
  b[0] = 1;
  b.fill(0, 5, 9);
  return b;
});

/** Inputs that parsers see: anything, any string, any bytes, and strings and bytes shaped like the real thing. */
function untrusted(...nearValid: fc.Arbitrary<unknown>[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    anyValue,
    anyString,
    fc.uint8Array({ maxLength: 120 }),
    base64ishString,
    fc.uint8Array({ maxLength: 96 }).map(base64Encode),
    ...nearValid,
  );
}

describe('parsers throw only their documented errors', () => {
  test.prop([untrusted(), fc.option(fc.nat(100), { nil: undefined })], RUNS)(
    'base64Decode',
    (value, length) => {
      const outcome = attempt(() => base64Decode(value, length));
      expectOnlyDocumentedErrors(outcome, ['invalid_encoding']);
      if (outcome.ok) expect(base64Encode(outcome.value as Uint8Array)).toBe(value);
    },
  );

  const hexish = fc.string({
    unit: fc.constantFrom(...'0123456789abcdefABCDEF'.split('')),
    maxLength: 20,
  });
  test.prop([untrusted(hexish), fc.option(fc.nat(20), { nil: undefined })], RUNS)(
    'hexDecode',
    (value, length) => {
      const outcome = attempt(() => hexDecode(value, length));
      expectOnlyDocumentedErrors(outcome, ['invalid_encoding']);
      if (outcome.ok) expect(hexEncode(outcome.value as Uint8Array)).toBe(value);
    },
  );

  test.prop([untrusted(recordLike)], RUNS)('parseRecordHeader', (value) => {
    const outcome = attempt(() => parseRecordHeader(value as Uint8Array));
    expectOnlyDocumentedErrors(outcome, ['record_malformed', 'record_unsupported_version']);
    if (outcome.ok) {
      const record = value as Uint8Array;
      expect(record.length).toBeGreaterThanOrEqual(29);
      expect(outcome.value).toEqual({
        version: 1,
        epoch: new DataView(record.buffer, record.byteOffset).getUint32(1),
        seq: new DataView(record.buffer, record.byteOffset).getUint32(9),
      });
    }
  });

  test.prop(
    [untrusted(recordLike), fc.option(fc.uint8Array({ maxLength: 16 }), { nil: undefined })],
    RUNS,
  )('openRecord', (value, appAad) => {
    const outcome = attempt(() => openRecord(recordKey, sid, value as Uint8Array, appAad));
    expectOnlyDocumentedErrors(outcome, [
      'record_malformed',
      'record_unsupported_version',
      'record_auth_failed',
    ]);
    expect(outcome.ok).toBe(false);
  });

  test.prop([untrusted(bytesOf(57).map(base64Encode))], RUNS)('openKeyConfirmation', (value) => {
    const outcome = attempt(() => openKeyConfirmation(recordKey, transcript, sid, value));
    expectOnlyDocumentedErrors(outcome, ['confirmation_failed']);
    expect(outcome.ok).toBe(false);
  });

  test.prop([untrusted(bytesOf(12 + 64 + 16).map(base64Encode))], RUNS)(
    'unsealSecretKey',
    (value) => {
      const outcome = attempt(() => unsealSecretKey(sealKey, keyContext, value));
      expectOnlyDocumentedErrors(outcome, ['unseal_failed']);
      expect(outcome.ok).toBe(false);
    },
  );

  test.prop([untrusted(bytesOf(12 + 32 + 16).map(base64Encode))], RUNS)('unsealSeed', (value) => {
    const outcome = attempt(() => unsealSeed(sealKey, seedContext, value));
    expectOnlyDocumentedErrors(outcome, ['unseal_failed']);
    expect(outcome.ok).toBe(false);
  });

  const fieldKeyish = fc.string({
    unit: fc.constantFrom(...'0123456789abcdefABCDEFg \n'.split('')),
    minLength: 60,
    maxLength: 68,
  });
  test.prop([untrusted(fieldKeyish, fc.mixedCase(bytesOf(32).map(toHex)))], RUNS)(
    'parseFieldKey',
    (value) => {
      const outcome = attempt(() => parseFieldKey(value));
      expectOnlyDocumentedErrors(outcome, ['invalid_field_key']);
      expect(outcome.ok).toBe(typeof value === 'string' && /^[0-9a-fA-F]{64}$/.test(value));
      if (outcome.ok)
        expect(toHex(outcome.value as Uint8Array)).toBe((value as string).toLowerCase());
    },
  );

  const pinish = fc.string({
    unit: fc.constantFrom(...'0123456789abcdefABCDEF: '.split('')),
    minLength: 60,
    maxLength: 100,
  });
  test.prop([untrusted(pinish, bytesOf(32).map(toHex))], RUNS)(
    'parsePin (TypeError only: a pin is programmer input)',
    (value) => {
      const outcome = attempt(() => parsePin(value));
      if (!outcome.ok) expect(outcome.error).toBeInstanceOf(TypeError);
      else expect(outcome.value).toMatch(/^[0-9a-f]{64}$/);
    },
  );

  const algish = fc.constantFrom(
    ALG,
    'ml-kem-768',
    'ML-KEM-1024',
    'X-Wing',
    ` ${ALG}`,
    `${ALG}\n`,
    'toString',
    '__proto__',
    'constructor',
    'hasOwnProperty',
    '',
  );
  test.prop([untrusted(algish)], RUNS)('assertAlg', (value) => {
    const outcome = attempt(() => assertAlg(value));
    expectOnlyDocumentedErrors(outcome, ['unsupported_alg']);
    expect(outcome.ok).toBe(value === ALG);
    // Even when a caller lists reserved or nonsense values, only an alg this SDK speaks passes.
    const widened = ['X-Wing', 'ML-KEM-1024', 'toString', '__proto__', ALG] as unknown as Alg[];
    const wide = attempt(() => assertAlg(value, widened));
    expectOnlyDocumentedErrors(wide, ['unsupported_alg']);
    expect(wide.ok).toBe(value === ALG || value === 'X-Wing');
    expectOnlyDocumentedErrors(
      attempt(() => assertAlg(value, [])),
      ['unsupported_alg'],
    );
    expect(attempt(() => assertAlg(value, [])).ok).toBe(false);
  });
});

describe('KEM inputs from the wire throw only their documented errors', () => {
  const publicKeyish = fc.oneof(
    anyValue,
    fc.uint8Array({ maxLength: 1300 }),
    bytesOf(1184),
    fc.nat(1184 * 8 - 1).map((bit) => flipBit(keyPair.publicKey, bit)),
  );
  test.prop([publicKeyish], { numRuns: 60 })('assertPublicKey and kemEncapsulate', (value) => {
    const checked = attempt(() => assertPublicKey(value as Uint8Array));
    expectOnlyDocumentedErrors(checked, ['invalid_public_key']);
    const encapsulated = attempt(() => kemEncapsulate(value as Uint8Array));
    expectOnlyDocumentedErrors(encapsulated, ['invalid_public_key']);
    // The check before encapsulating and encapsulation itself agree on every key.
    expect(encapsulated.ok).toBe(checked.ok);
  });

  const cipherTextish = fc.oneof(anyValue, fc.uint8Array({ maxLength: 1200 }), bytesOf(1088));
  test.prop([cipherTextish], { numRuns: 60 })('kemDecapsulate and kemDecapsulateSeed', (value) => {
    const outcome = attempt(() => kemDecapsulate(keyPair.secretKey, value as Uint8Array));
    expectOnlyDocumentedErrors(outcome, ['invalid_cipher_text']);
    // Implicit rejection: every ciphertext of the right length decapsulates to some secret.
    expect(outcome.ok).toBe(value instanceof Uint8Array && value.length === 1088);
    expectOnlyDocumentedErrors(
      attempt(() => kemDecapsulateSeed(new Uint8Array(64).fill(8), value as Uint8Array)),
      ['invalid_cipher_text'],
    );
  });
});

/** Copies of the buffers, to compare after a call. */
function snapshot(...buffers: Uint8Array[]): string[] {
  return buffers.map(toHex);
}

describe('inputs are never mutated', () => {
  const message = fc.uint8Array({ maxLength: 100 });

  test.prop([bytesOf(32), sessionId, fc.nat(1000), fc.nat(1000), message, message, fc.nat()], RUNS)(
    'sealRecord and openRecord (on success and on failure)',
    (key, session, e, s, plaintext, appAad, bitSeed) => {
      const before = snapshot(key, plaintext, appAad);
      const record = sealRecord(key, session, e, s, plaintext, appAad);
      expect(snapshot(key, plaintext, appAad)).toEqual(before);

      const recordBefore = toHex(record);
      const opened = openRecord(key, session, record, appAad);
      expect(snapshot(key, plaintext, appAad)).toEqual(before);
      expect(toHex(record)).toBe(recordBefore);
      // The plaintext is the caller's to wipe: it must not alias the record.
      opened.fill(0xff);
      expect(toHex(record)).toBe(recordBefore);

      const tampered = flipBit(record, bitSeed % (record.length * 8));
      const tamperedBefore = toHex(tampered);
      expect(attempt(() => openRecord(key, session, tampered, appAad)).ok).toBe(false);
      expect(toHex(tampered)).toBe(tamperedBefore);
      expect(snapshot(key, appAad)).toEqual([before[0], before[2]]);
    },
  );

  test.prop([bytesOf(32), bytesOf(32), sessionId], RUNS)(
    'sealKeyConfirmation and openKeyConfirmation',
    (key, hash, session) => {
      const before = snapshot(key, hash);
      const confirmation = sealKeyConfirmation(key, hash, session);
      openKeyConfirmation(key, hash, session, confirmation);
      expect(attempt(() => openKeyConfirmation(key, hash, `${session}x`, confirmation)).ok).toBe(
        false,
      );
      expect(snapshot(key, hash)).toEqual(before);
    },
  );

  test.prop(
    [bytesOf(32), bytesOf(64), bytesOf(32), fc.uint8Array({ minLength: 1, maxLength: 64 })],
    RUNS,
  )(
    'deriveSealKey, sealSecretKey/unsealSecretKey and sealSeed/unsealSeed',
    (fieldKey, keySeed, modeBSeed, publicKey) => {
      const before = snapshot(fieldKey, keySeed, modeBSeed, publicKey);
      const key = deriveSealKey(fieldKey);
      const keyBefore = toHex(key);
      const context: SecretKeyContext = { ...keyContext, publicKey };
      const sealedKey = sealSecretKey(key, context, keySeed);
      const sealedSeed = sealSeed(key, seedContext, modeBSeed);
      unsealSecretKey(key, context, sealedKey).fill(0);
      unsealSeed(key, seedContext, sealedSeed).fill(0);
      expect(attempt(() => unsealSecretKey(key, { ...context, slug: 'other' }, sealedKey)).ok).toBe(
        false,
      );
      expect(snapshot(fieldKey, keySeed, modeBSeed, publicKey)).toEqual(before);
      expect(toHex(key)).toBe(keyBefore);
      // Wiping what was opened leaves the sealed copy intact.
      expect(unsealSecretKey(key, context, sealedKey)).toEqual(keySeed);
    },
  );

  test.prop([bytesOf(32), bytesOf(32)], RUNS)(
    'key schedule: deriveRecordKey, deriveTrafficKey, rekey, deriveModeBSeed',
    (sharedSecret, hash) => {
      const before = snapshot(sharedSecret, hash);
      const key = deriveRecordKey(sharedSecret, hash);
      const keyBefore = toHex(key);
      const traffic = deriveTrafficKey(key, 'session-0123456789abcdef', 'i2r');
      deriveTrafficKey(key, 'session-0123456789abcdef', 'r2i');
      const trafficBefore = toHex(traffic);
      rekey(traffic);
      deriveModeBSeed(sharedSecret, hash);
      expect(snapshot(sharedSecret, hash)).toEqual(before);
      expect(toHex(key)).toBe(keyBefore);
      expect(toHex(traffic)).toBe(trafficBefore);
    },
  );

  test.prop([fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 })], RUNS)(
    'encoders: base64Encode, hexEncode, lp',
    (fields) => {
      const before = snapshot(...fields);
      for (const f of fields) {
        base64Encode(f);
        hexEncode(f);
      }
      lp(...fields);
      expect(snapshot(...fields)).toEqual(before);
    },
  );

  test.prop([bytesOf(64), bytesOf(32)], KEM_RUNS)(
    'KEM and transcripts: keygen, encapsulate, decapsulate',
    (seed, other) => {
      const seedBefore = toHex(seed);
      const { publicKey, secretKey } = kemKeygen(seed);
      expect(toHex(seed)).toBe(seedBefore);
      const pkBefore = toHex(publicKey);
      const skBefore = toHex(secretKey);
      const { cipherText } = kemEncapsulate(publicKey);
      const ctBefore = toHex(cipherText);
      kemDecapsulate(secretKey, cipherText);
      kemDecapsulate(keyPair.secretKey, cipherText);
      kemDecapsulateSeed(seed, cipherText);
      const input = {
        alg: ALG,
        slug: 'edge-01',
        machineId: 'machine:edge-01',
        publicKey,
        cipherText,
      };
      firstContactTranscript(input);
      modeBTranscript({
        alg: ALG,
        initiatorMachineId: 'a',
        responderMachineId: 'b',
        responderPublicKey: publicKey,
        cipherText,
      });
      expect([
        toHex(seed),
        toHex(publicKey),
        toHex(secretKey),
        toHex(cipherText),
        toHex(other),
      ]).toEqual([seedBefore, pkBefore, skBefore, ctBefore, toHex(other)]);
    },
  );
});
