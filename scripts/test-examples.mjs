#!/usr/bin/env node
/**
 * `npm run test:examples`: every app of `examples/`, run against the packed package.
 *
 * Steps: `npm run build` and `npm pack` once, into `.tmp/examples/`; then for each example a
 * scratch copy in `.tmp/examples/<name>/` whose `zeq-keyex` dependency is the tarball, installed
 * with its own pinned dependencies from the npm registry (`npm install`; nothing enters this
 * project's dependencies), and its `npm run check`, which exits 0 only when a pinned handshake and
 * an encrypted record round trip succeeded. Installs run three at a time (they wait on the
 * network); checks run one at a time (they wait on the CPU).
 *
 * An example names the runtimes it needs in its package.json (`"zeqExample": { "needs": [...] }`:
 * `deno`, `bun`, `workerd`, `chromium`). Deno, Bun and workerd come from the cache of
 * `npm run test:runtimes` (`.tmp/runtimes/`, same pinned versions; fetched here the same way when
 * absent), Chromium is Debian's (`/usr/bin/chromium`, or `ZEQ_CHROMIUM`). The check gets their
 * paths as `ZEQ_DENO`, `ZEQ_BUN`, `ZEQ_WORKERD` and `ZEQ_CHROMIUM`. An example whose runtime
 * cannot be had here is reported SKIPPED with the reason, never passed.
 *
 * Prints a table; exits 1 on any failure (and on any skip with `--strict`). Options:
 * `--only=express,hono`, `--strict`, `--keep` (keep the scratch copies), `--no-build` (pack the
 * `dist/` that is there). Every child runs in its own process group with a time limit and is killed
 * on timeout, on failure and when this script is interrupted.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { RUNTIME_PACKAGES, cachedRuntime, fetchRuntime } from './runtime-cache.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = path.join(ROOT, 'examples');
const TMP = path.join(ROOT, '.tmp');
const SCRATCH = path.join(TMP, 'examples');

const TIMEOUTS = {
  build: 180_000,
  pack: 120_000,
  install: 240_000,
  download: 300_000,
  check: 150_000,
};
const INSTALL_CONCURRENCY = 3;

// ---------------------------------------------------------------------------------------------
// Child processes: bounded in time, killed with their whole process group.

/** @type {Set<import('node:child_process').ChildProcess>} */
const live = new Set();

function killGroup(child) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
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

/**
 * The environment of every child: this one without what `npm run` adds about this project (the
 * examples are other projects) and without `NODE_OPTIONS`.
 */
function childEnv(extra = {}) {
  const env = { ...process.env, NO_COLOR: '1', ...extra };
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

const OUTPUT_LIMIT = 4 * 1024 * 1024;

/** Runs a command in its own process group; resolves to `{ code, signal, output, timedOut, error, ms }`. */
function run(cmd, args, { cwd = ROOT, env = childEnv(), timeoutMs }) {
  const started = performance.now();
  let output = '';
  let timedOut = false;
  let child;
  try {
    child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    return Promise.resolve({ code: null, signal: null, output, timedOut, error, ms: 0 });
  }
  live.add(child);
  const collect = (d) => {
    if (output.length < OUTPUT_LIMIT) output += d;
  };
  child.stdout.setEncoding('utf8').on('data', collect);
  child.stderr.setEncoding('utf8').on('data', collect);
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, timeoutMs);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      live.delete(child);
      // A child that exited may have left processes of its own (servers) in the group.
      killGroup(child);
      resolve({ output, timedOut, ms: performance.now() - started, ...result });
    };
    child.on('error', (error) => settle({ code: null, signal: null, error }));
    child.on('close', (code, signal) => settle({ code, signal, error: undefined }));
  });
}

