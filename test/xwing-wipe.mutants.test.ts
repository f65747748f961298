/**
 * The synchronous X-Wing layer (`src/core/xwing.ts`, spec §9) wipes the secrets it makes on the
 * side: the whole SHAKE256 output of a seed expansion once split, the combiner's input (which holds
 * both shared secrets) once hashed, and the secret key of a key generation run only for its public
 * key. The hashes and noble's X-Wing are wrapped here to keep the very arrays they gave or got.
 */
import { describe, expect, test, vi } from 'vitest';
import { combineXWing, expandXWingSeed, xwingPublicKey } from '../src/core/xwing.js';

const seen = vi.hoisted(() => ({
  shakeOutputs: [] as Uint8Array[],
  sha3Inputs: [] as Uint8Array[],
  keygenSeeds: [] as Uint8Array[],
  keygenSecretKeys: [] as Uint8Array[],
}));

vi.mock('@noble/hashes/sha3.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@noble/hashes/sha3.js')>();
  const shake256 = Object.assign((...args: Parameters<typeof actual.shake256>): Uint8Array => {
    const out = actual.shake256(...args);
    seen.shakeOutputs.push(out);
    return out;
  }, actual.shake256);
  const sha3_256 = Object.assign((...args: Parameters<typeof actual.sha3_256>): Uint8Array => {
    seen.sha3Inputs.push(args[0]);
    return actual.sha3_256(...args);
  }, actual.sha3_256);
  return { ...actual, shake256, sha3_256 };
});

vi.mock('@noble/post-quantum/hybrid.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@noble/post-quantum/hybrid.js')>();
  const kem = actual.ml_kem768_x25519;
  return {
    ...actual,
    ml_kem768_x25519: {
      ...kem,
      keygen: (seed?: Uint8Array) => {
        if (seed !== undefined) seen.keygenSeeds.push(seed);
        const pair = kem.keygen(seed);
        seen.keygenSecretKeys.push(pair.secretKey);
        return pair;
      },
    },
  };
});

const SEED = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const zeroed = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

function reset(): void {
  for (const list of Object.values(seen)) list.length = 0;
}

describe('secrets made on the side are wiped', () => {
  test('the SHAKE256 output of a seed expansion, once split into fresh buffers', () => {
    reset();
    const { mlKemSeed, x25519SecretKey } = expandXWingSeed(SEED);
    expect(seen.shakeOutputs).toHaveLength(1);
    const [output] = seen.shakeOutputs as [Uint8Array];
    expect(output).toHaveLength(96);
    expect(zeroed(output)).toBe(true);
    expect(zeroed(mlKemSeed) || zeroed(x25519SecretKey)).toBe(false);
  });

  test('the combiner’s input, once hashed', () => {
    reset();
    const secret = combineXWing(
      new Uint8Array(32).fill(1),
      new Uint8Array(32).fill(2),
      new Uint8Array(32).fill(3),
      new Uint8Array(32).fill(4),
    );
    expect(seen.sha3Inputs).toHaveLength(1);
    const [input] = seen.sha3Inputs as [Uint8Array];
    expect(input).toHaveLength(134);
    expect(zeroed(input)).toBe(true);
    expect(zeroed(secret)).toBe(false);
  });

  test('the secret key of a key generation for a public key, which gets a copy of the seed', () => {
    reset();
    const seed = SEED.slice();
    const publicKey = xwingPublicKey(seed);
    expect(publicKey).toHaveLength(1216);
    expect(seen.keygenSecretKeys).toHaveLength(1);
    expect(zeroed(seen.keygenSecretKeys[0] as Uint8Array)).toBe(true);
    expect(seen.keygenSeeds[0]).not.toBe(seed);
    expect(seed).toEqual(SEED);
  });
});
