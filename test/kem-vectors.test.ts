/**
 * Public ML-KEM-768 vectors (Wycheproof, NIST ACVP, C2SP CCTV) run through the SDK's own KEM layer
 * (`src/kem.ts`), never through noble directly: valid vectors must reproduce every output, invalid
 * ones must be refused with the SDK's error code. Provenance and schemas: `test/vectors/README.md`.
 */
import { describe, expect, test } from 'vitest';
import { assertPublicKey, kemDecapsulate, kemEncapsulate, kemKeygen } from '../src/core/kem.js';
import { kemEncapsulateDerandomized } from '../src/internal/testing.js';
import type { ErrorCode } from '../src/core/errors.js';
import { expectCode } from './helpers/errors.js';
import { expectCount, hex, readVectorJson, readVectorText, toHex } from './helpers/vectors.js';
import { countResults, label, readWycheproof, type WycheproofCase } from './helpers/wycheproof.js';

const PARAMETER_SET = 'ML-KEM-768';
const SEED_BYTES = 64;
const CIPHER_TEXT_BYTES = 1088;

// ---------------------------------------------------------------------------------------------
// Wycheproof
// ---------------------------------------------------------------------------------------------

interface MlKemGroup {
  parameterSet: string;
}

describe('Wycheproof mlkem_768_test (KeyGen from seed, then Decaps)', () => {
  interface Case extends WycheproofCase {
    seed: string;
    ek?: string;
    c: string;
    K: string;
  }
  const cases = readWycheproof<MlKemGroup, Case>('mlkem_768_test', 193);
  test('selection', () => {
    expect(countResults(cases)).toEqual({ valid: 153, invalid: 40, acceptable: 0 });
    expect(cases.every(({ group }) => group.parameterSet === PARAMETER_SET)).toBe(true);
  });

  test.each(cases.map(({ test: t }) => [label(t), t] as const))('%s', (_, t) => {
    const seed = hex(t.seed);
    if (t.result === 'valid') {
      const { publicKey, secretKey } = kemKeygen(seed);
      expect(toHex(publicKey)).toBe(t.ek);
      // Random and bit-flipped ciphertexts exercise implicit rejection: a value, never a throw.
      expect(toHex(kemDecapsulate(secretKey, hex(t.c)))).toBe(t.K);
      return;
    }
    expect(t.result).toBe('invalid');
    expect(t.K).toBe('');
    if (seed.length !== SEED_BYTES) {
      expectCode(() => kemKeygen(seed), 'invalid_secret_key');
      return;
    }
    const { publicKey, secretKey } = kemKeygen(seed);
    if (t.ek !== undefined) expect(toHex(publicKey)).toBe(t.ek);
    expect(hex(t.c).length).not.toBe(CIPHER_TEXT_BYTES);
    expectCode(() => kemDecapsulate(secretKey, hex(t.c)), 'invalid_cipher_text');
  });
});

describe('Wycheproof mlkem_768_encaps_test (Encaps_internal)', () => {
  interface Case extends WycheproofCase {
    ek: string;
    m: string;
    c: string;
    K: string;
  }
  const cases = readWycheproof<MlKemGroup, Case>('mlkem_768_encaps_test', 265);
  test('selection', () => {
    expect(countResults(cases)).toEqual({ valid: 133, invalid: 132, acceptable: 0 });
    expect(cases.every(({ group }) => group.parameterSet === PARAMETER_SET)).toBe(true);
  });

  test.each(cases.map(({ test: t }) => [label(t), t] as const))('%s', (_, t) => {
    const ek = hex(t.ek);
    if (t.result === 'valid') {
      expect(() => assertPublicKey(ek)).not.toThrow();
      const { cipherText, sharedSecret } = kemEncapsulateDerandomized(ek, hex(t.m));
      expect(toHex(cipherText)).toBe(t.c);
      expect(toHex(sharedSecret)).toBe(t.K);
      return;
    }
    expect(t.result).toBe('invalid');
    expectCode(() => kemEncapsulateDerandomized(ek, hex(t.m)), 'invalid_public_key');
    expectCode(() => assertPublicKey(ek), 'invalid_public_key');
  });
});

