/**
 * The KEM backend suite (test/helpers/kem-backend-suite.ts) in Node: Wycheproof, ACVP and protocol
 * vectors through noble and, where this Node has ML-KEM in `node:crypto` (≥ 24.7), through it too.
 * The browser suite runs the same body through noble and WebCrypto.
 */
import { expect, test } from 'vitest';
import { type Kem, loadKem, nobleKem } from '../src/backends/kem-backend.js';
import {
  KEM_VECTOR_PATHS,
  type KemVectorFiles,
  kemBackendSuite,
} from './helpers/kem-backend-suite.js';
import { nodeHasNativeKem } from './helpers/runtime.js';
import { readVectorJson } from './helpers/vectors.js';

const files = Object.fromEntries(
  Object.entries(KEM_VECTOR_PATHS).map(([key, path]) => [key, readVectorJson(path)]),
) as unknown as KemVectorFiles;
const auto = await loadKem('auto');
const backends: readonly Kem[] = auto === nobleKem ? [nobleKem] : [nobleKem, auto];

test('every backend this Node offers is under test', () => {
  expect(backends.map((b) => b.backend)).toEqual(
    nodeHasNativeKem() ? ['noble', 'node'] : ['noble'],
  );
});

kemBackendSuite(files, backends);
