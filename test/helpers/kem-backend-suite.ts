/**
 * The KEM backend suite, one body for Node (`test/kem-backends.test.ts`: noble, and `node:crypto`
 * where Node has ML-KEM) and Chromium (`test/browser/kem-backends.test.ts`: noble and WebCrypto).
 * It runs the public ML-KEM-768 vectors and the protocol vectors through every backend given,
 * through the backend interface (`src/kem-backend.ts`) that the client, the responder and Mode-B
 * use. Nothing here imports `node:*`: the caller loads the vector files its own way.
 *
 * What a native backend cannot be asked: fixed encapsulation randomness (the known-answer seam is
 * noble's, `kem.ts`, checked by test/kem-vectors.test.ts) and expanded decapsulation keys (native
 * APIs import the 64-byte seed). So for every backend: keygen from the seed against the vectors'
 * public keys, decapsulation of the vectors' ciphertexts (implicit rejection included), refusal of
 * invalid public keys, seeds and ciphertexts with the SDK's codes, and encapsulations that the
 * other backends decapsulate to the same secret.
 */
import { describe, expect, test } from 'vitest';
import { ALG } from '../../src/core/constants.js';
import { base64Decode } from '../../src/core/encoding.js';
import type { ErrorCode } from '../../src/core/errors.js';
import type { Kem } from '../../src/backends/kem-backend.js';
import { deriveModeBSeedAsResponder } from '../../src/core/modeb.js';
import { deriveModeBSeedAsInitiatorDerandomized } from '../../src/internal/testing.js';
import { computeFingerprint } from '../../src/core/fingerprint.js';
import { randomBytes } from '../../src/core/primitives.js';
import { expectCodeAsync } from './errors.js';
import { expectCount, hex, protocolCases, toHex } from './vector-data.js';

