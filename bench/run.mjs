#!/usr/bin/env node
/**
 * `npm run bench`: the cost of a handshake, measured against the limits it is built on.
 *
 * Runs each section in fresh child processes (`bench/child.mjs`), under this Node and under the
 * other Node of the pair 20 / 24 (the native ML-KEM backends need Node ≥ 24.7; the target
 * "native on Node 24 ≥ 8 × noble on Node 20" needs both), prints one table per section with the
 * runtime, CPU and backend, and the ratio to each target of issue 7. Every target missed is
 * profiled (`node --cpu-prof`) and the profile summarised.
 *
 * Options:
 *   --smoke              seconds, not minutes: every path runs once, briefly; numbers mean nothing.
 *                        Fails only if something crashes or a handshake fails, never on a timing.
 *   --only=a,b           sections: handshake, http, records, memory, coldstart, xwing, identity, shared
 *   --runtimes=a,b       node20, node24 (default: both, where they can be had)
 *   --no-download        never fetch a missing Node (the default in --smoke)
 *   --no-profile         do not profile missed targets
 *   --generator=builtin  drive HTTP load with the built-in loop even where autocannon is installed
 *
 * Writes `.tmp/bench/results-{full,smoke}.json` (every row) and `.tmp/bench/report.md` (the tables).
 * Exit status: 1 when a section crashed or a handshake failed; timings never fail the run.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  ROOT,
  TMP,
  childEnv,
  fmtBytes,
  fmtMs,
  fmtRate,
  fmtRatio,
  killAll,
  machine,
  resultsOf,
  run as runChild,
  table,
} from './lib.mjs';
import { describeProfile, newestProfile, summariseProfile, summariseSteps } from './profile.mjs';
import { ensureNode } from './runtimes.mjs';

const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));
const SECTIONS = [
  'handshake',
  'records',
  'memory',
  'coldstart',
  'http',
  'xwing',
  'identity',
  'shared',
];
/** Sections that run under this Node only (they measure servers, not backends). */
const THIS_NODE_ONLY = new Set(['shared']);
/** No profile starts after this many seconds of the run. */
const PROFILE_DEADLINE_S = 225;
/** How long each profile samples. */
const PROFILE_MS = 2_500;

/** The targets of issue 7. */
export const TARGETS = {
  inprocess: { min: 0.9, text: '≥ 0.9× raw enc+dec' },
  native: { min: 8, text: '≥ 8× noble on Node 20' },
  records: { min: 0.8, size: 16 * 1024, text: '≥ 0.8× fastest raw AES-GCM' },
  http: { min: 0.7, text: '≥ 0.7× 1-core decaps, 0 errors' },
  /** Issue 13: `serve` with every defence on, against the bare `node:http` server, on Node 24. */
  httpBare: {
    min: 0.7,
    major: 24,
    text: '≥ 0.7× bare node:http, every defence on, Node 24',
  },
  memory: { max: 1024, text: '≤ 1 KiB per session' },
  /** Issue 17: an X-Wing handshake on a native backend costs at most this many ML-KEM-768 ones. */
  xwing: { max: 1.3, text: '≤ 1.3× an ML-KEM-768 handshake (native backends)' },
  /** Issue 14: a cached identity-pinned handshake over an emulated link, against RTT + server time. */
  identityLink: { rttFactor: 1.2, text: '≤ 1.2 × RTT + server time' },
};

function parseArgs(argv) {
  const options = {
    mode: 'full',
    only: SECTIONS,
    runtimes: ['node20', 'node24'],
    download: true,
    profile: true,
    generator: undefined,
  };
  for (const arg of argv) {
    if (arg === '--smoke') options.mode = 'smoke';
    else if (arg === '--no-download') options.download = false;
    else if (arg === '--no-profile') options.profile = false;
    else if (arg.startsWith('--generator=')) options.generator = arg.slice('--generator='.length);
    else if (arg.startsWith('--only='))
      options.only = arg.slice('--only='.length).split(',').filter(Boolean);
    else if (arg.startsWith('--runtimes='))
      options.runtimes = arg.slice('--runtimes='.length).split(',').filter(Boolean);
    else throw new TypeError(`unknown argument ${arg} (see the header of bench/run.mjs)`);
  }
  for (const s of options.only)
    if (!SECTIONS.includes(s))
      throw new TypeError(`unknown section ${s}; known: ${SECTIONS.join(', ')}`);
  for (const r of options.runtimes)
    if (!['node20', 'node24'].includes(r))
      throw new TypeError(`unknown runtime ${r}; known: node20, node24`);
  if (options.mode === 'smoke') options.download = false;
  return options;
}

const out = [];
function log(line = '') {
  process.stdout.write(`${line}\n`);
}
/** A line for the terminal and for the markdown report. */
function report(line = '') {
  log(line);
  out.push(line);
}

// ---------------------------------------------------------------------------------------------
// Running sections.

const failures = [];