describe('Wycheproof mlkem_768_keygen_seed_test (KeyGen_internal)', () => {
  interface Case extends WycheproofCase {
    seed: string;
    ek: string;
    dk: string;
  }
  const cases = readWycheproof<MlKemGroup, Case>('mlkem_768_keygen_seed_test', 100);
  test('selection', () => {
    expect(countResults(cases)).toEqual({ valid: 100, invalid: 0, acceptable: 0 });
    expect(cases.every(({ group }) => group.parameterSet === PARAMETER_SET)).toBe(true);
  });

  test.each(cases.map(({ test: t }) => [label(t), t] as const))('%s', (_, t) => {
    const { publicKey, secretKey } = kemKeygen(hex(t.seed));
    expect(toHex(publicKey)).toBe(t.ek);
    expect(toHex(secretKey)).toBe(t.dk);
  });
});

describe('Wycheproof mlkem_768_semi_expanded_decaps_test (Decaps with §7.3 checks)', () => {
  interface Case extends WycheproofCase {
    dk: string;
    c: string;
    K?: string;
  }
  const cases = readWycheproof<MlKemGroup, Case>('mlkem_768_semi_expanded_decaps_test', 9);
  test('selection', () => {
    expect(countResults(cases)).toEqual({ valid: 3, invalid: 6, acceptable: 0 });
    expect(cases.every(({ group }) => group.parameterSet === PARAMETER_SET)).toBe(true);
  });

  // Which SDK code each kind of invalid case must produce. A new kind fails the test below.
  const codeFor: Record<string, ErrorCode> = {
    IncorrectCiphertextLength: 'invalid_cipher_text',
    IncorrectDecapsulationKeyLength: 'invalid_secret_key',
    InvalidDecapsulationKey: 'invalid_secret_key',
  };

  test.each(cases.map(({ test: t }) => [label(t), t] as const))('%s', (_, t) => {
    if (t.result === 'valid') {
      expect(toHex(kemDecapsulate(hex(t.dk), hex(t.c)))).toBe(t.K);
      return;
    }
    expect(t.result).toBe('invalid');
    expect(t.K).toBeUndefined();
    const codes = (t.flags ?? []).map((flag) => codeFor[flag]);
    expect(codes).toHaveLength(1);
    expectCode(() => kemDecapsulate(hex(t.dk), hex(t.c)), codes[0] as ErrorCode);
  });
});

// ---------------------------------------------------------------------------------------------
// NIST ACVP (prompt.json joined with expectedResults.json on tgId and tcId)
// ---------------------------------------------------------------------------------------------

interface AcvpFile<G, T> {
  algorithm: string;
  mode: string;
  revision: string;
  testGroups: (G & { tgId: number; tests: (T & { tcId: number })[] })[];
}

/** Joins the prompt and expected groups of one tgId on tcId, checking both have the same cases. */
function joinAcvp<G, P, E>(
  prompt: AcvpFile<G, P>,
  expected: AcvpFile<unknown, E>,
  tgId: number,
  count: number,
): { group: G; cases: readonly { tcId: number; prompt: P; expected: E }[] } {
  const group = prompt.testGroups.find((g) => g.tgId === tgId);
  const results = expected.testGroups.find((g) => g.tgId === tgId);
  if (group === undefined || results === undefined) throw new Error(`ACVP tgId ${tgId} is missing`);
  const byId = new Map(results.tests.map((t) => [t.tcId, t]));
  const cases = group.tests.map((t) => {
    const e = byId.get(t.tcId);
    if (e === undefined) throw new Error(`ACVP tgId ${tgId} tcId ${t.tcId} has no expected result`);
    return { tcId: t.tcId, prompt: t, expected: e };
  });
  if (byId.size !== cases.length)
    throw new Error(`ACVP tgId ${tgId}: expected results and prompts differ`);
  return { group, cases: expectCount(`ACVP tgId ${tgId}`, cases, count) };
}

