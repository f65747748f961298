/**
 * Secrets at rest (`src/core/sealing.ts`, spec §5) at their edges: the field key's exact shape
 * (64 hex characters, either case; 32 bytes to `deriveSealKey`), each field of both AADs bound, a
 * fresh nonce per seal, and every malformed sealed string `unseal_failed` (never a new secret).
 */
import { describe, expect, test } from 'vitest';
import { ALG, SEALED_IDENTITY_LABEL, SIG_ALG } from '../src/core/constants.js';
import { base64Decode, base64Encode, lp } from '../src/core/encoding.js';
import { isZeqKeyExError } from '../src/core/errors.js';
import {
  type SecretKeyContext,
  type SeedContext,
  deriveSealKey,
  parseFieldKey,
  seal,
  sealSecretKey,
  sealSeed,
  sealWithNonce,
  identityAad,
  sealIdentitySeed,
  secretKeyAad,
  seedAad,
  unsealIdentitySeed,
  unsealSecretKey,
  unsealSeed,
} from '../src/core/sealing.js';
import { expectCode } from './helpers/errors.js';
import { toHex } from './helpers/vectors.js';

const FIELD_HEX = '0123456789abcdef'.repeat(4);
const SEAL_KEY = deriveSealKey(parseFieldKey(FIELD_HEX));
const KEY_CONTEXT: SecretKeyContext = {
  alg: ALG,
  slug: 'edge-01',
  machineId: 'machine:edge-01',
  publicKey: new Uint8Array(1184).fill(7),
};
const SEED_CONTEXT: SeedContext = {
  localMachineId: 'm-local',
  peerMachineId: 'm-peer',
  seedCommitment: 'ab'.repeat(32),
};

describe('the field key', () => {
  test('64 hex characters, upper or lower case, are its 32 bytes', () => {
    const bytes = parseFieldKey(FIELD_HEX);
    expect(toHex(bytes)).toBe(FIELD_HEX);
    expect(toHex(parseFieldKey(FIELD_HEX.toUpperCase()))).toBe(FIELD_HEX);
    expect(toHex(parseFieldKey('ff'.repeat(32)))).toBe('ff'.repeat(32));
  });

  test('anything else is invalid_field_key', () => {
    for (const text of [
      FIELD_HEX.slice(1),
      `${FIELD_HEX}0`,
      `${FIELD_HEX.slice(1)}g`,
      ` ${FIELD_HEX.slice(1)}`,
      `${FIELD_HEX}\n`,
      '',
      undefined,
      null,
      42,
      parseFieldKey(FIELD_HEX),
    ]) {
      expectCode(() => parseFieldKey(text), 'invalid_field_key');
      // The message says what a field key is.
      expect(() => parseFieldKey(text)).toThrow(/64 hex characters \(32 bytes\)/);
    }
  });

  test('deriveSealKey takes 32 bytes exactly', () => {
    for (const key of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0), FIELD_HEX])
      expectCode(() => deriveSealKey(key as Uint8Array), 'invalid_field_key');
    expect(deriveSealKey(new Uint8Array(32))).toHaveLength(32);
    expect(toHex(deriveSealKey(new Uint8Array(32)))).not.toBe(
      toHex(deriveSealKey(new Uint8Array(32).fill(1))),
    );
  });
});

