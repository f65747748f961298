/**
 * Fixes fast-check's seed for the mutation runs (vitest.mutation.config.ts). `@fast-check/vitest`
 * names each property test after its seed; with a random seed the names differ between Stryker's
 * coverage run and its mutant runs, and its per-test filter then matches no test at all.
 * `ZEQ_FC_SEED` picks another seed. It imports `fast-check` itself (whose global configuration
 * `@fast-check/vitest` reads): `@fast-check/vitest` would cost seconds per test file.
 */
import fc from 'fast-check';

const seed = Number(process.env['ZEQ_FC_SEED'] ?? '20260418');
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
