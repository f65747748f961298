/**
 * The C2SP CCTV "accumulated" ML-KEM-768 test, run through the SDK's own KEM layer (`src/kem.ts`):
 * thousands of key pairs, encapsulations and implicit rejections drawn from a SHAKE-128 stream,
 * hashed into one value that must equal the FIPS 203 final hash (`cctv/accumulated.json`).
 * A short run comes first so that a broken KEM fails fast; the 10 000-case run takes about 30 s.
 */
import { shake128 } from '@noble/hashes/sha3.js';
import { describe, expect, test } from 'vitest';
import { concat } from '../src/core/encoding.js';
import { kemDecapsulate, kemKeygen } from '../src/core/kem.js';
import { kemEncapsulateDerandomized } from '../src/internal/testing.js';
import { constantTimeEqual } from '../src/core/primitives.js';
import { readVectorJson, toHex } from './helpers/vectors.js';

type Hashes = Record<string, Record<string, string> | string>;
interface Accumulated {
  fips203_final: Hashes;
  fips203_final_short_runs_not_upstream: Hashes;
  fips203_ipd_obsolete_do_not_use: Hashes;
}

const PARAMETER_SET = 'ML-KEM-768';
const CIPHER_TEXT_BYTES = 1088;

const vectors = readVectorJson('cctv/accumulated.json') as Accumulated;

function hashFor(table: Hashes, tests: number): string | undefined {
  const entry = table[PARAMETER_SET];
  return typeof entry === 'object' ? entry[String(tests)] : undefined;
}

const finalHash = hashFor(vectors.fips203_final, 10_000);
if (finalHash === undefined)
  throw new Error('accumulated.json: no FIPS 203 final 10000-test hash for ML-KEM-768');
const quickHash = hashFor(vectors.fips203_final_short_runs_not_upstream, 100);

/** The runs, shortest first: a quick one when the file has its value, then the upstream one. */
const runs: (readonly [number, string])[] = [
  ...(quickHash === undefined ? [] : [[100, quickHash] as const]),
  [10_000, finalHash],
];

/**
 * Runs `tests` cases of the CCTV procedure and returns the accumulator's 32-byte output in hex,
 * with the number of cases where Decaps did not return the encapsulated secret.
 */
function accumulate(tests: number): { hash: string; mismatches: number } {
  const rng = shake128.create();
  const accumulator = shake128.create();
  let mismatches = 0;
  for (let i = 0; i < tests; i++) {
    const d = rng.xof(32);
    const z = rng.xof(32);
    const m = rng.xof(32);
    const randomCipherText = rng.xof(CIPHER_TEXT_BYTES);
    const { publicKey, secretKey } = kemKeygen(concat(d, z));
    const { cipherText, sharedSecret } = kemEncapsulateDerandomized(publicKey, m);
    if (!constantTimeEqual(kemDecapsulate(secretKey, cipherText), sharedSecret)) mismatches++;
    const rejectionSecret = kemDecapsulate(secretKey, randomCipherText);
    accumulator
      .update(publicKey)
      .update(secretKey)
      .update(cipherText)
      .update(sharedSecret)
      .update(rejectionSecret);
  }
  return { hash: toHex(accumulator.xof(32)), mismatches };
}

describe(`CCTV accumulated ${PARAMETER_SET} (FIPS 203 final)`, () => {
  test('the RNG is SHAKE-128 of the empty string, read as a stream', () => {
    const rng = shake128.create();
    expect(toHex(concat(rng.xof(5), rng.xof(11)))).toBe('7f9c2ba4e88f827d616045507605853e');
  });

  test.each(runs)(
    '%i tests',
    (tests, expected) => {
      const { hash, mismatches } = accumulate(tests);
      expect(mismatches).toBe(0);
      // The draft (ipd) value means KeyGen hashes G(d) instead of FIPS 203 final's G(d‖k).
      const draft = hashFor(vectors.fips203_ipd_obsolete_do_not_use, tests);
      expect(
        hash,
        hash === draft ? 'matches the FIPS 203 draft hash, not the final one' : undefined,
      ).toBe(expected);
    },
    // About 30 s alone on one core; a generous bound for a machine running other suites too.
    300_000,
  );
});