describe('sealing', () => {
  test('a seal is base64(nonce ‖ ciphertext ‖ tag) with a fresh nonce each time', () => {
    const plaintext = new Uint8Array(64).fill(1);
    const a = base64Decode(seal(SEAL_KEY, plaintext, secretKeyAad(KEY_CONTEXT)));
    const b = base64Decode(seal(SEAL_KEY, plaintext, secretKeyAad(KEY_CONTEXT)));
    expect(a).toHaveLength(12 + 64 + 16);
    expect(toHex(a.subarray(0, 12))).not.toBe(toHex(b.subarray(0, 12)));
    const nonce = new Uint8Array(12).fill(3);
    const fixed = sealWithNonce(SEAL_KEY, plaintext, secretKeyAad(KEY_CONTEXT), nonce);
    expect(toHex(base64Decode(fixed).subarray(0, 12))).toBe(toHex(nonce));
    expect(sealWithNonce(SEAL_KEY, plaintext, secretKeyAad(KEY_CONTEXT), nonce)).toBe(fixed);
    expect(toHex(unsealSecretKey(SEAL_KEY, KEY_CONTEXT, fixed))).toBe(toHex(plaintext));
  });

  test('a sealed secret key is bound to each field of its context', () => {
    const seed = new Uint8Array(64).fill(2);
    const sealed = sealSecretKey(SEAL_KEY, KEY_CONTEXT, seed);
    expect(toHex(unsealSecretKey(SEAL_KEY, KEY_CONTEXT, sealed))).toBe(toHex(seed));
    const publicKey = KEY_CONTEXT.publicKey.slice();
    publicKey[1183] = 8;
    for (const context of [
      { ...KEY_CONTEXT, slug: 'edge-02' },
      { ...KEY_CONTEXT, machineId: 'machine:edge-02' },
      { ...KEY_CONTEXT, publicKey },
    ])
      expectCode(() => unsealSecretKey(SEAL_KEY, context, sealed), 'unseal_failed');
    // The seed AAD with the same strings is another AAD (its own label).
    expect(toHex(secretKeyAad(KEY_CONTEXT))).not.toBe(
      toHex(
        seedAad({
          localMachineId: 'edge-01',
          peerMachineId: 'machine:edge-01',
          seedCommitment: '',
        }),
      ),
    );
  });

  test('a sealed seed is bound to each field of its context, and is 32 bytes', () => {
    const seed = new Uint8Array(32).fill(4);
    const sealed = sealSeed(SEAL_KEY, SEED_CONTEXT, seed);
    expect(base64Decode(sealed)).toHaveLength(12 + 32 + 16);
    expect(toHex(unsealSeed(SEAL_KEY, SEED_CONTEXT, sealed))).toBe(toHex(seed));
    for (const context of [
      { ...SEED_CONTEXT, localMachineId: 'm-peer', peerMachineId: 'm-local' },
      { ...SEED_CONTEXT, peerMachineId: 'm-other' },
      { ...SEED_CONTEXT, seedCommitment: 'cd'.repeat(32) },
    ])
      expectCode(() => unsealSeed(SEAL_KEY, context, sealed), 'unseal_failed');
    // A sealed seed is not a sealed secret key, even under the same key.
    expectCode(() => unsealSecretKey(SEAL_KEY, KEY_CONTEXT, sealed), 'unseal_failed');
  });

  test('every malformed sealed string is unseal_failed, with the decoding error as its cause', () => {
    const sealed = sealSeed(SEAL_KEY, SEED_CONTEXT, new Uint8Array(32));
    const bytes = base64Decode(sealed);
    for (const value of [
      undefined,
      null,
      7,
      '',
      `${sealed} `,
      sealed.slice(0, -4),
      base64Encode(bytes.subarray(1)),
      base64Encode(new Uint8Array([...bytes, 0])),
    ])
      expectCode(() => unsealSeed(SEAL_KEY, SEED_CONTEXT, value), 'unseal_failed');
    let caught: unknown;
    try {
      unsealSeed(SEAL_KEY, SEED_CONTEXT, 'not base64!');
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).cause).toMatchObject({ code: 'invalid_encoding' });
    const flipped = bytes.slice();
    flipped[20] = (flipped[20] as number) ^ 1;
    expectCode(() => unsealSeed(SEAL_KEY, SEED_CONTEXT, base64Encode(flipped)), 'unseal_failed');
    const otherKey = deriveSealKey(new Uint8Array(32).fill(9));
    expectCode(() => unsealSeed(otherKey, SEED_CONTEXT, sealed), 'unseal_failed');
  });
});

describe('the sealed identity seed', () => {
  const identityKey = new Uint8Array(1952).fill(5);
  const seed = new Uint8Array(32).fill(6);

  test('bound to the identity key by its AAD LP(label) ‖ LP("ML-DSA-65") ‖ LP(identity_key)', () => {
    expect(identityAad(identityKey)).toEqual(lp(SEALED_IDENTITY_LABEL, SIG_ALG, identityKey));
    const sealed = sealIdentitySeed(SEAL_KEY, identityKey, seed);
    expect(base64Decode(sealed)).toHaveLength(12 + 32 + 16);
    expect(unsealIdentitySeed(SEAL_KEY, identityKey, sealed)).toEqual(seed);
    const other = identityKey.slice();
    other[0] = 4;
    expectCode(() => unsealIdentitySeed(SEAL_KEY, other, sealed), 'unseal_failed');
    expectCode(
      () => unsealIdentitySeed(SEAL_KEY, identityKey, sealSeed(SEAL_KEY, SEED_CONTEXT, seed)),
      'unseal_failed',
    );
  });

  test('a malformed sealed string: unseal_failed, its cause naming the field', () => {
    let thrown: unknown;
    try {
      unsealIdentitySeed(SEAL_KEY, identityKey, 'AAAA');
    } catch (error) {
      thrown = error;
    }
    expect(isZeqKeyExError(thrown, 'unseal_failed')).toBe(true);
    expect(String((thrown as Error).cause)).toContain('sealed secret');
  });
});