/** One line (and the output's tail) saying why a finished command failed, or `undefined`. */
function failure(result, what) {
  if (result.error) return `${what}: ${result.error.message}`;
  const tail = indent(result.output.trimEnd().split('\n').slice(-12).join('\n'));
  if (result.timedOut)
    return `${what}: timed out after ${seconds(result.ms)} (killed)${tail.trim() ? `\n${tail}` : ''}`;
  if (result.code !== 0)
    return `${what}: exit ${result.code ?? result.signal}${tail.trim() ? `\n${tail}` : ''}`;
  return undefined;
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
// Setup: the tarball and the runtimes.

class SetupError extends Error {}

async function buildAndPack(build) {
  if (build) {
    const problem = failure(
      await run('npm', ['run', 'build'], { timeoutMs: TIMEOUTS.build }),
      'npm run build',
    );
    if (problem) throw new SetupError(problem);
  } else if (!existsSync(path.join(ROOT, 'dist', 'index.js'))) {
    throw new SetupError('--no-build: there is no dist/ to pack');
  }
  await fs.mkdir(SCRATCH, { recursive: true });
  const pack = await run('npm', ['pack', '--json', '--pack-destination', SCRATCH], {
    timeoutMs: TIMEOUTS.pack,
  });
  const problem = failure(pack, 'npm pack');
  if (problem) throw new SetupError(problem);
  // npm may print lifecycle lines before the JSON: read from the first `[`.
  const [info] = JSON.parse(pack.output.slice(pack.output.indexOf('[')));
  return path.join(SCRATCH, info.filename);
}

/** @returns `{ path }` or `{ skip: reason }`. */
async function runtime(name) {
  if (name === 'chromium') {
    const chromium = process.env.ZEQ_CHROMIUM ?? '/usr/bin/chromium';
    return existsSync(chromium)
      ? { path: chromium }
      : { skip: `${chromium} is missing (scripts/ensure-chromium.sh installs it)` };
  }
  const spec = RUNTIME_PACKAGES[name];
  if (spec === undefined) return { skip: `unknown runtime ${name}` };
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return { skip: `runtime packages are fetched for linux-x64 only` };
  const { binary } = cachedRuntime(name);
  if (existsSync(binary)) return { path: binary };
  // Not cached: fetched as test-runtimes does.
  const problem = await fetchRuntime(name, { timeoutMs: TIMEOUTS.download });
  return problem === undefined ? { path: binary } : { skip: problem };
}

// ---------------------------------------------------------------------------------------------
// Examples.

async function listExamples(only) {
  const names = [];
  for (const entry of await fs.readdir(EXAMPLES, { withFileTypes: true })) {
    if (entry.isDirectory() && existsSync(path.join(EXAMPLES, entry.name, 'package.json')))
      names.push(entry.name);
  }
  names.sort();
  if (only === undefined) return names;
  const unknown = only.filter((n) => !names.includes(n));
  if (unknown.length > 0)
    throw new TypeError(`unknown example ${unknown.join(', ')}; known: ${names.join(', ')}`);
  return only;
}

/** Copies an example into the scratch directory, on the tarball, and installs it. */
async function install(name, tarball) {
  const dir = path.join(SCRATCH, name);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.cp(path.join(EXAMPLES, name), dir, {
    recursive: true,
    filter: (source) => !/[\\/](node_modules|dist)$/.test(source),
  });
  const manifestFile = path.join(dir, 'package.json');
  const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8'));
  if (manifest.dependencies?.['zeq-keyex'] === undefined)
    return { dir, manifest, problem: 'package.json has no dependency on zeq-keyex' };
  manifest.dependencies['zeq-keyex'] = `file:${tarball}`;
  await fs.writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  const result = await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'],
    { cwd: dir, timeoutMs: TIMEOUTS.install },
  );
  return { dir, manifest, problem: failure(result, 'npm install'), ms: result.ms };
}

