#!/usr/bin/env node
/**
 * `npm run soak`: drives `zeq-keyex serve` (the built package, `dist/cli.js`) for a bounded time
 * with a mix of valid handshakes and records, junk, floods and slow bodies; prints the server's
 * RSS over time, the answers of each kind and the valid client's p99; fails if the RSS does not
 * plateau or the valid client is starved. Loopback only (127.0.0.1, a port the system picks).
 *
 * Options:
 *   --smoke          ~10 s instead of ~60 s (CI's short form)
 *   --seconds=N      run for N seconds (5 … 600)
 *   --heap-mib=N     the server's V8 old-space limit (default SERVER_HEAP_MIB; 0: Node's own)
 *
 * Traffic, all at once, every loop bounded by the deadline and by a count:
 *   valid   one client: a pinned handshake, then 4 echo records on its session, again and again.
 *   junk    unknown slugs and paths, wrong methods and content types, malformed JSON, bodies over
 *           the handshake's 8 KiB cap, records for unknown sessions, random bytes as records.
 *   flood   handshakes with random 1088-byte cipher_texts (each one is accepted: ML-KEM never
 *           fails decapsulation), paced at FLOOD_PER_SECOND: within the replay memory's documented
 *           capacity (10,000 a minute), beyond which every handshake, the valid client's too, is
 *           `429 rate_limited` by design. And bursts of connections opened and dropped.
 *   slow    requests whose body trickles in a byte at a time, cut by the server's request limit.
 *
 * Pass criteria (documented in docs/security.md, "Soak run"):
 *   plateau  the highest RSS of the last third of the run is at most the highest of the middle
 *            third plus PLATEAU_MARGIN (a fraction of it) or PLATEAU_SLACK_BYTES, whichever is larger.
 *   starved  the valid client never fails, completes a handshake and a record in every interval
 *            after the first, and its p99 stays under STARVED_P99_MS.
 *   clean    the server answers no 5xx, and exits 0 on SIGTERM.
 *
 * The server runs with its old space limited (SERVER_HEAP_MIB), so that its RSS follows its live
 * memory rather than how long V8 waits before a major collection: without a limit, V8 grows the
 * heap first and collects later, and the RSS of a minute's run climbs in steps whatever is live.
 * A leak then shows as RSS that keeps growing, or as the server dying of an out-of-memory error
 * (the valid client fails, the server does not exit 0).
 *
 * Exit status: 0 when every criterion holds, 1 otherwise (the table is printed either way).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient, sessionRecords } from 'zeq-keyex';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const SLUG = 'edge-01';
/** RSS may grow by this fraction of the middle third's highest value… */
const PLATEAU_MARGIN = 0.1;
/** …or by this many bytes, whichever is larger (V8 settles its heap in steps of a few MiB). */
const PLATEAU_SLACK_BYTES = 16 * 1024 * 1024;
/** The valid client's 99th percentile above this is starvation. */
const STARVED_P99_MS = 2_000;
/** The server's V8 old-space limit in MiB (`--max-old-space-size`); see the header. */
const SERVER_HEAP_MIB = 96;
/** Random handshakes a second: 9,000 a minute, under the replay memory's 10,000. */
const FLOOD_PER_SECOND = 150;
/** How often the server's RSS is read. */
const SAMPLE_MS = 250;
/** Requests in flight per kind of attack (below the server's 256 connections). */
const JUNK_CONCURRENCY = 4;
const FLOOD_CONCURRENCY = 2;
const CONNECTION_BURST = 32;
const SLOW_CONCURRENCY = 16;
/** The server's request limit in this run, so that slow bodies are cut within it. */
const REQUEST_TIMEOUT_MS = 2_000;
/** Each loop stops after this many iterations even before its deadline. */
const MAX_ITERATIONS = 1_000_000;
/**
 * Who each client is to the server's per-client token buckets: `serve` trusts `X-Forwarded-For`
 * from 127.0.0.1 (`--trust-proxy`), and every request names a client there. The valid client is
 * one address (documentation range, never contacted); junk and floods rotate over
 * ATTACKER_ADDRESSES others, so that the flood stays a flood (a distributed one) instead of
 * being throttled at its first address.
 */
const VALID_ADDRESS = '192.0.2.10';
const ATTACKER_ADDRESSES = 64;
/** The valid client's pace: at most this many handshakes a second, under the per-client limit. */
const VALID_HANDSHAKES_PER_SECOND = 4;
let attackerTurn = 0;
const attackerAddress = () => `198.51.100.${(attackerTurn++ % ATTACKER_ADDRESSES) + 1}`;