async function runSection(rt, section, options, extra = {}) {
  const flags = [
    '--disable-warning=ExperimentalWarning',
    ...(section === 'memory' ? ['--expose-gc'] : []),
    ...(extra.flags ?? []),
  ];
  const payload = {
    mode: options.mode,
    ...(options.generator ? { generator: options.generator } : {}),
    ...(extra.payload ?? {}),
  };
  const t = performance.now();
  const result = await runChild(rt.binary, [...flags, CHILD, section, JSON.stringify(payload)], {
    env: childEnv(),
    timeoutMs: options.mode === 'smoke' ? 90_000 : 240_000,
  });
  const rows = resultsOf(result.stdout);
  const error = rows.find((r) => r.error !== undefined)?.error;
  const finished = rows.some((r) => r.done === section);
  const seconds = ((performance.now() - t) / 1000).toFixed(1);
  if (error !== undefined || !finished || result.code !== 0) {
    const why = error
      ? `${error.code ?? error.name}: ${error.message}`
      : result.timedOut
        ? 'timed out (killed)'
        : `exit ${result.code ?? result.signal}: ${result.stderr.trim().split('\n').slice(-8).join('\n')}`;
    failures.push(`${section} on ${rt.label}: ${why}`);
    log(`[bench] ${section} on ${rt.label}: FAILED after ${seconds} s — ${why}`);
    if (error?.stack) log(error.stack.split('\n').slice(1, 6).join('\n'));
  } else if (!extra.quiet) {
    log(`[bench] ${section} on ${rt.label} (${seconds} s)`);
  }
  return rows.filter((r) => r.section !== undefined);
}

// ---------------------------------------------------------------------------------------------
// Targets.

/** In a smoke run the numbers mean nothing: no verdicts, no misses. */
let SMOKE = false;

function verdict(ok) {
  if (SMOKE) return 'n/a (smoke)';
  return ok ? 'met' : 'MISSED';
}

/** "0.45× (target ≥ 0.9×): 50% short; needs 2.00× faster". */
function shortBy(value, target) {
  const short = 1 - value / target;
  return `${fmtRatio(value)} vs ${fmtRatio(target)}: ${(short * 100).toFixed(0)}% short, needs ${(target / value).toFixed(2)}× faster`;
}

// ---------------------------------------------------------------------------------------------
// Tables.

/** Section 7: one row per backend and transport; the target applies to native backends only. */
function xwingTable(rows, misses) {
  const body = rows.map((r) => {
    if (r.unavailable)
      return [r.runtime, r.backend, r.transport, '-', '-', '-', '-', unavailable(r)];
    const ok = r.costRatio <= TARGETS.xwing.max;
    if (r.native && !ok && !SMOKE)
      // Not profiled (no `case`): the X-Wing part of a handshake is the primitives of section 1.
      misses.push({
        key: `xwing:${r.runtime}:${r.backend}:${r.transport}`,
        what: `X-Wing handshake ${r.transport}, ${r.runtime}, ${r.backend}`,
        detail: `${fmtRatio(r.costRatio)} an ML-KEM-768 handshake vs ≤ ${fmtRatio(TARGETS.xwing.max)}`,
        runtime: r.runtime,
        section: 'xwing',
      });
    return [
      r.runtime,
      r.backend,
      r.transport,
      fmtRate(r.mlkemPerSec),
      fmtRate(r.xwingPerSec),
      fmtRatio(r.costRatio),
      r.floorRatio === undefined ? '-' : `${fmtRatio(r.floorRatio)} (${fmtRate(r.x25519PerSec)}/s)`,
      r.native ? `${TARGETS.xwing.text}: ${verdict(ok)}` : 'noble: reported as it is',
    ];
  });
  return `${table(['runtime', 'SDK backend', 'transport', 'ML-KEM-768 handshakes/s', 'X-Wing handshakes/s', 'X-Wing cost (× ML-KEM-768)', 'floor: + 3 raw X25519', 'target'], body)}\n\nPinned \`client.handshake()\` against one machine per alg; the cost ratio is the median over rounds of interleaved samples of (ML-KEM-768 rate / X-Wing rate). "Floor" is what an X-Wing handshake would cost if it added to an ML-KEM-768 handshake only the X25519 it must do — an ephemeral key pair and two Diffie-Hellmans on keys already imported, through the backend's native X25519, measured in the same rounds (their rate in brackets) — and nothing else: no key import or export, no combiner, no glue.`;
}

