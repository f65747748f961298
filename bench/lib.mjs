/**
 * Shared pieces of the benchmark suite: the machine description, the measuring loop (interleaved
 * samples, medians), the result protocol between the orchestrator and its child processes, and
 * bounded child processes.
 *
 * Every measurement runs in a child process (`bench/child.mjs`) so that each section starts with a
 * fresh heap and JIT, can run under another Node binary, and can be profiled on its own. A child
 * reports with lines `BENCH_RESULT {json}` on stdout; anything else it prints is diagnostics.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const TMP = path.join(ROOT, '.tmp', 'bench');
export const RESULT_PREFIX = 'BENCH_RESULT ';

// ---------------------------------------------------------------------------------------------
// The machine and runtime.

/** The CPU model, core count and memory of this machine. */
export function machine() {
  const cpus = os.cpus();
  return {
    cpu: (cpus[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim(),
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/** This process's runtime, e.g. `Node 20.20.2`. */
export function runtimeName() {
  return `Node ${process.versions.node}`;
}

// ---------------------------------------------------------------------------------------------
// Statistics.

export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The median of per-round ratios `a[i] / b[i]` of two interleaved sample series: a burst of load on
 * the machine hits both samples of a round alike, so this is steadier than a ratio of medians.
 */
export function pairedRatio(a, b) {
  const n = Math.min(a.length, b.length);
  const ratios = [];
  for (let i = 0; i < n; i++) ratios.push(a[i] / b[i]);
  return median(ratios);
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

// ---------------------------------------------------------------------------------------------
// The measuring loop.

/**
 * How long each measurement runs. `full` is what `npm run bench` uses; `smoke` only checks that
 * every path runs (its numbers mean nothing).
 */
export const PROFILES = {
  full: { warmupMs: 1200, sampleMs: 220, samples: 7 },
  smoke: { warmupMs: 0, sampleMs: 25, samples: 2 },
};

async function timeBatch(fn, n, isAsync, offset) {
  const t0 = performance.now();
  if (isAsync) for (let i = 0; i < n; i++) await fn(offset + i);
  else for (let i = 0; i < n; i++) fn(offset + i);
  return performance.now() - t0;
}

/**
 * Measures the rate of several operations side by side: each is warmed up and calibrated to a batch
 * of about `sampleMs`, then their samples are interleaved (A B C A B C …) so that a drift of the
 * machine (frequency, a neighbour) hits them alike. An operation may be sync or async; it receives
 * a running index (for inputs that must not repeat).
 * @param cases - `[{ name, fn, warmupMs? }]`.
 * @param timing - `{ warmupMs, sampleMs, samples }`.
 * @returns `{ [name]: { opsPerSec (median), samples: ops/s[], batch, calls } }`.
 */
export async function measureRates(cases, timing) {
  const state = [];
  for (const c of cases) {
    let index = 0;
    const first = c.fn(index++);
    const isAsync = typeof first?.then === 'function';
    if (isAsync) await first;
    // Warm up (the JIT needs a second or two for the KEM), then calibrate a batch.
    const warmupMs = c.warmupMs ?? timing.warmupMs;
    const warmStart = performance.now();
    let n = 1;
    let elapsed;
    for (;;) {
      elapsed = await timeBatch(c.fn, n, isAsync, index);
      index += n;
      if (performance.now() - warmStart >= warmupMs && elapsed >= timing.sampleMs / 4) break;
      if (elapsed < timing.sampleMs / 4) n *= 2;
    }
    const batch = Math.max(1, Math.round((n * timing.sampleMs) / Math.max(elapsed, 0.001)));
    state.push({ c, isAsync, batch, index, samples: [] });
  }
  for (let s = 0; s < timing.samples; s++) {
    for (const st of state) {
      if (st.c.beforeSample) await st.c.beforeSample(st.batch);
      const ms = await timeBatch(st.c.fn, st.batch, st.isAsync, st.index);
      st.index += st.batch;
      st.samples.push((st.batch * 1000) / ms);
    }
  }
  const out = {};
  for (const st of state)
    out[st.c.name] = {
      opsPerSec: median(st.samples),
      samples: st.samples,
      batch: st.batch,
      calls: st.index,
    };
  return out;
}

/** Runs `fn` in a loop for about `ms` (for profiles). */
export async function loopFor(fn, ms) {
  let index = 0;
  const first = fn(index++);
  const isAsync = typeof first?.then === 'function';
  if (isAsync) await first;
  const end = performance.now() + ms;
  while (performance.now() < end) await timeBatch(fn, 16, isAsync, (index += 16));
  return index;
}

// ---------------------------------------------------------------------------------------------
// Results.

/** Prints one result line for the orchestrator. */
export function emit(result) {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

/** A failure that must fail the run (a crash or a failed handshake), as opposed to a slow number. */
export class BenchFailure extends Error {}

export function check(condition, message) {
  if (!condition) throw new BenchFailure(message);
}

// ---------------------------------------------------------------------------------------------
// Child processes: bounded in time, killed with their whole process group.

const live = new Set();

export function killGroup(child, signal = 'SIGKILL') {
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

export function killAll() {
  for (const child of live) killGroup(child);
}

/**
 * The environment of a child: this one without `NODE_OPTIONS` (flags meant for this process must
 * not change what is measured) and without npm's per-run variables.
 */
export function childEnv(extra = {}) {
  const env = { ...process.env, NO_COLOR: '1', ...extra };
  for (const key of Object.keys(env)) {
    if (/^NODE_OPTIONS$|^npm_(package_|lifecycle_)|^npm_command$|^INIT_CWD$/i.test(key))
      delete env[key];
  }
  return env;
}

/**
 * Starts a process, by default in its own group (the orchestrator's children); a section's own
 * processes (`detached: false`) stay in the section's group, so that killing a section on its time
 * limit kills them too. stdout and stderr are collected (bounded) and may be echoed.
 * @returns `{ child, done }`; `done` resolves to `{ code, signal, stdout, stderr, timedOut, ms, error }`.
 */
export function start(
  cmd,
  args,
  {
    cwd = ROOT,
    env = childEnv(),
    timeoutMs,
    onStdout,
    onStderr,
    stdin = 'ignore',
    detached = true,
  },
) {
  const started = performance.now();
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  const limit = 8 * 1024 * 1024;
  const child = spawn(cmd, args, { cwd, env, detached, stdio: [stdin, 'pipe', 'pipe'] });
  live.add(child);
  child.stdout.setEncoding('utf8').on('data', (d) => {
    if (stdout.length < limit) stdout += d;
    onStdout?.(d);
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    if (stderr.length < limit) stderr += d;
    onStderr?.(d);
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
      killGroup(child);
      resolve({ stdout, stderr, timedOut, ms: performance.now() - started, ...result });
    };
    child.on('error', (error) => settle({ code: null, signal: null, error }));
    child.on('close', (code, signal) => settle({ code, signal, error: undefined }));
  });
  return { child, done };
}

/**
 * Starts a server process that prints `listening on http://…` (`zeq-keyex serve`, a proxy) in the
 * section's process group, and resolves once it listens.
 * @param {string[]} args - node's arguments: flags, then the script and its arguments.
 * @param {{ env?: NodeJS.ProcessEnv, what: string, timeoutMs?: number }} options - `what` names
 *   the server in failures; `timeoutMs` bounds its whole life (300 s by default).
 * @returns `{ url, server }`: its URL, and what {@link start} returned.
 */
export async function startListening(args, { env = childEnv(), what, timeoutMs = 300_000 }) {
  let announce;
  const listening = new Promise((resolve) => {
    announce = resolve;
  });
  let buffered = '';
  const server = start(process.execPath, args, {
    env,
    timeoutMs,
    detached: false,
    onStdout: (chunk) => {
      buffered += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(buffered);
      if (match) announce(match[1]);
    },
  });
  let timer;
  const url = await Promise.race([
    listening,
    server.done.then((r) => {
      throw new BenchFailure(
        `${what} exited before listening (${r.code ?? r.signal}): ${r.stderr.slice(-500)}`,
      );
    }),
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new BenchFailure(`${what} did not listen within 20 s`)),
        20_000,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  return { url, server };
}

/** The result lines a child printed. */
export function resultsOf(stdout) {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith(RESULT_PREFIX))
    .map((line) => JSON.parse(line.slice(RESULT_PREFIX.length)));
}

// ---------------------------------------------------------------------------------------------
// Formatting.

export function fmtRate(value) {
  if (!Number.isFinite(value)) return '-';
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function fmtMs(value) {
  if (!Number.isFinite(value)) return '-';
  return value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(value >= 10 ? 1 : 2)} ms`;
}

export function fmtBytes(value) {
  if (!Number.isFinite(value)) return '-';
  if (value >= 2 ** 20) return `${(value / 2 ** 20).toFixed(1)} MiB`;
  if (value >= 2 ** 10) return `${(value / 2 ** 10).toFixed(1)} KiB`;
  return `${Math.round(value)} B`;
}

export function fmtRatio(value) {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '-';
}

/** A markdown table (also readable in a terminal). */
export function table(header, rows) {
  const cells = rows.map((r) => r.map((c) => String(c ?? '-')));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.map(line),
  ].join('\n');
}

/** Runs a command to completion (see {@link start}). */
export function run(cmd, args, options) {
  return start(cmd, args, options).done;
}