function parseArgs(argv) {
  let seconds = 60;
  let heapMib = SERVER_HEAP_MIB;
  for (const arg of argv) {
    if (arg === '--smoke') seconds = 10;
    else if (arg.startsWith('--seconds=')) seconds = Number(arg.slice('--seconds='.length));
    else if (arg.startsWith('--heap-mib=')) heapMib = Number(arg.slice('--heap-mib='.length));
    else throw new TypeError(`unknown argument ${arg} (see the header of scripts/soak.mjs)`);
  }
  if (!Number.isInteger(seconds) || seconds < 5 || seconds > 600)
    throw new RangeError('--seconds must be an integer in [5, 600]');
  if (!Number.isInteger(heapMib) || heapMib < 0 || heapMib > 65_536)
    throw new RangeError('--heap-mib must be an integer in [0, 65536]');
  return { seconds, heapMib };
}

/** Starts the server; resolves with its origin once it prints `listening on`. */
async function startServer(heapMib) {
  const child = spawn(
    process.execPath,
    [
      ...(heapMib === 0 ? [] : [`--max-old-space-size=${heapMib}`]),
      CLI,
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--machine',
      `${SLUG}=machine:${SLUG}`,
      '--echo',
      '--headers-timeout-ms',
      String(REQUEST_TIMEOUT_MS),
      '--request-timeout-ms',
      String(REQUEST_TIMEOUT_MS),
      '--trust-proxy',
      '127.0.0.1',
    ],
    {
      env: { ...process.env, ZEQ_FIELD_KEY: randomBytes(32).toString('hex') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    if (stderr.length < 65_536) stderr += d;
  });
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const origin = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error('the server did not start within 10 s')),
      10_000,
    );
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening: ${stderr}`));
    });
  });
  return { child, origin, exited, stderr: () => stderr };
}

/** The server's resident set size in bytes, from /proc (undefined where there is none). */
function rssOf(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const mib = (bytes) => (bytes / 1024 / 1024).toFixed(1);
const ms = (value) => (Number.isNaN(value) ? '—' : value.toFixed(1));

/** Counts per interval: `bucket(t)` gives the interval's counters. */
function makeStats(intervalMs, startedAt) {
  const buckets = [];
  return {
    buckets,
    at() {
      const index = Math.floor((performance.now() - startedAt) / intervalMs);
      while (buckets.length <= index)
        buckets.push({ rss: 0, latencies: [], handshakes: 0, records: 0, failures: 0, kinds: {} });
      return buckets[index];
    },
  };
}

function count(bucket, kind, outcome) {
  const key = `${kind} ${outcome}`;
  bucket.kinds[key] = (bucket.kinds[key] ?? 0) + 1;
}

/** Runs `body` until the deadline, at most MAX_ITERATIONS times. */
async function until(deadline, body) {
  for (let i = 0; i < MAX_ITERATIONS && performance.now() < deadline; i++) await body(i);
}

/** The valid client: handshakes and records, each timed. */
async function validClient(origin, fingerprint, deadline, stats) {
  const client = createClient({
    origin,
    pins: { [SLUG]: fingerprint },
    retry: 0,
    timeoutMs: 10_000,
    headers: { 'x-forwarded-for': VALID_ADDRESS },
  });
  const started = performance.now();
  await until(deadline, async (i) => {
    const wait = started + (i * 1_000) / VALID_HANDSHAKES_PER_SECOND - performance.now();
    if (wait > 0) await sleep(Math.min(wait, Math.max(0, deadline - performance.now())));
    if (performance.now() >= deadline) return;
    const timed = async (what, fn) => {
      const started = performance.now();
      try {
        const result = await fn();
        const bucket = stats.at();
        bucket.latencies.push(performance.now() - started);
        bucket[what]++;
        return result;
      } catch (error) {
        const bucket = stats.at();
        bucket.failures++;
        count(bucket, 'valid', error?.code ?? error?.name ?? 'error');
        return undefined;
      }
    };
    const session = await timed('handshakes', () => client.handshake(SLUG));
    if (session === undefined) return;
    const records = sessionRecords(session);
    for (let i = 0; i < 4 && performance.now() < deadline; i++) {
      const plaintext = randomBytes(64 + i * 256);
      await timed('records', async () => {
        const reply = await records.request(plaintext);
        if (!Buffer.from(reply).equals(plaintext)) throw new Error('echo mismatch');
      });
    }
    session.wipe();
  });
}

/** One request; the answer counted by status (or by the failure of the connection). */
async function request(stats, kind, url, init) {
  try {
    const headers = new Headers(init?.headers);
    headers.set('x-forwarded-for', attackerAddress());
    const response = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    count(stats.at(), kind, String(response.status));
  } catch (error) {
    count(stats.at(), kind, error?.cause?.code ?? error?.name ?? 'error');
  }
}

/** Junk of every kind the responder must refuse with a §7 error. */
function junkRequests(origin) {
  const api = `${origin}/api/keyex`;
  const json = { 'content-type': 'application/json' };
  const octets = { 'content-type': 'application/octet-stream' };
  const session = 'A'.repeat(22);
  return [
    () => [`${api}/nobody-${randomBytes(4).toString('hex')}/pubkey`, {}],
    () => [`${origin}/${randomBytes(6).toString('hex')}`, {}],
    () => [`${api}/${SLUG}/handshake`, {}],
    () => [`${api}/${SLUG}/pubkey`, { method: 'DELETE' }],
    () => [
      `${api}/${SLUG}/handshake`,
      { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' },
    ],
    () => [`${api}/${SLUG}/handshake`, { method: 'POST', headers: json, body: '{"cipher_text":' }],
    () => [
      `${api}/${SLUG}/handshake`,
      {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ cipher_text: 'AAAA', fingerprint: 'ab' }),
      },
    ],
    () => [
      `${api}/${SLUG}/handshake`,
      { method: 'POST', headers: json, body: 'x'.repeat(9 * 1024) },
    ],
    () => [
      `${api}/${SLUG}/sessions/${session}/records`,
      { method: 'POST', headers: octets, body: randomBytes(64) },
    ],
    () => [
      `${api}/${SLUG}/sessions/not-a-session/records`,
      { method: 'POST', headers: octets, body: randomBytes(64) },
    ],
  ];
}

async function junk(origin, deadline, stats) {
  const kinds = junkRequests(origin);
  await Promise.all(
    Array.from({ length: JUNK_CONCURRENCY }, (_, worker) =>
      until(deadline, (i) => {
        const [url, init] = kinds[(i * JUNK_CONCURRENCY + worker) % kinds.length]();
        return request(stats, 'junk', url, init);
      }),
    ),
  );
}

/**
 * Handshakes with random cipher_texts, each opening a session the attacker cannot use, paced at
 * FLOOD_PER_SECOND (slower only when the server is).
 */
async function handshakeFlood(origin, fingerprint, deadline, stats) {
  const url = `${origin}/api/keyex/${SLUG}/handshake`;
  const started = performance.now();
  const periodMs = (1_000 * FLOOD_CONCURRENCY) / FLOOD_PER_SECOND;
  await Promise.all(
    Array.from({ length: FLOOD_CONCURRENCY }, () =>
      until(deadline, async (i) => {
        await request(stats, 'flood', url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ cipher_text: randomBytes(1088).toString('base64'), fingerprint }),
        });
        const wait = started + (i + 1) * periodMs - performance.now();
        if (wait > 0) await sleep(Math.min(wait, deadline - performance.now()));
      }),
    ),
  );
}

/** Bursts of connections that send half a request line and are dropped. */
async function connectionFlood(origin, deadline, stats) {
  const { hostname, port } = new URL(origin);
  await until(deadline, async () => {
    const sockets = await Promise.all(
      Array.from(
        { length: CONNECTION_BURST },
        () =>
          new Promise((resolve) => {
            const socket = net.connect({ host: hostname, port: Number(port) });
            socket.on('error', () => {});
            socket.once('connect', () => {
              socket.write('GET /api/keyex/');
              resolve(socket);
            });
            socket.once('close', () => resolve(socket));
          }),
      ),
    );
    await sleep(200);
    for (const socket of sockets) socket.destroy();
    count(stats.at(), 'connections', `${CONNECTION_BURST} dropped`);
  });
}

/** Requests whose body trickles in a byte every 100 ms; the server must cut them. */
async function slowBodies(origin, deadline, stats) {
  const { hostname, port } = new URL(origin);
  const one = () =>
    new Promise((resolve) => {
      const socket = net.connect({ host: hostname, port: Number(port) });
      let answer = '';
      let timer;
      const done = (outcome) => {
        clearInterval(timer);
        socket.destroy();
        count(stats.at(), 'slow', outcome);
        resolve();
      };
      socket.setEncoding('utf8');
      socket.on('data', (d) => {
        answer += d;
      });
      socket.on('error', () => {});
      socket.once('close', () => done(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 'closed'));
      socket.once('connect', () => {
        socket.write(
          `POST /api/keyex/${SLUG}/handshake HTTP/1.1\r\nHost: ${hostname}\r\n` +
            'Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n{',
        );
        timer = setInterval(() => socket.write(' '), 100);
      });
      // Never longer than the run: a server that does not cut the body is reported, not waited on.
      setTimeout(() => done('not cut'), Math.max(0, deadline - performance.now()) + 5_000).unref();
    });
  await Promise.all(Array.from({ length: SLOW_CONCURRENCY }, () => until(deadline, one)));
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main() {
  const { seconds, heapMib } = parseArgs(process.argv.slice(2));
  const intervalMs = seconds <= 15 ? 1_000 : 5_000;
  const server = await startServer(heapMib);
  console.log(
    `soak: ${seconds} s against ${server.origin} (pid ${server.child.pid}), node ${process.version}, ` +
      `server old space ${heapMib === 0 ? "Node's default" : `${heapMib} MiB`}`,
  );
  const started = performance.now();
  const deadline = started + seconds * 1_000;
  const stats = makeStats(intervalMs, started);
  const samples = [];
  const sampler = setInterval(() => {
    const rss = rssOf(server.child.pid);
    if (rss === undefined) return;
    samples.push({ t: performance.now() - started, rss });
    const bucket = stats.at();
    bucket.rss = Math.max(bucket.rss, rss);
  }, SAMPLE_MS);

  let failure;
  try {
    const doc = await (await fetch(`${server.origin}/api/keyex/${SLUG}/pubkey`)).json();
    await Promise.all([
      validClient(server.origin, doc.fingerprint, deadline, stats),
      junk(server.origin, deadline, stats),
      handshakeFlood(server.origin, doc.fingerprint, deadline, stats),
      connectionFlood(server.origin, deadline, stats),
      slowBodies(server.origin, deadline, stats),
    ]);
  } catch (error) {
    failure = error;
  } finally {
    clearInterval(sampler);
  }
  server.child.kill('SIGTERM');
  const exit = await Promise.race([
    server.exited,
    sleep(10_000, { code: null, signal: 'timeout' }),
  ]);
  if (exit.signal === 'timeout') server.child.kill('SIGKILL');

  // The last interval may be a sliver past the deadline: it is left out of the table.
  const buckets = stats.buckets.slice(0, Math.ceil((seconds * 1_000) / intervalMs));
  const kinds = [...new Set(buckets.flatMap((b) => Object.keys(b.kinds)))].sort();
  console.log(
    '\n' +
      table(
        ['t (s)', 'RSS (MiB)', 'handshakes', 'records', 'p99 (ms)', 'valid failures'],
        buckets.map((b, i) => [
          `${(i * intervalMs) / 1_000}–${((i + 1) * intervalMs) / 1_000}`,
          mib(b.rss),
          b.handshakes,
          b.records,
          ms(percentile(b.latencies, 99)),
          b.failures,
        ]),
      ),
  );
  console.log(
    '\n' +
      table(
        ['answers', 'count'],
        kinds.map((k) => [k, buckets.reduce((n, b) => n + (b.kinds[k] ?? 0), 0)]),
      ),
  );

  const problems = [];
  if (failure !== undefined) problems.push(`the run failed: ${failure.message}`);
  const third = (seconds * 1_000) / 3;
  const maxOf = (from, to) =>
    Math.max(0, ...samples.filter((s) => s.t >= from && s.t < to).map((s) => s.rss));
  const middle = maxOf(third, 2 * third);
  const last = maxOf(2 * third, 3 * third);
  const allowed = middle + Math.max(middle * PLATEAU_MARGIN, PLATEAU_SLACK_BYTES);
  if (samples.length === 0) problems.push('no RSS sample (is /proc mounted?)');
  else if (last > allowed)
    problems.push(
      `RSS does not plateau: last third ${mib(last)} MiB > ${mib(allowed)} MiB allowed`,
    );
  const latencies = buckets.flatMap((b) => b.latencies);
  const p99 = percentile(latencies, 99);
  const validFailures = buckets.reduce((n, b) => n + b.failures, 0);
  if (validFailures > 0) problems.push(`the valid client failed ${validFailures} times`);
  const idle = buckets.slice(1).filter((b) => b.handshakes === 0 || b.records === 0).length;
  if (idle > 0) problems.push(`the valid client was starved in ${idle} intervals`);
  if (!(p99 <= STARVED_P99_MS))
    problems.push(`the valid client's p99 ${ms(p99)} ms > ${STARVED_P99_MS} ms`);
  const errors5xx = kinds.filter((k) => / 5\d\d$/.test(k));
  if (errors5xx.length > 0) problems.push(`the server answered ${errors5xx.join(', ')}`);
  if (kinds.some((k) => k === 'slow not cut')) problems.push('a slow body was never cut');
  if (exit.code !== 0)
    problems.push(`the server did not exit 0 on SIGTERM (${exit.code ?? exit.signal})`);

  console.log(
    `\nRSS: middle third max ${mib(middle)} MiB, last third max ${mib(last)} MiB (allowed ${mib(allowed)} MiB)` +
      `\nvalid client: ${latencies.length} operations, p99 ${ms(p99)} ms (bound ${STARVED_P99_MS} ms), ${validFailures} failures` +
      `\nserver exit on SIGTERM: ${exit.code ?? exit.signal}`,
  );
  if (problems.length > 0) {
    console.log(`\nsoak FAILED:\n- ${problems.join('\n- ')}`);
    if (server.stderr() !== '') console.log(`server stderr:\n${server.stderr()}`);
    process.exitCode = 1;
  } else console.log('\nsoak passed');
}

await main();