/** Section 8a: identity-pinned handshakes in process, priced in KEM-pinned handshakes. */
function identityTable(rows) {
  const body = rows.map((r) => {
    if (r.unavailable) return [r.runtime, r.backend, '-', '-', '-', '-', '-', unavailable(r)];
    const cell = (name) => `${fmtRate(r.perSec[name])} (${fmtRatio(r.cost[name])})`;
    return [
      r.runtime,
      r.backend,
      r.verifier,
      cell('kem'),
      cell('kemCached'),
      cell('first'),
      cell('cached'),
      'no target',
    ];
  });
  return `${table(['runtime', 'SDK backend', 'ML-DSA-65 verifier', 'KEM-pinned handshakes/s (document fetched)', 'KEM-pinned, kept document', 'identity-pinned, first (document fetched, signature verified)', 'identity-pinned, cached (one round trip)', 'target'], body)}\n\nIn process through fetch injection, one responder with an identity key (memory store) and four clients, samples interleaved. In parentheses, the cost of one handshake in KEM-pinned handshakes (the median over rounds of the KEM-pinned rate over that case's rate): above 1× costs more. "First" has the client's document cache off, so every handshake fetches the document and verifies its signature (what a client's first handshake with a slug costs); "cached" posts the handshake on the kept document.`;
}

/** Section 8b: handshake latency through the delay proxy, against the same handshakes without it. */
function identityLinkTable(rows, misses) {
  const body = rows.map((r) => {
    const t = TARGETS.identityLink;
    const ok = r.linkCachedMs <= t.rttFactor * r.rttMs + r.serverTimeMs;
    if (!ok)
      misses.push({
        key: `identity:link:${r.runtime}`,
        what: `cached identity-pinned handshake over a ${r.rttMs} ms link ${t.text}, ${r.runtime}`,
        detail: `${fmtMs(r.linkCachedMs)} vs ≤ ${fmtMs(r.boundMs)}`,
        runtime: r.runtime,
        section: 'identity',
      });
    const l = (name) => `${fmtMs(r.latency[name].p50)} (p90 ${fmtMs(r.latency[name].p90)})`;
    return [
      r.runtime,
      r.backend,
      `${r.rttMs} ms (measured ${fmtMs(r.measuredRttMs)})`,
      l('link:fetching'),
      l('link:cached'),
      l('direct:fetching'),
      l('direct:cached'),
      fmtMs(r.boundMs),
      `${t.text}: ${verdict(ok)}`,
    ];
  });
  return `${table(['runtime', 'server backend', 'RTT', 'through the link: document fetched (2 round trips)', 'through the link: cached (1 round trip)', 'no link: document fetched', 'no link: cached (server time)', '1.2 × RTT + server time', 'target'], body)}\n\nMedians (and 90th percentiles) of ${rows[0]?.rounds ?? '-'} handshakes each, identity-pinned, by the Node build's client in the benchmark process: \`zeq-keyex serve --store DIR --identity\` (a store made by \`zeq-keyex identity --store DIR --create\`, \`--no-rate-limits\`) behind \`bench/delay-proxy.mjs\`, a TCP proxy holding every chunk for half the RTT in each direction; the four kinds in turn, round after round, after warm-up rounds. "No link" is the same handshake straight to the server: client and server computation plus loopback, the "server time" of the target. The measured RTT is what the proxy added to one \`GET\` of the document.`;
}

/** Section 9: the same `serve` on memory stores, on Redis, and on Redis with two workers. */
function sharedTable(rows) {
  const unavailable = rows.find((r) => r.unavailable);
  if (unavailable) return `Not run: ${unavailable.unavailable}.`;
  const body = rows.map((r) => [
    r.label,
    fmtRate(r.handshakesPerSec),
    fmtRatio(r.handshakesVsMemory),
    fmtRate(r.recordsPerSec),
    fmtRatio(r.recordsVsMemory),
  ]);
  const r = rows[0] ?? {};
  return `${table(['serve', 'handshakes/s', 'vs memory', 'records/s (64 B, --echo)', 'vs memory'], body)}\n\n${r.concurrency} pinned SDK initiators in the bench process, a new connection per request, the three servers measured in turns (median of ${r.samples} samples of ${r.sampleMs} ms each). The load generator, Redis and the server processes share the machine's ${r.cores} cores: reported as it is.`;
}

function captionFor(rows) {
  const m = machine();
  const runtimes = [...new Set(rows.map((r) => r.runtime).filter(Boolean))].join(', ');
  return `CPU: ${m.cpu}, ${m.cores} cores · runtime: ${runtimes || '-'} · backend: per row`;
}

function unavailable(r) {
  return `not available: ${r.unavailable}`;
}

