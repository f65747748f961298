/**
 * The suite as `npm run mutation` runs it (stryker.config.mjs): the unit-level test files of the
 * mutated modules, without the end-to-end ones.
 *
 * - Stryker runs, for each mutant, every test file holding a test that covers it, and loading a
 *   file costs more than its tests: the end-to-end files (the responder over HTTP, the Node server,
 *   the CLI, floods, fuzzing) cover most mutants and would make a run take hours on two cores.
 *   Left out, they can only leave more mutants alive, so the scores are lower bounds. The tests
 *   that spawn the built CLI could not kill one anyway (a child process never loads the mutant).
 * - Test files share one module graph (`isolate: false`); the files that replace modules with
 *   `vi.mock` run isolated, in a project of their own.
 * - The fast-check seed is fixed (test/helpers/mutation-seed.ts): `@fast-check/vitest` writes the
 *   seed into each property test's name, and Stryker finds the tests of a mutant by their names.
 */
import { type ViteUserConfig, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/** The unit-level files that `vi.mock` a module of the SDK. */
const MOCKING = [
  'test/client-wipe.test.ts',
  'test/encoding-decode.mutants.test.ts',
  'test/modeb-wipe.mutants.test.ts',
  'test/record-channel-async.mutants.test.ts',
  'test/record-channel.mutants.test.ts',
  'test/records-async.test.ts',
  'test/xwing-wipe.mutants.test.ts',
];

/** The unit-level files of the mutated modules, and the mutation tests. */
const UNIT = [
  'test/*.mutants.test.ts',
  'test/attestation-vectors.test.ts',
  'test/client-fetch.test.ts',
  'test/client-transport.test.ts',
  'test/client-trust.test.ts',
  'test/errors.test.ts',
  'test/hot-paths.test.ts',
  'test/identity-client.test.ts',
  'test/modeb-core.test.ts',
  'test/modeb-properties.test.ts',
  'test/properties-encoding.test.ts',
  'test/properties-parsers.test.ts',
  'test/properties-pins.test.ts',
  'test/properties-tamper.test.ts',
  'test/protocol-vectors.test.ts',
  'test/records-oracle.test.ts',
  'test/records-properties.test.ts',
  'test/records-ratchet.test.ts',
  'test/records-vectors.test.ts',
  'test/responder-admission.test.ts',
  'test/xwing-backends.test.ts',
];

const config: ViteUserConfig = defineConfig({
  plugins: base.plugins ?? [],
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    setupFiles: ['test/helpers/mutation-seed.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'isolated', include: MOCKING, isolate: true },
      },
      {
        extends: true,
        test: {
          name: 'shared',
          include: UNIT,
          exclude: MOCKING,
          isolate: false,
        },
      },
    ],
  },
});

export default config;
