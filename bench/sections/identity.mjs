/**
 * Section 8: identity pins (spec §8, issue 14), measured beside KEM-key pins in one run.
 *
 * - In process, per SDK backend this runtime has (fetch injection, no sockets; a responder with an
 *   identity key in a memory store): a KEM-pinned handshake (the document fetched every time,
 *   section 1's handshake), the same with the client's document cache, an identity-pinned handshake
 *   that fetches the document and verifies its ML-DSA-65 signature every time ("first"), and one
 *   on the kept document (one round trip, "cached"). Samples interleaved; each ratio is the median
 *   over rounds of (KEM-pinned rate / that case's rate): the cost in KEM-pinned handshakes.
 * - Over an emulated link (Node build only): `zeq-keyex serve --store DIR --identity` (a store
 *   made by `zeq-keyex identity --store DIR --create`) behind `bench/delay-proxy.mjs`, which holds
 *   every chunk for half of `RTT_MS` in each direction. Handshakes that fetch the document (two
 *   round trips) and cached ones (one), through the proxy and straight to the server (the "server
 *   time": the same handshake with no link, client and server computation and loopback included),
 *   one of each in turn, round after round. Target (issue 14): cached through the link ≤ 1.2 × RTT
 *   + the server time.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import {
  ROOT,
  check,
  childEnv,
  killGroup,
  measureRates,
  median,
  pairedRatio,
  percentile,
  run as runProcess,
  startListening,
} from '../lib.mjs';
import { MACHINE_ID, ORIGIN, SLUG, resolveBackend, sdkBackends } from '../sdk.mjs';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const PROXY = path.join(ROOT, 'bench', 'delay-proxy.mjs');
/** The emulated link's round-trip time. */
export const RTT_MS = 40;

/** The `zeq-keyex/identity` entry of the same build as `backend`. */
async function identityEntry(backend) {
  if (backend.build === 'portable')
    return import(pathToFileURL(path.join(ROOT, 'dist', 'identity.js')).href);
  return import('zeq-keyex/identity');
}

/** What an in-process case does once: a handshake whose session must say how it was trusted. */
function handshakeCase(name, client, trust, cached) {
  return {
    name,
    client,
    fn: async () => {
      const session = await client.handshake(SLUG);
      session.wipe();
    },
    async checkOnce() {
      const session = await client.handshake(SLUG);
      check(session.trust === trust, `${name}: the session says trust ${session.trust}`);
      check(
        session.documentCached === cached,
        `${name}: the session says documentCached ${session.documentCached}`,
      );
      session.wipe();
    },
  };
}

async function inProcessRows(timing) {
  const info = await sdkBackends();
  const rows = [];
  for (const backend of info.backends) {
    const base = { section: 'identity', part: 'inprocess', backend: backend.label };
    if (backend.unavailable !== undefined) {
      rows.push({ ...base, unavailable: backend.unavailable });
      continue;
    }
    const { sdk, option } = backend;
    const id = await identityEntry(backend);
    const fieldKey = randomBytes(32).toString('hex');
    const store = sdk.createMemoryKeyStore();
    const { identity } = await sdk.createIdentity({ store, fieldKey });
    const responder = sdk.createResponder({
      fieldKey,
      machines: { [SLUG]: MACHINE_ID },
      keyStore: store,
      identity: { store },
      rateLimits: false,
      ...option,
    });
    try {
      const doc = await responder.keyDocument(SLUG);
      check(doc.attestation !== undefined, 'the responder serves an unsigned document');
      const client = (trust, cache) =>
        sdk.createClient({
          origin: ORIGIN,
          fetch: (request) => responder.fetch(request),
          retry: 0,
          cacheKeyDocuments: cache,
          ...trust,
          ...option,
        });
      const pins = { pins: { [SLUG]: doc.fingerprint } };
      const identityPin = () => ({ identity: id.identityTrust({ pins: { [SLUG]: identity } }) });
      const cases = [
        handshakeCase('kem', client(pins, false), 'pinned', false),
        handshakeCase('kemCached', client(pins, true), 'pinned', true),
        handshakeCase('first', client(identityPin(), false), 'identity', false),
        handshakeCase('cached', client(identityPin(), true), 'identity', true),
      ];
      // The cached clients keep the document of their first handshake; every case is checked
      // once before timing, so a failure fails the run rather than giving a number.
      for (const c of cases) {
        if (c.name === 'kemCached' || c.name === 'cached') (await c.client.handshake(SLUG)).wipe();
        await c.checkOnce();
      }
      const rates = await measureRates(cases, timing);
      const { backend: verifier } = await id.loadSignatureVerifier();
      rows.push({
        ...base,
        verifier,
        perSec: Object.fromEntries(cases.map((c) => [c.name, rates[c.name].opsPerSec])),
        // The cost of each case in KEM-pinned handshakes, per round of interleaved samples.
        cost: Object.fromEntries(
          cases.map((c) => [c.name, pairedRatio(rates.kem.samples, rates[c.name].samples)]),
        ),
      });
    } finally {
      responder.close();
    }
  }
  return rows;
}