function inProcessTable(rows, misses) {
  const body = rows.map((r) => {
    if (r.unavailable)
      return [
        r.runtime,
        r.sdkBackend ? r.backend : `(raw ${r.raw})`,
        '-',
        '-',
        '-',
        '-',
        '-',
        '-',
        unavailable(r),
      ];
    if (!Number.isFinite(r.sdkPerSec))
      return [
        r.runtime,
        `(raw ${r.raw} only)`,
        r.raw,
        '-',
        fmtRate(r.rawPerSec),
        '-',
        '-',
        '-',
        r.note ?? '',
      ];
    const ok = r.ratio >= TARGETS.inprocess.min;
    if (!ok)
      misses.push({
        key: `inprocess:${r.runtime}:${r.sdkBackend}`,
        what: `in-process handshake, ${r.runtime}, SDK ${r.sdkBackend}`,
        detail: shortBy(r.ratio, TARGETS.inprocess.min),
        runtime: r.runtime,
        section: 'handshake',
        case: `handshake:${r.sdkBackend}`,
      });
    return [
      r.runtime,
      r.backend,
      r.raw,
      fmtRate(r.sdkPerSec),
      fmtRate(r.rawPerSec),
      fmtRatio(r.ratio),
      referenceCell(r),
      TARGETS.inprocess.text,
      verdict(ok),
    ];
  });
  return `${table(['runtime', 'SDK backend', 'raw bound', 'SDK handshakes/s', 'raw enc+dec/s', 'ratio', 'ratio vs noble, keys expanded once', 'target', 'result'], body)}\n\nRates are medians of ${SMOKE ? 'the' : 'seven'} interleaved samples; a ratio is the median of the per-round ratios (steadier on a busy machine than a ratio of medians). The target is set against the one-shot raw calls; the SDK's noble backend keeps public keys expanded (noble's \`prepare()\`), so its rows are also compared with raw noble doing the same (\`noble-prepared\`), the stricter bound.`;
}

/** The ratio of an SDK noble row to raw noble with keys expanded once, with that rate. */
function referenceCell(r) {
  return Number.isFinite(r.referenceRatio)
    ? `${fmtRatio(r.referenceRatio)} (${fmtRate(r.referencePerSec)}/s)`
    : '-';
}

function responderTable(rows) {
  const body = rows.map((r) => {
    if (r.unavailable)
      return [
        r.runtime,
        r.sdkBackend ? r.backend : `(raw ${r.raw})`,
        '-',
        '-',
        '-',
        '-',
        '-',
        unavailable(r),
      ];
    if (!Number.isFinite(r.sdkPerSec))
      return [
        r.runtime,
        `(raw ${r.raw} only)`,
        r.raw,
        '-',
        fmtRate(r.rawPerSec),
        '-',
        '-',
        r.note ?? '',
      ];
    return [
      r.runtime,
      r.backend,
      r.raw,
      fmtRate(r.sdkPerSec),
      fmtRate(r.rawPerSec),
      fmtRatio(r.ratio),
      referenceCell(r),
      'no target (shows the responder’s share of the overhead)',
    ];
  });
  return table(
    [
      'runtime',
      'SDK backend',
      'raw bound',
      'SDK handshake requests/s',
      'raw decaps/s',
      'ratio',
      'ratio vs noble, key expanded once',
      'note',
    ],
    body,
  );
}

function breakdownTable(rows) {
  const f = (x) => (Number.isFinite(x) ? x.toFixed(x >= 10 ? 1 : 3) : '-');
  const body = rows.map((r) => [
    r.runtime,
    r.backend,
    f(r.handshakeMs),
    f(r.keyDocumentMs),
    f(r.modulusCheckMs),
    f(r.encapsulateMs),
    f(r.responderMs),
    f(r.decapsulateMs),
    f(r.clientPostMs),
    `${f(r.overheadMs)} (${Number.isFinite(r.overheadMs) ? Math.round((r.overheadMs / r.handshakeMs) * 100) : '-'}%)`,
    f(r.protocolMs),
    Number.isFinite(r.freeTransportRatio) ? fmtRatio(r.freeTransportRatio) : '-',
  ]);
  return `${table(
    [
      'runtime',
      'SDK backend',
      'handshake',
      'GET key document (client + responder)',
      '… of which modulus check',
      'raw encapsulate',
      'POST handshake at the responder',
      '… of which raw decapsulate',
      'rest of the client’s POST',
      'SDK overhead (vs raw enc + dec)',
      'protocol computation alone',
      'ratio with a free transport',
    ],
    body,
  )}\n\nMilliseconds per handshake, from the medians above (1000 / rate): the key document round trip through the client (\`client.fetchKeyDocument\`), the cost of the modulus check measured on its own (noble's \`prepare()\`, which the SDK runs once per key and keeps for the last eight keys, so it is not part of the repeated round trip), the responder's handshake request from section 2, and what is left of the handshake: the client's POST through ky, key confirmation and session. "Protocol computation alone" is what keyex-v1 asks of both sides besides the KEM (key and ciphertext base64, fingerprint, transcript and record key on both sides, key confirmation sealed and opened), through the SDK's exported functions with no HTTP, JSON or session store; "ratio with a free transport" is the raw bound over that plus the KEM as the SDK runs it (noble with its keys expanded): the best ratio any transport could give.`;
}

