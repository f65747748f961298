/**
 * The Node suite as `npm run mutation` runs it (stryker.config.mjs).
 *
 * - Without the tests that spawn the built CLI (a child process never loads the mutated module, so
 *   they can only be slow, never kill a mutant) and the 10 000-case accumulated CCTV run (minutes
 *   per mutant, over the KEM backends, which are not mutated); hence no global setup (the build).
 * - Test files share one module graph (`isolate: false`): Stryker runs the tests that cover each
 *   mutant, and importing the SDK afresh for each of their files would cost more than the tests.
 *   The files that replace modules with `vi.mock` run isolated, in a project of their own.
 * - The fast-check seed is fixed (test/helpers/mutation-seed.ts): `@fast-check/vitest` writes the
 *   seed into each property test's name, and Stryker finds the tests of a mutant by their names.
 */
import { type ViteUserConfig, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/** The files that `vi.mock` a module of the SDK. */
const MOCKING = [
  'test/bundle-budget.test.ts',
  'test/client-wipe.test.ts',
  'test/record-channel.mutants.test.ts',
  'test/records-async.test.ts',
  'test/responder-key-cache.test.ts',
];

const EXCLUDE = [
  'test/browser/**',
  'node_modules/**',
  'test/cli-process.test.ts',
  'test/client-serve-process.test.ts',
  'test/modeb-cli.test.ts',
  'test/cctv-accumulated.test.ts',
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
          include: ['test/**/*.test.ts'],
          exclude: [...EXCLUDE, ...MOCKING],
          isolate: false,
        },
      },
    ],
  },
});

export default config;