async function check(name, installed) {
  /** @type {{ example: string, status: string, install: string, check: string, problems: string[] }} */
  const row = {
    example: name,
    status: 'FAIL',
    install: installed.ms === undefined ? '-' : seconds(installed.ms),
    check: '-',
    problems: [],
  };
  if (installed.problem) {
    row.problems.push(installed.problem);
    return row;
  }
  const env = {};
  for (const need of installed.manifest.zeqExample?.needs ?? []) {
    const rt = await runtime(need);
    if (rt.skip !== undefined) {
      row.status = 'SKIPPED';
      row.problems.push(`needs ${need}: ${rt.skip}`);
      return row;
    }
    env[`ZEQ_${need.toUpperCase()}`] = rt.path;
    if (need === 'deno') env.DENO_NO_UPDATE_CHECK = '1';
  }
  const result = await run('npm', ['run', '--silent', 'check'], {
    cwd: installed.dir,
    env: childEnv(env),
    timeoutMs: TIMEOUTS.check,
  });
  row.check = seconds(result.ms);
  const problem = failure(result, 'npm run check');
  if (problem) row.problems.push(problem);
  else row.status = 'PASS';
  return row;
}

function printTable(rows) {
  const header = ['example', 'result', 'install', 'check'];
  const body = rows.map((r) => [r.example, r.status, r.install, r.check]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) =>
    `| ${cells.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join(' | ')} |`;
  log('');
  log(line(header));
  log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const b of body) log(line(b));
  log('');
  for (const r of rows) {
    if (r.problems.length === 0) continue;
    log(`${r.example}:`);
    for (const p of r.problems)
      log(indent(`${r.status === 'SKIPPED' ? 'skipped' : 'FAILED'}: ${p}`));
  }
}

function parseArgs(argv) {
  const options = { only: undefined, strict: false, keep: false, build: true };
  for (const arg of argv) {
    if (arg === '--strict') options.strict = true;
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--no-build') options.build = false;
    else if (arg.startsWith('--only='))
      options.only = arg.slice('--only='.length).split(',').filter(Boolean);
    else throw new TypeError(`unknown argument ${arg}`);
  }
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const names = await listExamples(options.only);
  const t0 = performance.now();
  const rows = [];
  let tarball;
  try {
    const t = performance.now();
    tarball = await buildAndPack(options.build);
    log(
      `[examples] ${options.build ? 'build + pack' : 'pack'} (${seconds(performance.now() - t)})`,
    );
    // Installs, at most INSTALL_CONCURRENCY at a time, start in order; each check waits for its install.
    const installs = new Map();
    let next = 0;
    const startNext = () => {
      if (next >= names.length) return;
      const name = names[next++];
      installs.set(
        name,
        install(name, tarball)
          .catch((error) => ({ problem: `setup: ${error.message}` }))
          .finally(startNext),
      );
    };
    for (let i = 0; i < INSTALL_CONCURRENCY; i++) startNext();
    for (const name of names) {
      while (!installs.has(name)) await new Promise((r) => setTimeout(r, 50));
      const row = await check(name, await installs.get(name));
      log(`[examples] ${name}: ${row.status} (install ${row.install}, check ${row.check})`);
      rows.push(row);
    }
  } catch (error) {
    if (!(error instanceof SetupError)) throw error;
    rows.push({
      example: 'setup',
      status: 'FAIL',
      install: '-',
      check: '-',
      problems: [error.message],
    });
  } finally {
    killAll();
    if (!options.keep) await fs.rm(SCRATCH, { recursive: true, force: true });
  }
  printTable(rows);
  const count = (s) => rows.filter((r) => r.status === s).length;
  const [passed, failed, skipped] = [count('PASS'), count('FAIL'), count('SKIPPED')];
  log(`total ${seconds(performance.now() - t0)}`);
  log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exitCode = failed > 0 || (options.strict && skipped > 0) ? 1 : 0;
}

main().catch((error) => {
  killAll();
  console.error(error);
  log('0 passed, 1 failed');
  process.exitCode = 1;
});