function nativeTable(inprocess, misses) {
  const noble20 = inprocess.find(
    (r) => /^Node 20\./.test(r.runtime) && r.sdkBackend === 'noble' && Number.isFinite(r.sdkPerSec),
  );
  const node24 = inprocess.filter((r) => /^Node 24\./.test(r.runtime));
  const native24 = node24.find((r) => r.sdkBackend === 'native' && Number.isFinite(r.sdkPerSec));
  const body = [];
  if (noble20 === undefined) {
    body.push(['-', '-', '-', '-', 'not measured: no Node 20 noble row in this run']);
  } else if (native24 === undefined) {
    const why =
      node24.find((r) => r.sdkBackend === 'native' && r.unavailable)?.unavailable ??
      (node24.length === 0 ? 'Node 24 did not run' : 'no native SDK row on Node 24');
    const raw24 = node24.find((r) => r.raw === 'node:crypto' && Number.isFinite(r.rawPerSec));
    body.push([
      '-',
      fmtRate(noble20.sdkPerSec),
      raw24
        ? `(raw node:crypto enc+dec on Node 24: ${fmtRate(raw24.rawPerSec)}/s = ${fmtRatio(raw24.rawPerSec / noble20.sdkPerSec)} the Node 20 SDK)`
        : '-',
      TARGETS.native.text,
      `not available: ${why}`,
    ]);
  } else {
    const ratio = native24.sdkPerSec / noble20.sdkPerSec;
    const ok = ratio >= TARGETS.native.min;
    if (!ok)
      misses.push({
        key: `native:${native24.runtime}`,
        what: `native on ${native24.runtime} vs noble on ${noble20.runtime}`,
        detail: shortBy(ratio, TARGETS.native.min),
        runtime: native24.runtime,
        section: 'handshake',
        case: 'handshake:native',
      });
    body.push([
      fmtRate(native24.sdkPerSec),
      fmtRate(noble20.sdkPerSec),
      fmtRatio(ratio),
      TARGETS.native.text,
      verdict(ok),
    ]);
  }
  return table(
    [
      'Node 24 SDK native handshakes/s',
      'Node 20 SDK noble handshakes/s',
      'ratio',
      'target',
      'result',
    ],
    body,
  );
}

function httpTable(rows, misses) {
  const CONFIGURATION = {
    defended: 'serve, every defence on',
    unlimited: 'serve --no-rate-limits',
    bare: 'bare node:http, fixed answer',
    minimal: 'minimal keyex-v1 server, no defences',
  };
  const configurationOf = (r) =>
    r.configuration ?? (r.scenario === 'baseline' ? 'bare' : 'unlimited');
  const sameRun = (r, configuration) =>
    rows.find((b) => configurationOf(b) === configuration && b.runtime === r.runtime);
  const body = rows.map((r) => {
    const configuration = configurationOf(r);
    const route = r.route ?? (r.scenario === 'pubkey' ? 'pubkey' : 'handshake');
    const served =
      route === 'handshake' && (configuration === 'defended' || configuration === 'unlimited');
    const baseline = sameRun(r, 'bare');
    const minimal = sameRun(r, 'minimal');
    const ofBare =
      baseline !== undefined && r !== baseline ? r.perSec / baseline.perSec : Number.NaN;
    const ofMinimal = served && minimal !== undefined ? r.perSec / minimal.perSec : Number.NaN;
    // Targets: every handshake row of `serve` against 1-core decapsulation (issue 7); the row
    // with every defence on against the bare server, on Node 24 (issue 13). The two reference
    // servers have none.
    const targets = [];
    if (served) targets.push(['decaps', TARGETS.http, r.ratio]);
    if (
      served &&
      configuration === 'defended' &&
      Number(/^Node (\d+)/.exec(r.runtime)?.[1]) === TARGETS.httpBare.major
    )
      targets.push(['bare', TARGETS.httpBare, ofBare]);
    const verdicts = targets.map(([id, target, ratio]) => {
      const ok = ratio >= target.min && r.errors === 0;
      if (!ok)
        misses.push({
          key: `http:${id}:${r.runtime}:${configuration}`,
          what: `loopback HTTP handshakes (${CONFIGURATION[configuration]}) ${target.text}, ${r.runtime}`,
          detail: r.errors > 0 ? `${r.errors} errors` : shortBy(ratio, target.min),
          runtime: r.runtime,
          section: 'http',
          case: r.scenario,
        });
      return `${target.text}: ${verdict(ok)}`;
    });
    let result =
      verdicts.length > 0
        ? verdicts.join('; ')
        : r.errors === 0
          ? 'no ratio target; 0 errors'
          : 'ERRORS';
    if (r.errors > 0) result += ` (${JSON.stringify(r.errorDetail)})`;
    return [
      r.runtime,
      r.backend,
      CONFIGURATION[configuration],
      route === 'pubkey' ? 'GET pubkey' : 'POST handshake',
      `${r.connections} conns${r.clients ? `, ${r.clients.toLocaleString('en-US')} clients` : ''}, ${r.seconds.toFixed(1)} s`,
      fmtRate(r.perSec),
      fmtMs(r.p50),
      fmtMs(r.p99),
      Number.isFinite(r.cpuPerRequestMs) ? `${(r.cpuPerRequestMs * 1000).toFixed(0)} µs` : '-',
      String(r.errors),
      fmtBytes(r.peakRss),
      fmtRatio(ofBare),
      fmtRatio(ofMinimal),
      served ? fmtRate(r.boundPerSec) : '-',
      served ? fmtRatio(r.ratio) : '-',
      result,
    ];
  });
  const generators = [...new Set(rows.map((r) => r.generator))].join(', ');
  return `${table(['runtime', 'server backend', 'server', 'route', 'load', 'requests/s', 'p50', 'p99', 'server CPU per request', 'errors', 'server peak RSS', 'vs bare node:http', 'vs minimal keyex-v1 server', '1-core decaps/s', 'vs decaps', 'targets'], body)}\n\nLoad: ${generators}; server: \`zeq-keyex serve\` from dist/cli.js on 127.0.0.1, one process, with \`--trust-proxy 127.0.0.1\`; every request names its client in \`X-Forwarded-For\`, rotating over the clients shown. "Every defence on" is \`serve\`'s defaults: per-client token buckets, the cap on decapsulations in flight, the replay memory, the connection cap, the time limits. The bare \`node:http\` row is \`bench/bare-server.mjs\` under the same handshake requests and headers: it reads each body and sends a fixed answer of a handshake answer's size, with no routing, parsing or cryptography — the ceiling of one Node process here. The minimal keyex-v1 row is \`bench/minimal-server.mjs\` under the same load: the least a \`node:http\` server can do and still answer handshakes correctly (the SDK's KEM backend, transcript, HKDF and key confirmation, sessions in a \`Map\`; no routing, checks, admission, replay memory, time limits or fetch objects) — the floor the protocol itself sets one process here; its answers pass the same pinned SDK handshake as \`serve\`'s. "vs bare" and "vs minimal" are each row's rate over theirs, measured in the same run. "Server CPU per request" is the server process's user + system time over the load (from \`/proc\`) divided by the requests it answered: steadier than the rates on a shared machine, it says what the server itself spends.`;
}