/** Starts a process that prints `listening on http://…`; resolves with its URL and a stop. */
async function startStoppable(args, env, what) {
  const { url, server: child } = await startListening(
    ['--disable-warning=ExperimentalWarning', ...args],
    { env, what },
  );
  return {
    url,
    async stop() {
      killGroup(child.child, 'SIGTERM');
      let stopTimer;
      const stopped = await Promise.race([
        child.done,
        new Promise((r) => (stopTimer = setTimeout(r, 5_000))),
      ]);
      clearTimeout(stopTimer);
      if (stopped === undefined) killGroup(child.child);
    },
  };
}

async function linkRows({ smoke }) {
  const { sdk } = (await sdkBackends()).backends[0];
  const id = await import('zeq-keyex/identity');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zeq-bench-identity-'));
  const storeDir = path.join(dir, 'store');
  const env = childEnv({ ZEQ_FIELD_KEY: randomBytes(32).toString('hex') });
  const stops = [];
  try {
    const made = await runProcess(
      process.execPath,
      [CLI, 'identity', '--store', storeDir, '--create', '--json'],
      { env, timeoutMs: 60_000, detached: false },
    );
    const line = JSON.parse(made.stdout.trim().split('\n').at(-1) ?? '{}');
    check(
      made.code === 0 && line.ok === true,
      `zeq-keyex identity --create failed: ${made.stderr}`,
    );
    const server = await startStoppable(
      [
        CLI,
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--store',
        storeDir,
        '--identity',
        '--machine',
        `${SLUG}=${MACHINE_ID}`,
        // One client at a steady pace: latency, not admission, is measured here.
        '--no-rate-limits',
      ],
      env,
      'zeq-keyex serve --identity',
    );
    stops.push(server.stop);
    const proxy = await startStoppable(
      [PROXY, server.url, String(RTT_MS)],
      childEnv(),
      'the delay proxy',
    );
    stops.push(proxy.stop);

    const client = (origin, cache) =>
      sdk.createClient({
        origin,
        identity: id.identityTrust({ pins: { [SLUG]: line.identity } }),
        retry: 0,
        cacheKeyDocuments: cache,
      });
    const cases = [];
    for (const [where, origin] of [
      ['link', proxy.url],
      ['direct', server.url],
    ]) {
      const fetching = client(origin, false);
      const cached = client(origin, true);
      cases.push(
        { name: `${where}:document`, fn: () => fetching.fetchKeyDocument(SLUG) },
        { name: `${where}:fetching`, fn: () => fetching.handshake(SLUG), cached: false },
        { name: `${where}:cached`, fn: () => cached.handshake(SLUG), cached: true },
      );
    }
    // Rounds of one of each, in turn; the first rounds (connections, JIT, the signing of the
    // document, the cache filled) are not counted.
    const warm = smoke ? 1 : 5;
    const rounds = smoke ? 1 : 41;
    const ms = Object.fromEntries(cases.map((c) => [c.name, []]));
    for (let round = 0; round < warm + rounds; round++) {
      for (const c of cases) {
        const t0 = performance.now();
        const result = await c.fn();
        const elapsed = performance.now() - t0;
        if (c.cached !== undefined) {
          check(result.trust === 'identity', `${c.name}: the session says trust ${result.trust}`);
          check(result.identity === line.identity, `${c.name}: another identity`);
          if (round > 0)
            check(result.documentCached === c.cached, `${c.name}: documentCached is wrong`);
          result.wipe();
        }
        if (round >= warm) ms[c.name].push(elapsed);
      }
    }
    const stat = (name) => ({ p50: median(ms[name]), p90: percentile(ms[name], 90) });
    const linkCached = stat('link:cached').p50;
    const serverTime = stat('direct:cached').p50;
    const { backend: verifier } = await id.loadSignatureVerifier();
    return [
      {
        section: 'identity',
        part: 'link',
        backend: `default → ${(await resolveBackend(sdk, {})).backend ?? 'unavailable'}`,
        verifier,
        rttMs: RTT_MS,
        rounds,
        latency: Object.fromEntries(cases.map((c) => [c.name, stat(c.name)])),
        // What the link added to one GET of the document: the emulated RTT, as measured.
        measuredRttMs: stat('link:document').p50 - stat('direct:document').p50,
        serverTimeMs: serverTime,
        boundMs: 1.2 * RTT_MS + serverTime,
        linkCachedMs: linkCached,
      },
    ];
  } finally {
    for (const stop of stops.reverse()) await stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run({ timing, smoke }) {
  const rows = await inProcessRows(timing);
  rows.push(...(await linkRows({ smoke })));
  return rows;
}
