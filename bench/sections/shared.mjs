/**
 * Section 8: shared state. `zeq-keyex serve --echo` (the built CLI) three ways, side by side in one
 * run: memory stores (one process), Redis with one process, Redis with `--workers 2`; a private
 * `redis-server` on a free loopback port (no persistence, as the tests run it: the `appendfsync
 * always` a deployment with shared record state needs would add an fsync per write).
 *
 * Load: CONCURRENCY pinned SDK initiators from this process (real handshakes: fetch the key
 * document once, encapsulate, confirm; then 64-byte records through `sessionRecords`), every
 * request on a new connection so that the primary of `--workers` deals them round-robin. The
 * three servers are measured in turns, sample after sample (A B C A B C …), and the median of each
 * is reported, so that a change in the machine's load hits all three alike. On a machine of few
 * cores the load generator, Redis and the workers share them: the numbers are what this machine
 * gives, not what the server alone could do.
 *
 * Without `redis-server` on PATH the section reports itself unavailable (the smoke run does not
 * fail for it).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  BenchFailure,
  check,
  childEnv,
  killGroup,
  median,
  start,
  startListening,
} from '../lib.mjs';
import { SLUG, loadSdk, serveCommand } from '../sdk.mjs';

const HOST = '127.0.0.1';
const CONCURRENCY = 8;
const RECORD = new Uint8Array(64).fill(7);

const CONFIGS = [
  { id: 'memory', label: 'memory stores, 1 process', args: [] },
  { id: 'redis-1', label: 'Redis, 1 process', redis: 1, args: [] },
  { id: 'redis-2', label: 'Redis, 2 workers', redis: 2, args: ['--workers', '2'] },
];

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'zeq-keyex-bench-redis-'));
  const port = await freePort();
  const redis = start(
    'redis-server',
    ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '', '--appendonly', 'no'],
    { timeoutMs: 900_000, detached: false },
  );
  const deadline = performance.now() + 10_000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = net.createConnection({ host: HOST, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (performance.now() > deadline) throw new BenchFailure('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://${HOST}:${port}`,
    async stop() {
      killGroup(redis.child, 'SIGTERM');
      await redis.done;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startServe(config, redisUrl, fieldKey) {
  const args = [
    '--disable-warning=ExperimentalWarning',
    ...serveCommand(HOST),
    '--echo',
    '--no-rate-limits',
    ...(config.redis === undefined ? [] : ['--redis', `${redisUrl}/${config.redis}`]),
    ...config.args,
  ];
  const { url, server } = await startListening(args, {
    env: childEnv({ ZEQ_FIELD_KEY: fieldKey }),
    what: `serve (${config.id})`,
    timeoutMs: 900_000,
  });
  return {
    url,
    async stop() {
      // The primary of --workers stops its workers on SIGTERM.
      server.child.kill('SIGTERM');
      let stopTimer;
      await Promise.race([server.done, new Promise((r) => (stopTimer = setTimeout(r, 10_000)))]);
      clearTimeout(stopTimer);
      killGroup(server.child);
    },
  };
}

/** A fetch on a new connection for every request (no keep-alive). */
async function freshFetch(request) {
  const body = request.method === 'GET' ? undefined : Buffer.from(await request.arrayBuffer());
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      request.url,
      { method: request.method, headers: Object.fromEntries(request.headers), agent: false },
      (incoming) => {
        const chunks = [];
        incoming.on('data', (c) => chunks.push(c));
        incoming.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(incoming.headers))
            if (typeof v === 'string') headers.set(k, v);
          resolve(new Response(Buffer.concat(chunks), { status: incoming.statusCode, headers }));
        });
        incoming.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** Runs `one` in CONCURRENCY lanes for `ms`; every call must succeed. Returns calls per second. */
async function rateOf(ms, one) {
  let done = 0;
  const t0 = performance.now();
  const deadline = t0 + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, lane) => {
      while (performance.now() < deadline) {
        await one(lane);
        done++;
      }
    }),
  );
  return (done * 1000) / (performance.now() - t0);
}

export async function run({ smoke }) {
  const redis = await startRedis();
  if (redis === undefined)
    return [{ section: 'shared', unavailable: 'redis-server is not on PATH' }];
  const sdk = await loadSdk();
  const fieldKey = randomBytes(32).toString('hex');
  const servers = [];
  try {
    for (const config of CONFIGS)
      servers.push({ config, ...(await startServe(config, redis.url, fieldKey)) });
    // One client per server (the key document is fetched once and pinned), one session per lane.
    for (const s of servers) {
      const probe = sdk.createClient({ origin: s.url, retry: 0, insecureUnpinned: true });
      const first = await probe.handshake(SLUG);
      s.client = sdk.createClient({
        origin: s.url,
        retry: 0,
        timeoutMs: 30_000,
        pins: { [SLUG]: first.fingerprint },
        fetch: freshFetch,
      });
      s.sessions = await Promise.all(
        Array.from({ length: CONCURRENCY }, () => s.client.handshake(SLUG)),
      );
      s.handshakes = [];
      s.records = [];
    }
    const sampleMs = smoke ? 150 : 2_000;
    const samples = smoke ? 1 : 5;
    for (let i = 0; i < samples; i++) {
      for (const s of servers) {
        s.handshakes.push(
          await rateOf(sampleMs, async () => {
            const session = await s.client.handshake(SLUG);
            check(typeof session.sessionId === 'string', 'a handshake gave no session');
            session.wipe();
          }),
        );
        s.records.push(
          await rateOf(sampleMs, async (lane) => {
            const reply = await sdk.sessionRecords(s.sessions[lane]).request(RECORD);
            check(reply.length === RECORD.length, 'a record was not echoed');
          }),
        );
      }
    }
    const base = servers[0];
    return servers.map((s) => ({
      section: 'shared',
      config: s.config.id,
      label: s.config.label,
      handshakesPerSec: median(s.handshakes),
      recordsPerSec: median(s.records),
      handshakesVsMemory: median(s.handshakes) / median(base.handshakes),
      recordsVsMemory: median(s.records) / median(base.records),
      samples,
      sampleMs,
      concurrency: CONCURRENCY,
      cores: os.cpus().length,
    }));
  } finally {
    for (const s of servers) await s.stop();
    await redis.stop();
  }
}