describe('ACVP ML-KEM-keyGen-FIPS203, ML-KEM-768 (tgId 2)', () => {
  interface Group {
    testType: string;
    parameterSet: string;
  }
  const prompt = readVectorJson('acvp/ML-KEM-keyGen-FIPS203/prompt.json') as AcvpFile<
    Group,
    { d: string; z: string }
  >;
  const expected = readVectorJson('acvp/ML-KEM-keyGen-FIPS203/expectedResults.json') as AcvpFile<
    unknown,
    { ek: string; dk: string }
  >;
  const { group, cases } = joinAcvp(prompt, expected, 2, 25);

  test('group', () => {
    expect([prompt.algorithm, prompt.mode, prompt.revision]).toEqual([
      'ML-KEM',
      'keyGen',
      'FIPS203',
    ]);
    expect(group).toMatchObject({ testType: 'AFT', parameterSet: PARAMETER_SET });
  });

  // The prompt lists z before d, but the seed is d‖z. ACVP hex is uppercase.
  test.each(cases.map((c) => [c.tcId, c] as const))('tcId %i', (_, c) => {
    const { publicKey, secretKey } = kemKeygen(hex(c.prompt.d + c.prompt.z));
    expect(toHex(publicKey)).toBe(c.expected.ek.toLowerCase());
    expect(toHex(secretKey)).toBe(c.expected.dk.toLowerCase());
  });
});

describe('ACVP ML-KEM-encapDecap-FIPS203, ML-KEM-768', () => {
  interface Group {
    testType: string;
    parameterSet: string;
    function: string;
    dk?: string;
  }
  interface Prompt {
    ek?: string;
    m?: string;
    dk?: string;
    c?: string;
  }
  interface Expected {
    c?: string;
    k?: string;
    testPassed?: boolean;
  }
  const prompt = readVectorJson('acvp/ML-KEM-encapDecap-FIPS203/prompt.json') as AcvpFile<
    Group,
    Prompt
  >;
  const expected = readVectorJson(
    'acvp/ML-KEM-encapDecap-FIPS203/expectedResults.json',
  ) as AcvpFile<unknown, Expected>;

  test('ML-KEM-768 groups', () => {
    expect([prompt.algorithm, prompt.mode, prompt.revision]).toEqual([
      'ML-KEM',
      'encapDecap',
      'FIPS203',
    ]);
    expect(expectCount('encapDecap groups', prompt.testGroups, 12)).toHaveLength(12);
    const mine = prompt.testGroups
      .filter((g) => g.parameterSet === PARAMETER_SET)
      .map((g) => [g.tgId, g.function]);
    expect(mine).toEqual([
      [2, 'encapsulation'],
      [5, 'decapsulation'],
      [9, 'decapsulationKeyCheck'],
      [10, 'encapsulationKeyCheck'],
    ]);
  });

  const encaps = joinAcvp(prompt, expected, 2, 25);
  test.each(encaps.cases.map((c) => [c.tcId, c] as const))('encapsulation tcId %i', (_, c) => {
    const { cipherText, sharedSecret } = kemEncapsulateDerandomized(
      hex(c.prompt.ek ?? ''),
      hex(c.prompt.m ?? ''),
    );
    expect(toHex(cipherText)).toBe(c.expected.c?.toLowerCase());
    expect(toHex(sharedSecret)).toBe(c.expected.k?.toLowerCase());
  });

  // Half of these ciphertexts are modified: k is then the implicit-rejection value J(z‖c).
  const decaps = joinAcvp(prompt, expected, 5, 10);
  test.each(decaps.cases.map((c) => [c.tcId, c] as const))('decapsulation tcId %i', (_, c) => {
    const dk = hex(c.prompt.dk ?? decaps.group.dk ?? '');
    expect(toHex(kemDecapsulate(dk, hex(c.prompt.c ?? '')))).toBe(c.expected.k?.toLowerCase());
  });

  const ekCheck = joinAcvp(prompt, expected, 10, 10);
  test.each(ekCheck.cases.map((c) => [c.tcId, c.expected.testPassed, c] as const))(
    'encapsulationKeyCheck tcId %i (testPassed %s)',
    (_, testPassed, c) => {
      expect(typeof testPassed).toBe('boolean');
      const ek = hex(c.prompt.ek ?? '');
      if (testPassed === true) {
        expect(() => assertPublicKey(ek)).not.toThrow();
      } else {
        expectCode(() => assertPublicKey(ek), 'invalid_public_key');
      }
    },
  );

  // The §7.3 check runs inside decapsulation, so each dk is tried with a ciphertext of valid length.
  const dkCheck = joinAcvp(prompt, expected, 9, 10);
  const anyCipherText = new Uint8Array(CIPHER_TEXT_BYTES);
  test.each(dkCheck.cases.map((c) => [c.tcId, c.expected.testPassed, c] as const))(
    'decapsulationKeyCheck tcId %i (testPassed %s)',
    (_, testPassed, c) => {
      expect(typeof testPassed).toBe('boolean');
      const dk = hex(c.prompt.dk ?? dkCheck.group.dk ?? '');
      if (testPassed === true) {
        expect(kemDecapsulate(dk, anyCipherText)).toHaveLength(32);
      } else {
        expectCode(() => kemDecapsulate(dk, anyCipherText), 'invalid_secret_key');
      }
    },
  );
});