function recordsTable(rows, misses) {
  const body = rows.map((r) => {
    if (r.unavailable)
      return [
        r.runtime,
        `SDK ${r.sdkBackend}`,
        '-',
        '-',
        '-',
        '-',
        '-',
        '-',
        '-',
        '-',
        '-',
        unavailable(r),
      ];
    const targeted = r.size === TARGETS.records.size && r.targeted !== false;
    const ok = r.ratio >= TARGETS.records.min;
    if (targeted && !ok) {
      misses.push({
        key: `records:${r.runtime}:${r.sdkBackend}`,
        what: `records at 16 KiB, ${r.runtime}, SDK ${r.sdkBackend}`,
        detail: `${shortBy(r.ratio, TARGETS.records.min)} (vs ${r.fastest})`,
        runtime: r.runtime,
        section: 'records',
        case: `sdk:${r.sdkBackend}:${r.size}`,
      });
    }
    return [
      r.runtime,
      r.backend,
      fmtBytes(r.size),
      fmtRate(r.sdkMBps),
      fmtRate(r.rawMBps.noble),
      fmtRate(r.rawMBps['node:crypto']),
      fmtRate(r.rawMBps.webcrypto),
      fmtRate(r.rawMBps['node:crypto-record']),
      `${fmtRatio(r.ratio)} (${r.fastest ?? '-'})`,
      fmtRatio(r.ratioNoble),
      targeted
        ? TARGETS.records.text
        : r.size === TARGETS.records.size
          ? 'not this build’s fastest path'
          : '-',
      targeted ? verdict(ok) : '-',
    ];
  });
  return `${table(['runtime', 'SDK backend', 'record', 'SDK seal+open MB/s', 'raw noble', 'raw node:crypto', 'raw WebCrypto', 'raw node:crypto into one record (reference)', 'ratio vs fastest', 'ratio vs noble', 'target', 'result'], body)}\n\nMB/s: plaintext bytes per second through one seal and one open (10^6 bytes). The target is read on each build's fastest path: the Node build's \`seal\`/\`open\` (node:crypto), the portable build's \`sealAsync\`/\`openAsync\` (WebCrypto; its synchronous calls are noble's JavaScript AES-GCM). The reference column is node:crypto writing a record's wire format (header, ciphertext and tag in one buffer), which costs it one copy of the ciphertext: node:crypto's cipher has no output buffer.`;
}

function memoryTable(rows, misses) {
  const body = rows.map((r) => {
    const store = r.what === 'memory session store';
    const ok = r.bytesPerSession <= TARGETS.memory.max;
    if (store && !ok)
      misses.push({
        key: `memory:${r.runtime}`,
        what: `memory store, ${r.runtime}`,
        detail: `${Math.round(r.bytesPerSession)} B per session, ${Math.round(r.bytesPerSession - TARGETS.memory.max)} B over`,
        runtime: r.runtime,
        section: 'memory',
      });
    return [
      r.runtime,
      r.what,
      r.backend ?? '-',
      r.count.toLocaleString('en-US'),
      `${Math.round(r.bytesPerSession)} B`,
      fmtBytes(r.totalBytes),
      store ? TARGETS.memory.text : 'no target',
      store ? verdict(ok) : ok ? 'within 1 KiB' : 'over 1 KiB',
    ];
  });
  return `${table(['runtime', 'what', 'backend', 'sessions', 'bytes/session', 'total', 'target', 'result'], body)}\n\nHeap used + external memory after a full GC, minus the same before, divided by the sessions.`;
}

