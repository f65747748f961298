/**
 * Loads a Wycheproof file from `test/vectors/wycheproof/` and flattens its groups, refusing a file
 * whose declared `numberOfTests` or actual case count differs from the count the copy was taken
 * with (see `test/vectors/README.md`).
 */
import { expectCount, readVectorJson } from './vectors.js';

/** The fields every Wycheproof test case has. */
export interface WycheproofCase {
  tcId: number;
  comment?: string;
  flags?: string[];
  result: 'valid' | 'invalid' | 'acceptable';
}

/** A Wycheproof test group: its own parameters plus its cases. */
export type WycheproofGroup<G, T extends WycheproofCase> = G & { type: string; tests: T[] };

interface WycheproofFile<G, T extends WycheproofCase> {
  algorithm: string;
  numberOfTests: number;
  testGroups: WycheproofGroup<G, T>[];
}

/** One case with the group it belongs to. */
export interface GroupedCase<G, T extends WycheproofCase> {
  group: WycheproofGroup<G, T>;
  test: T;
}

/**
 * Reads `wycheproof/<name>.json` and returns every case with its group.
 * @param name - the file name without `.json`.
 * @param expected - the total number of cases the copy holds.
 */
export function readWycheproof<G, T extends WycheproofCase>(
  name: string,
  expected: number,
): readonly GroupedCase<G, T>[] {
  const file = readVectorJson(`wycheproof/${name}.json`) as WycheproofFile<G, T>;
  if (file.numberOfTests !== expected) {
    throw new Error(`${name}: numberOfTests is ${file.numberOfTests}, expected ${expected}`);
  }
  const cases = file.testGroups.flatMap((group) => group.tests.map((test) => ({ group, test })));
  return expectCount(name, cases, expected);
}

/** Counts cases by `result`, to pin the valid/invalid split of a selection. */
export function countResults(
  cases: readonly { test: WycheproofCase }[],
): Record<WycheproofCase['result'], number> {
  const counts = { valid: 0, invalid: 0, acceptable: 0 };
  for (const { test } of cases) counts[test.result]++;
  return counts;
}

/** A short label for a case: its `tcId` and comment. */
export function label(test: WycheproofCase): string {
  return `tcId ${test.tcId}${test.comment ? `: ${test.comment}` : ''}`;
}

/** Group fields of `aes_gcm_test`. */
export interface AesGcmGroup {
  keySize: number;
  ivSize: number;
  tagSize: number;
}

/** A case of `aes_gcm_test`. */
export interface AesGcmCase extends WycheproofCase {
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
}

/** Every case of `aes_gcm_test` (316, count-checked). */
export function readAesGcm(): readonly GroupedCase<AesGcmGroup, AesGcmCase>[] {
  return readWycheproof<AesGcmGroup, AesGcmCase>('aes_gcm_test', 316);
}

/** The cases the SDK's AEAD takes: AES-256 with a 96-bit nonce (66, count-checked). */
export function aesGcm256Cases(
  all: readonly GroupedCase<AesGcmGroup, AesGcmCase>[] = readAesGcm(),
): readonly GroupedCase<AesGcmGroup, AesGcmCase>[] {
  const selected = all.filter(({ group }) => group.keySize === 256 && group.ivSize === 96);
  if (selected.length !== 66)
    throw new Error(`aes_gcm 256/96: expected 66 cases, found ${selected.length}`);
  return selected;
}