// ---------------------------------------------------------------------------------------------
// C2SP CCTV
// ---------------------------------------------------------------------------------------------

/** Parses a CCTV `name = hex` file into its fields, requiring exactly `names`, each once. */
function readCctvFields<K extends string>(path: string, names: readonly K[]): Record<K, string> {
  const fields = new Map<string, string>();
  for (const line of readVectorText(path).split('\n')) {
    if (line.trim() === '') continue;
    const match = /^(\w+) = ([0-9a-f]+)$/.exec(line);
    if (match === null) throw new Error(`${path}: unexpected line ${line.slice(0, 40)}`);
    const [, name, value] = match as unknown as [string, string, string];
    if (fields.has(name)) throw new Error(`${path}: ${name} appears twice`);
    fields.set(name, value);
  }
  expect([...fields.keys()].sort()).toEqual([...names].sort());
  return Object.fromEntries(fields) as Record<K, string>;
}

describe('CCTV modulus/ML-KEM-768 (§7.2 modulus check)', () => {
  const lines = readVectorText('cctv/modulus/ML-KEM-768.txt.gz')
    .split('\n')
    .filter((line) => line !== '');
  const keys = expectCount('cctv modulus ML-KEM-768', lines, 780);

  // Every line holds one coefficient in [q, 4095]: every key is invalid.
  test.each(keys.map((line, i) => [i + 1, line] as const))('line %i is rejected', (_, line) => {
    const ek = hex(line);
    expect(ek).toHaveLength(1184);
    expectCode(() => assertPublicKey(ek), 'invalid_public_key');
    expectCode(() => kemEncapsulate(ek), 'invalid_public_key');
  });
});

describe('CCTV strcmp/ML-KEM-768', () => {
  test('Decaps does not stop comparing at a zero byte', () => {
    const v = readCctvFields('cctv/strcmp/ML-KEM-768.txt', ['dk', 'c', 'K']);
    expect(toHex(kemDecapsulate(hex(v.dk), hex(v.c)))).toBe(v.K);
  });
});

describe('CCTV unluckysample/ML-KEM-768 (FIPS 203 final)', () => {
  test('SampleNTT reads past 575 bytes: keygen, encaps, decaps', () => {
    const v = readCctvFields('cctv/unluckysample/ML-KEM-768.txt', [
      'd',
      'z',
      'ek',
      'dk',
      'm',
      'K',
      'c',
    ]);
    const { publicKey, secretKey } = kemKeygen(hex(v.d + v.z));
    expect(toHex(publicKey)).toBe(v.ek);
    expect(toHex(secretKey)).toBe(v.dk);
    const { cipherText, sharedSecret } = kemEncapsulateDerandomized(publicKey, hex(v.m));
    expect(toHex(cipherText)).toBe(v.c);
    expect(toHex(sharedSecret)).toBe(v.K);
    expect(toHex(kemDecapsulate(secretKey, cipherText))).toBe(v.K);
  });
});