function coldTable(rows) {
  const body = rows.map((r) => {
    if (r.unavailable) return [r.runtime, r.backend, '-', '-', '-', '-', '-', unavailable(r)];
    return [
      r.runtime,
      r.backend,
      fmtMs(r.bootMs),
      fmtMs(r.importMs),
      fmtMs(r.firstHandshakeMs),
      fmtMs(r.importToHandshakeMs),
      fmtMs(r.secondHandshakeMs),
      `median of ${r.runs}`,
    ];
  });
  return `${table(['runtime', 'SDK backend', 'process start → script', 'import', 'first handshake (incl. key generation)', 'import → first handshake', 'second handshake', 'runs'], body)}\n\nFresh processes; in process through fetch injection; the responder makes its machine key on the first request.`;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const options = parseArgs(process.argv.slice(2));
  SMOKE = options.mode === 'smoke';
  const t0 = performance.now();
  const m = machine();
  const load = () =>
    os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  report(`# zeq-keyex benchmark (${options.mode})`);
  report();
  report(`- machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}`);
  report(`- started: ${new Date().toISOString()}, load average ${load()}`);

  // Runtimes: this Node, and the other of the pair 20 / 24.
  const runtimes = [];
  for (const id of options.runtimes) {
    const rt = await ensureNode(id, { download: options.download, log });
    if (rt.skip) report(`- ${id}: not available: ${rt.skip}`);
    else runtimes.push(rt);
  }
  report(`- runtimes: ${runtimes.map((r) => `${r.label} (${r.source})`).join(', ') || 'none'}`);
  if (os.loadavg()[0] > 1)
    report(
      `- note: the machine was busy when the run started (load ${load()}); expect noisy numbers`,
    );
  report();

  const rows = [];
  for (const section of options.only) {
    for (const rt of THIS_NODE_ONLY.has(section) ? runtimes.slice(0, 1) : runtimes)
      rows.push(...(await runSection(rt, section, options)));
  }
  const of = (section) => rows.filter((r) => r.section === section);
  // A failed request under load is a failed handshake: it fails the run, like a crash.
  for (const r of of('http'))
    if (r.errors > 0)
      failures.push(
        `${r.scenario} over HTTP on ${r.runtime}: ${r.errors} failed requests ${JSON.stringify(r.errorDetail)}`,
      );

  const misses = [];
  if (SMOKE) misses.push = () => 0;
  const sdkNote = rows.find((r) => r.sdkNote)?.sdkNote;
  const tables = [];
  if (options.only.includes('handshake')) {
    tables.push([
      '1. Handshake in process (client + responder through fetch injection) vs raw encapsulate + decapsulate',
      inProcessTable(of('inprocess'), misses),
    ]);
    tables.push([
      '1b. Native backend on Node 24 vs noble on Node 20 (SDK handshakes in process)',
      nativeTable(of('inprocess'), misses),
    ]);
    tables.push([
      '1c. Where the time of one in-process handshake goes (ms per handshake)',
      breakdownTable(of('breakdown')),
    ]);
    tables.push([
      '2. Responder alone: handshake requests through the fetch handler vs raw decapsulate',
      responderTable(of('responder')),
    ]);
  }
  if (options.only.includes('http'))
    tables.push([
      '3. Loopback HTTP: `zeq-keyex serve` under concurrent initiators',
      httpTable(of('http'), misses),
    ]);
  if (options.only.includes('records'))
    tables.push([
      '4. Records: seal + open vs raw AES-256-GCM on the same buffers',
      recordsTable(of('records'), misses),
    ]);
  if (options.only.includes('memory'))
    tables.push(['5. Memory per idle session', memoryTable(of('memory'), misses)]);
  if (options.only.includes('coldstart'))
    tables.push(['6. Cold start: import → first completed handshake', coldTable(of('coldstart'))]);
  if (options.only.includes('xwing'))
    tables.push([
      '7. X-Wing handshakes beside ML-KEM-768 handshakes (same backend, side by side)',
      xwingTable(of('xwing'), misses),
    ]);

  if (options.only.includes('identity')) {
    tables.push([
      '8. Identity pins (issue 14): identity-pinned handshakes beside KEM-pinned ones, in process',
      identityTable(of('identity').filter((r) => r.part === 'inprocess')),
    ]);
    tables.push([
      '8b. Identity pins over an emulated link: handshake latency, document fetched vs cached',
      identityLinkTable(
        of('identity').filter((r) => r.part === 'link'),
        misses,
      ),
    ]);
  }
  if (options.only.includes('shared'))
    tables.push([
      '9. Shared state: memory stores, Redis with one process, Redis with two workers (side by side)',
      sharedTable(of('shared')),
    ]);

  for (const [title, text] of tables) {
    report(`## ${title}`);
    report();
    report(captionFor(rows));
    report();
    report(text);
    report();
  }
  if (sdkNote) {
    report(`Note: ${sdkNote}.`);
    report();
  }
  const defaults = [
    ...new Map(
      rows.filter((r) => r.defaultBackend).map((r) => [r.runtime, r.defaultBackend]),
    ).entries(),
  ];
  if (defaults.length > 0) {
    report(
      `The default \`kem: 'auto'\` resolves to: ${defaults.map(([rt, b]) => `${b} on ${rt}`).join(', ')}.`,
    );
    report();
  }

  // Misses: by how much, and a profile of each.
  if (misses.length > 0) {
    report('## Targets missed');
    report();
    const profiled = new Map();
    // Profiles in order of what they explain, so that the time budget cuts the least telling:
    // the native backend first, then HTTP, records, noble; the newest runtime first.
    const rank = (m) =>
      (m.case === 'handshake:native'
        ? 0
        : m.section === 'http'
          ? 1
          : m.section === 'records'
            ? 2
            : 3) *
        2 +
      (/^Node 24/.test(m.runtime) ? 0 : 1);
    misses.sort((a, b) => rank(a) - rank(b));
    for (const miss of misses) {
      report(`- ${miss.what}: ${miss.detail}`);
      if (options.mode === 'smoke' || !options.profile || miss.case === undefined) continue;
      const rt = runtimes.find((r) => r.label === miss.runtime);
      if (rt === undefined) continue;
      const key = `${rt.id}:${miss.section}:${miss.case}`;
      if (profiled.has(key)) {
        report('  profile: the same as above');
        continue;
      }
      // The whole run must stay within five minutes on a two-core machine.
      if ((performance.now() - t0) / 1000 > PROFILE_DEADLINE_S) {
        report(
          `  (not profiled: the run is past ${PROFILE_DEADLINE_S} s; \`npm run bench -- --only=${miss.section} --runtimes=${rt.id}\` profiles it)`,
        );
        continue;
      }
      profiled.set(key, true);
      for (const line of await profileMiss(rt, miss, options)) report(line);
    }
    report();
  }

  const seconds = (performance.now() - t0) / 1000;
  report(`Finished in ${seconds.toFixed(0)} s; load average at the end ${load()}.`);
  await fs.mkdir(TMP, { recursive: true });
  await fs.writeFile(
    path.join(TMP, `results-${options.mode}.json`),
    `${JSON.stringify({ machine: m, runtimes, rows, misses, failures, seconds }, null, 2)}\n`,
  );
  await fs.writeFile(
    path.join(TMP, options.mode === 'smoke' ? 'report-smoke.md' : 'report.md'),
    `${out.join('\n')}\n`,
  );
  log(
    `[bench] wrote ${path.relative(ROOT, path.join(TMP, `results-${options.mode}.json`))} and the tables as markdown beside it`,
  );
  if (failures.length > 0) {
    log(`\n[bench] ${failures.length} failure(s):`);
    for (const f of failures) log(`  - ${f}`);
    process.exitCode = 1;
  } else {
    const targets = SMOKE
      ? 'targets are not evaluated in a smoke run'
      : `${misses.length} target(s) missed, which never fails the run`;
    log(`[bench] ${options.mode}: every section ran, every handshake succeeded (${targets})`);
  }
}

