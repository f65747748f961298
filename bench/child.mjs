/**
 * Runs one section of the benchmark in this (fresh) process and prints its results as
 * `BENCH_RESULT {json}` lines: `node bench/child.mjs SECTION '{"mode":"full",…}'`.
 * Started by `bench/run.mjs`, under this Node or another one (Node 24 for the native backends).
 *
 * Exit status: 0 with results; 1 when the section crashed or a handshake failed (the error is the
 * last `BENCH_RESULT` line, `{ "error": … }`).
 */
import { PROFILES, emit, machine, runtimeName } from './lib.mjs';

const SECTIONS = {
  handshake: () => import('./sections/handshake.mjs'),
  http: () => import('./sections/http.mjs'),
  records: () => import('./sections/records.mjs'),
  memory: () => import('./sections/memory.mjs'),
  coldstart: () => import('./sections/coldstart.mjs'),
  xwing: () => import('./sections/xwing.mjs'),
  identity: () => import('./sections/identity.mjs'),
  shared: () => import('./sections/shared.mjs'),
};

const [section, json = '{}'] = process.argv.slice(2);
const options = JSON.parse(json);
const timing = PROFILES[options.mode ?? 'full'];

try {
  if (!Object.hasOwn(SECTIONS, section))
    throw new TypeError(`unknown section ${section}; known: ${Object.keys(SECTIONS).join(', ')}`);
  const { run } = await SECTIONS[section]();
  const rows = await run({ ...options, timing, smoke: options.mode === 'smoke' });
  const context = { runtime: runtimeName(), cpu: machine().cpu };
  for (const row of rows) emit({ ...context, ...row });
  emit({ done: section });
} catch (error) {
  emit({
    error: {
      section,
      name: error?.name,
      code: error?.code,
      message: error?.message ?? String(error),
      stack: error?.stack,
    },
  });
  process.exitCode = 1;
}