interface WycheproofCase {
  tcId: number;
  comment?: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
/** A Wycheproof file as published (only the fields used here). */
export interface WycheproofFile<T extends WycheproofCase> {
  numberOfTests: number;
  testGroups: { parameterSet?: string; tests: T[] }[];
}
interface AcvpFile<T> {
  testGroups: {
    tgId: number;
    parameterSet?: string;
    function?: string;
    tests: (T & { tcId: number })[];
  }[];
}

/** The vector files the suite needs, parsed; the caller reads them (file system or fetch). */
export interface KemVectorFiles {
  /** `wycheproof/mlkem_768_test.json` */
  mlkemTest: unknown;
  /** `wycheproof/mlkem_768_encaps_test.json` */
  encapsTest: unknown;
  /** `wycheproof/mlkem_768_keygen_seed_test.json` */
  keygenSeedTest: unknown;
  /** `acvp/ML-KEM-keyGen-FIPS203/prompt.json` and `expectedResults.json` */
  acvpKeyGenPrompt: unknown;
  acvpKeyGenExpected: unknown;
  /** `acvp/ML-KEM-encapDecap-FIPS203/prompt.json` and `expectedResults.json` */
  acvpEncapDecapPrompt: unknown;
  acvpEncapDecapExpected: unknown;
}

/** The relative paths under `test/vectors/` of {@link KemVectorFiles}, for loaders. */
export const KEM_VECTOR_PATHS: Readonly<Record<keyof KemVectorFiles, string>> = {
  mlkemTest: 'wycheproof/mlkem_768_test.json',
  encapsTest: 'wycheproof/mlkem_768_encaps_test.json',
  keygenSeedTest: 'wycheproof/mlkem_768_keygen_seed_test.json',
  acvpKeyGenPrompt: 'acvp/ML-KEM-keyGen-FIPS203/prompt.json',
  acvpKeyGenExpected: 'acvp/ML-KEM-keyGen-FIPS203/expectedResults.json',
  acvpEncapDecapPrompt: 'acvp/ML-KEM-encapDecap-FIPS203/prompt.json',
  acvpEncapDecapExpected: 'acvp/ML-KEM-encapDecap-FIPS203/expectedResults.json',
};

function wycheproof<T extends WycheproofCase>(
  name: string,
  parsed: WycheproofFile<T>,
  expected: number,
): readonly T[] {
  if (parsed.numberOfTests !== expected)
    throw new Error(`${name}: numberOfTests is ${parsed.numberOfTests}, expected ${expected}`);
  if (!parsed.testGroups.every((g) => g.parameterSet === ALG))
    throw new Error(`${name}: a group is not ${ALG}`);
  return expectCount(
    name,
    parsed.testGroups.flatMap((g) => g.tests),
    expected,
  );
}

/** Joins an ACVP prompt group with its expected results on tcId. */
function acvp<P, E>(
  prompt: AcvpFile<P>,
  expected: AcvpFile<E>,
  tgId: number,
  count: number,
): readonly { tcId: number; prompt: P; expected: E }[] {
  const group = prompt.testGroups.find((g) => g.tgId === tgId);
  const results = expected.testGroups.find((g) => g.tgId === tgId);
  if (group === undefined || results === undefined || group.parameterSet !== ALG)
    throw new Error(`ACVP tgId ${tgId} is missing or not ${ALG}`);
  const byId = new Map(results.tests.map((t) => [t.tcId, t]));
  const cases = group.tests.map((t) => {
    const e = byId.get(t.tcId);
    if (e === undefined) throw new Error(`ACVP tgId ${tgId} tcId ${t.tcId} has no expected result`);
    return { tcId: t.tcId, prompt: t, expected: e };
  });
  return expectCount(`ACVP tgId ${tgId}`, cases, count);
}

const label = (t: WycheproofCase): string => `tcId ${t.tcId}${t.comment ? `: ${t.comment}` : ''}`;

/**
 * Defines the suite for each backend.
 * @param files - the parsed vector files.
 * @param backends - every backend this runtime offers (noble first).
 */
export function kemBackendSuite(files: KemVectorFiles, backends: readonly Kem[]): void {
  const mlkem = wycheproof(
    'mlkem_768_test',
    files.mlkemTest as WycheproofFile<
      WycheproofCase & { seed: string; ek?: string; c: string; K: string }
    >,
    193,
  );
  const encaps = wycheproof(
    'mlkem_768_encaps_test',
    files.encapsTest as WycheproofFile<WycheproofCase & { ek: string; c: string }>,
    265,
  );
  const keygen = wycheproof(
    'mlkem_768_keygen_seed_test',
    files.keygenSeedTest as WycheproofFile<WycheproofCase & { seed: string; ek: string }>,
    100,
  );
  const acvpKeyGen = acvp(
    files.acvpKeyGenPrompt as AcvpFile<{ d: string; z: string }>,
    files.acvpKeyGenExpected as AcvpFile<{ ek: string }>,
    2,
    25,
  );
  const acvpEkCheck = acvp(
    files.acvpEncapDecapPrompt as AcvpFile<{ ek: string }>,
    files.acvpEncapDecapExpected as AcvpFile<{ testPassed: boolean }>,
    10,
    10,
  );
  const acvpEncaps = acvp(
    files.acvpEncapDecapPrompt as AcvpFile<{ ek: string }>,
    files.acvpEncapDecapExpected as AcvpFile<{ c: string }>,
    2,
    25,
  );

  describe.each(backends.map((kem) => [kem.backend, kem] as const))(
    'the %s backend',
    (name, kem) => {
      describe('Wycheproof mlkem_768_test (KeyGen from seed, then Decaps)', () => {
        test.each(mlkem.map((t) => [label(t), t] as const))('%s', async (_, t) => {
          const seed = hex(t.seed);
          if (t.result === 'valid') {
            expect(toHex(await kem.publicKey(seed))).toBe(t.ek);
            // Random and bit-flipped ciphertexts: implicit rejection, a value and never a throw.
            expect(toHex(await kem.decapsulate(seed, hex(t.c)))).toBe(t.K);
            return;
          }
          expect(t.result).toBe('invalid');
          if (seed.length !== 64) {
            await expectCodeAsync(kem.publicKey(seed), 'invalid_secret_key');
            await expectCodeAsync(kem.importSecretKey(seed), 'invalid_secret_key');
            return;
          }
          if (t.ek !== undefined) expect(toHex(await kem.publicKey(seed))).toBe(t.ek);
          await expectCodeAsync(kem.decapsulate(seed, hex(t.c)), 'invalid_cipher_text');
        });
      });

      describe('Wycheproof mlkem_768_encaps_test (valid keys accepted, invalid ones refused)', () => {
        test.each(encaps.map((t) => [label(t), t] as const))('%s', async (_, t) => {
          const ek = hex(t.ek);
          if (t.result === 'valid') {
            const { cipherText, sharedSecret } = await kem.encapsulate(ek);
            expect([cipherText.length, sharedSecret.length]).toEqual([hex(t.c).length, 32]);
            return;
          }
          await expectCodeAsync(kem.encapsulate(ek), 'invalid_public_key');
        });
      });

      describe('Wycheproof mlkem_768_keygen_seed_test', () => {
        test.each(keygen.map((t) => [label(t), t] as const))('%s', async (_, t) => {
          expect(toHex(await kem.publicKey(hex(t.seed)))).toBe(t.ek);
        });
      });

      describe('ACVP ML-KEM-768', () => {
        test.each(acvpKeyGen.map((c) => [c.tcId, c] as const))(
          'keyGen tgId 2 tcId %i',
          async (_, c) => {
            expect(toHex(await kem.publicKey(hex(c.prompt.d + c.prompt.z)))).toBe(
              c.expected.ek.toLowerCase(),
            );
          },
        );
        test.each(acvpEkCheck.map((c) => [c.tcId, c.expected.testPassed, c] as const))(
          'encapsulationKeyCheck tcId %i (testPassed %s)',
          async (_, passed, c) => {
            const attempt = kem.encapsulate(hex(c.prompt.ek));
            if (passed) expect((await attempt).cipherText).toHaveLength(1088);
            else await expectCodeAsync(attempt, 'invalid_public_key');
          },
        );
        test.each(acvpEncaps.map((c) => [c.tcId, c] as const))(
          'encapsulation tgId 2 tcId %i: the key is accepted',
          async (_, c) => {
            expect((await kem.encapsulate(hex(c.prompt.ek))).cipherText).toHaveLength(
              hex(c.expected.c).length,
            );
          },
        );
      });

      describe('protocol vectors', () => {
        test.each(protocolCases.keyex.map((c, i) => [i, c] as const))(
          'keyex %i: public key, fingerprint and shared secret from the seed',
          async (_, c) => {
            const seed = hex(c.keygen_seed);
            const publicKey = await kem.publicKey(seed);
            expect(toHex(publicKey)).toBe(toHex(base64Decode(c.public_key_b64, 1184)));
            expect(computeFingerprint(publicKey)).toBe(c.fingerprint);
            const key = await kem.importSecretKey(seed);
            expect(key.backend).toBe(name);
            expect(toHex(await key.decapsulate(base64Decode(c.cipher_text_b64, 1088)))).toBe(
              c.shared_secret,
            );
            key.dispose();
          },
        );

        test.each(protocolCases.modeB.map((c, i) => [i, c] as const))(
          'mode_b %i: the responder side derives the vector seed',
          async (_, c) => {
            const derived = await deriveModeBSeedAsResponder({
              secretKey: hex(c.responder_keygen_seed),
              publicKey: base64Decode(c.responder_public_key_b64, 1184),
              localMachineId: c.responder_machine_id,
              peerMachineId: c.initiator_machine_id,
              cipherText: base64Decode(c.cipher_text_b64, 1088),
              kem: name === 'noble' ? 'noble' : 'native',
            });
            expect(derived.kemBackend).toBe(name);
            expect(toHex(derived.seed)).toBe(c.seed);
            expect(derived.seedCommitment).toBe(c.seed_commitment);
          },
        );

        test('mode_b: a derandomized initiation (noble) answered by this backend', async () => {
          const c = protocolCases.modeB[0];
          if (c === undefined) throw new Error('no mode_b case');
          const publicKey = base64Decode(c.responder_public_key_b64, 1184);
          const peer = {
            alg: ALG,
            publicKey,
            fingerprint: c.responder_fingerprint,
            machineId: c.responder_machine_id,
          };
          const initiation = await deriveModeBSeedAsInitiatorDerandomized(
            {
              peer,
              localMachineId: c.initiator_machine_id,
              expectedFingerprint: c.responder_fingerprint,
            },
            hex(c.encaps_m),
          );
          const key = await kem.importSecretKey(hex(c.responder_keygen_seed));
          expect(toHex(await key.decapsulate(initiation.cipherText))).toBe(c.shared_secret);
          key.dispose();
        });
      });

      describe('agrees with every other backend', () => {
        test.each(backends.map((other) => [other.backend, other] as const))(
          '%s encapsulates, this backend decapsulates, and back',
          async (_, other) => {
            for (let i = 0; i < 3; i++) {
              const seed = randomBytes(64);
              const mine = await kem.importSecretKey(seed);
              const theirs = await other.importSecretKey(seed);
              expect(toHex(mine.publicKey)).toBe(toHex(theirs.publicKey));
              const toMe = await other.encapsulate(mine.publicKey);
              expect(toHex(await mine.decapsulate(toMe.cipherText))).toBe(toHex(toMe.sharedSecret));
              const toThem = await kem.encapsulate(theirs.publicKey);
              expect(toHex(await theirs.decapsulate(toThem.cipherText))).toBe(
                toHex(toThem.sharedSecret),
              );
              // Implicit rejection of a modified ciphertext: the same pseudo-random secret on both.
              toMe.cipherText[7] = (toMe.cipherText[7] as number) ^ 0x80;
              expect(toHex(await mine.decapsulate(toMe.cipherText))).toBe(
                toHex(await theirs.decapsulate(toMe.cipherText)),
              );
              mine.dispose();
              theirs.dispose();
            }
          },
        );
      });

      describe('inputs and errors', () => {
        const cases: readonly [string, () => Promise<unknown>, ErrorCode][] = [
          ['a 63-byte seed', () => kem.importSecretKey(new Uint8Array(63)), 'invalid_secret_key'],
          [
            'a seed that is not bytes',
            () => kem.publicKey('seed' as unknown as Uint8Array),
            'invalid_secret_key',
          ],
          [
            'a 1183-byte public key',
            () => kem.encapsulate(new Uint8Array(1183)),
            'invalid_public_key',
          ],
          [
            'a public key of 0xff bytes (§7.2)',
            () => kem.encapsulate(new Uint8Array(1184).fill(0xff)),
            'invalid_public_key',
          ],
          [
            'a 1089-byte ciphertext',
            () => kem.decapsulate(new Uint8Array(64), new Uint8Array(1089)),
            'invalid_cipher_text',
          ],
        ];
        test.each(cases)('%s is refused', async (_, attempt, code) => {
          await expectCodeAsync(attempt(), code);
        });

        test('a disposed key decapsulates no more; inputs are not modified', async () => {
          const seed = randomBytes(64);
          const seedBefore = toHex(seed);
          const key = await kem.importSecretKey(seed);
          expect(toHex(seed)).toBe(seedBefore);
          const { cipherText, sharedSecret } = await kem.encapsulate(key.publicKey);
          const cipherTextBefore = toHex(cipherText);
          expect(toHex(await key.decapsulate(cipherText))).toBe(toHex(sharedSecret));
          expect(toHex(await key.decapsulate(cipherText))).toBe(toHex(sharedSecret));
          expect(toHex(cipherText)).toBe(cipherTextBefore);
          key.dispose();
          await expectCodeAsync(key.decapsulate(cipherText), 'invalid_secret_key');
        });
      });
    },
  );
}