/** Profiles the SDK path of a missed target and summarises where the time goes. */
async function profileMiss(rt, miss, options) {
  const dir = path.join(
    TMP,
    'profiles',
    `${rt.id}-${miss.section}-${miss.case.replace(/[^a-z0-9]+/gi, '-')}`,
  );
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  const ms = PROFILE_MS;
  const extra =
    miss.section === 'http'
      ? { payload: { profile: { case: miss.case, dir, ms } } } // the server process is profiled
      : {
          flags: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
          payload: { profile: { case: miss.case, ms } },
        };
  await runSection(rt, miss.section, options, { ...extra, quiet: true });
  const file = existsSync(dir) ? await newestProfile(dir) : undefined;
  if (file === undefined) return ['  (no profile was written)'];
  const summary = await summariseProfile(file);
  const steps =
    miss.section === 'http'
      ? [
          '  by step of a request (docs/performance.md, "Where a handshake\'s time goes on the server"):',
          ...(await summariseSteps(file)).steps.map(
            (x) => `    ${(x.share * 100).toFixed(1).padStart(5)}%  ${x.step}`,
          ),
        ]
      : [];
  return [
    `  profile (${rt.label}, ${miss.section === 'http' ? 'the server under load' : miss.case}): ${path.relative(ROOT, file)}`,
    ...describeProfile(summary),
    ...steps,
  ];
}

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});

main().catch((error) => {
  killAll();
  console.error(error);
  process.exitCode = 1;
});
