// @ts-check
/**
 * Mutation testing of the protocol core, the trust decision and the responder's request checks:
 * `npm run mutation` (docs/testing.md: how to read the report, the score per file, the mutants
 * counted as equivalent). Incremental: a rerun tests only the mutants whose code or tests changed
 * since the last run (reports/stryker-incremental.json). One file: `npm run mutation -- --mutate
 * src/core/replay-window.ts`.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
const config = {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  // related: false — the include list of the config is the test set; finding the files related to
  // a mutant through the import graph costs more than running them.
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/core/encoding.ts',
    'src/core/fingerprint.ts',
    'src/core/identifiers.ts',
    'src/core/transcript.ts',
    'src/core/confirmation.ts',
    'src/core/record-format.ts',
    'src/core/record-channel.ts',
    'src/core/replay-window.ts',
    'src/core/sealing.ts',
    'src/core/modeb.ts',
    'src/core/document.ts',
    'src/core/attestation.ts',
    'src/core/xwing.ts',
    'src/core/origin.ts',
    'src/initiator/trust.ts',
    'src/initiator/client.ts',
    'src/responder/admission.ts',
    'src/responder/cors.ts',
    'src/responder/http.ts',
    'src/responder/router.ts',
    'src/responder/request-body.ts',
  ],
  // Two cores, shared.
  concurrency: 1,
  // Module-level mutants (a label, a pattern, a frozen table) run the whole suite each; they are
  // reported as ignored, and counted apart in docs/testing.md.
  ignoreStatic: true,
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'html', 'json', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  // Not copied into the sandbox: local caches and outputs (runtimes, Valkey, bench results,
  // `dist/`), which the mutated tests never read and which may hold links outside the tree.
  ignorePatterns: ['.tmp', 'dist', 'coverage', 'examples/**/node_modules'],
  timeoutMS: 30_000,
  thresholds: { high: 95, low: 90, break: null },
  cleanTempDir: 'always',
};

export default config;
