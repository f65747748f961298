/**
 * The synchronous X-Wing layer (`src/core/xwing.ts`, spec §9) at each of its edges: the seed
 * expansion and the combiner byte for byte against the draft's definitions (computed here with
 * noble's SHAKE256 and SHA3-256), the inputs left as they were, the order of the input checks, the
 * refusals of X25519 values of low order keeping noble's error as their cause, and the checks of
 * the deterministic encapsulation's randomness. `xwing-backends.test.ts` runs the draft's vectors.
 */
import { describe, expect, test } from 'vitest';
import { sha3_256, shake256 } from '@noble/hashes/sha3.js';
import {
  XWING_SPLIT,
  combineXWing,
  expandXWingSeed,
  nobleXWing,
  xwingDecapsulate,
  xwingEncapsulate,
  xwingEncapsulateDerandomized,
  xwingPublicKey,
} from '../src/core/xwing.js';
import { isZeqKeyExError } from '../src/core/errors.js';
import { expectCode } from './helpers/errors.js';
import { toHex } from './helpers/vector-data.js';

const SEED = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const PUBLIC_KEY = xwingPublicKey(SEED);
const ESEED = Uint8Array.from({ length: 64 }, (_, i) => 200 - i);

/** The same key or ciphertext with its X25519 part set to a point of low order (u = 0). */
function lowOrderPart(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  out.fill(0, bytes.length - 32);
  return out;
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('the seed expansion and the combiner (draft §5.2, §5.3)', () => {
  test('expandXWingSeed splits SHAKE256(seed, 96) into d‖z and sk_X, leaving the seed', () => {
    const seed = SEED.slice();
    const { mlKemSeed, x25519SecretKey } = expandXWingSeed(seed);
    const expanded = shake256(SEED, { dkLen: 96 });
    expect(toHex(mlKemSeed)).toBe(toHex(expanded.subarray(0, 64)));
    expect(toHex(x25519SecretKey)).toBe(toHex(expanded.subarray(64, 96)));
    expect(seed).toEqual(SEED);
  });

  test('expandXWingSeed takes 32 bytes only', () => {
    for (const seed of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(64)])
      expectCode(() => expandXWingSeed(seed), 'invalid_secret_key');
  });

  test('combineXWing hashes ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ the label, and leaves its inputs', () => {
    const parts = [1, 2, 3, 4].map((n) => new Uint8Array(32).fill(n));
    const [ssM, ssX, ctX, pkX] = parts as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    const label = Uint8Array.from([0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c]);
    const input = new Uint8Array(134);
    [ssM, ssX, ctX, pkX, label].forEach((part, i) => input.set(part, 32 * i));
    expect(toHex(combineXWing(ssM, ssX, ctX, pkX))).toBe(toHex(sha3_256(input)));
    parts.forEach((part, i) => expect(part.every((b) => b === i + 1)).toBe(true));
  });

  test('the combiner agrees with noble’s X-Wing on a whole encapsulation', () => {
    const { cipherText, sharedSecret } = xwingEncapsulateDerandomized(PUBLIC_KEY, ESEED);
    const { mlKemSeed, x25519SecretKey } = expandXWingSeed(SEED);
    expect(mlKemSeed).toHaveLength(64);
    expect(x25519SecretKey).toHaveLength(32);
    expect(XWING_SPLIT).toEqual({ publicKey: 1184, cipherText: 1088 });
    expect(toHex(xwingDecapsulate(SEED, cipherText))).toBe(toHex(sharedSecret));
  });
});

describe('keys', () => {
  test('xwingPublicKey is noble’s, and leaves the seed as it was', () => {
    const seed = SEED.slice();
    expect(toHex(xwingPublicKey(seed))).toBe(toHex(nobleXWing.keygen(SEED.slice()).publicKey));
    expect(seed).toEqual(SEED);
    expect(PUBLIC_KEY).toHaveLength(1216);
  });

  test('xwingPublicKey takes 32 bytes only', () => {
    for (const seed of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(64)])
      expectCode(() => xwingPublicKey(seed), 'invalid_secret_key');
  });
});

describe('encapsulation', () => {
  test('fresh randomness each time; the peer decapsulates the same secret', () => {
    const a = xwingEncapsulate(PUBLIC_KEY);
    const b = xwingEncapsulate(PUBLIC_KEY);
    expect(toHex(a.cipherText)).not.toBe(toHex(b.cipherText));
    expect(a.cipherText).toHaveLength(1120);
    expect(toHex(xwingDecapsulate(SEED, a.cipherText))).toBe(toHex(a.sharedSecret));
  });

  test('the derandomized form is deterministic in its 64-byte eseed', () => {
    const a = xwingEncapsulateDerandomized(PUBLIC_KEY, ESEED);
    const b = xwingEncapsulateDerandomized(PUBLIC_KEY, ESEED.slice());
    expect(toHex(a.cipherText)).toBe(toHex(b.cipherText));
    expect(toHex(a.sharedSecret)).toBe(toHex(b.sharedSecret));
    expect(toHex(nobleXWing.encapsulate(PUBLIC_KEY, ESEED).cipherText)).toBe(toHex(a.cipherText));
  });

  test('an eseed that is not 64 bytes is a TypeError naming it', () => {
    for (const eseed of [new Uint8Array(63), new Uint8Array(65), Array.from(ESEED)])
      expect(() => xwingEncapsulateDerandomized(PUBLIC_KEY, eseed as Uint8Array)).toThrow(/eseed/);
  });

  test('a key of the wrong length, or whose X25519 part is of low order, is invalid_public_key', () => {
    expectCode(() => xwingEncapsulate(PUBLIC_KEY.subarray(1)), 'invalid_public_key');
    expectCode(
      () => xwingEncapsulateDerandomized(PUBLIC_KEY.subarray(1), ESEED),
      'invalid_public_key',
    );
    const error = thrown(() => xwingEncapsulate(lowOrderPart(PUBLIC_KEY)));
    expect(isZeqKeyExError(error, 'invalid_public_key')).toBe(true);
    expect((error as Error).cause).toBeInstanceOf(Error);
    expectCode(
      () => xwingEncapsulateDerandomized(lowOrderPart(PUBLIC_KEY), ESEED),
      'invalid_public_key',
    );
  });
});

describe('decapsulation', () => {
  const { cipherText } = xwingEncapsulateDerandomized(PUBLIC_KEY, ESEED);

  test('the ciphertext is checked before the seed', () => {
    expectCode(
      () => xwingDecapsulate(new Uint8Array(31), cipherText.subarray(1)),
      'invalid_cipher_text',
    );
    expectCode(() => xwingDecapsulate(SEED, new Uint8Array(1121)), 'invalid_cipher_text');
    expectCode(() => xwingDecapsulate(new Uint8Array(31), cipherText), 'invalid_secret_key');
    expectCode(() => xwingDecapsulate(new Uint8Array(64), cipherText), 'invalid_secret_key');
  });

  test('a ciphertext whose X25519 part is of low order is invalid_cipher_text, with its cause', () => {
    const error = thrown(() => xwingDecapsulate(SEED, lowOrderPart(cipherText)));
    expect(isZeqKeyExError(error, 'invalid_cipher_text')).toBe(true);
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  test('decapsulation leaves the seed and the ciphertext as they were', () => {
    const seed = SEED.slice();
    const copy = cipherText.slice();
    xwingDecapsulate(seed, copy);
    expect(seed).toEqual(SEED);
    expect(copy).toEqual(cipherText);
  });
});
