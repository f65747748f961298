/**
 * Section 3: real HTTP on loopback. `zeq-keyex serve` (the built CLI, `dist/cli.js`, under this
 * runtime) in its own process; a fixed number of concurrent initiators for a bounded time and a
 * bounded count, from this process: `autocannon` when it is installed, else a small keep-alive
 * client loop of the same shape. Only 127.0.0.1.
 *
 * - Handshakes: `POST …/handshake`, each with a fresh ciphertext made beforehand for the server's
 *   key (a replayed one is refused by design), so the load generator spends no time on the KEM.
 *   Every answer must be `200` with a session; a real pinned SDK handshake (key confirmation
 *   checked) runs against the same server before and after the load.
 * - Key documents: `GET …/pubkey`.
 * - Baseline: the handshake load against a bare `node:http` server (`bench/bare-server.mjs`) that
 *   reads the body and answers a fixed 200: what one Node process can serve here at all.
 * - The protocol's floor: the same load against `bench/minimal-server.mjs`, the least a `node:http`
 *   server can do and still answer handshakes correctly (the SDK's KEM, transcript, HKDF and key
 *   confirmation, sessions in a `Map`, no defences): what the protocol itself costs one process.
 *
 * `serve` runs with every defence on (its defaults: per-client token buckets, the cap on
 * decapsulations in flight, the replay memory, the connection cap and time limits) and
 * `--trust-proxy 127.0.0.1`; every request names its client in `X-Forwarded-For`, rotating over
 * CLIENT_ADDRESSES addresses (as `npm run soak` does), so that the load is many clients, each
 * under its handshake bucket, rather than one address the buckets would throttle. One more row
 * runs the same load against `serve --no-rate-limits` (what the buckets cost), and the bare
 * server gets the same requests and headers.
 *
 * Each scenario starts its own server, so its peak RSS (`VmHWM`) is its own. The bound is raw
 * decapsulation on one core of the backend the server uses, measured here with no server running,
 * before the loads and after them: the median of both, so that a change in the machine's
 * background load during the run hits both sides of the ratio.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  ROOT,
  check,
  childEnv,
  killGroup,
  measureRates,
  median,
  percentile,
  startListening,
} from '../lib.mjs';
import { rawKems, selfTest } from '../kem-raw.mjs';
import { CLI, RAW_OF, SLUG, loadSdk, resolveBackend, serveCommand } from '../sdk.mjs';

const BARE_SERVER = path.join(ROOT, 'bench', 'bare-server.mjs');
const MINIMAL_SERVER = path.join(ROOT, 'bench', 'minimal-server.mjs');
const HOST = '127.0.0.1';
const CONNECTIONS = 16;
/** `getconf CLK_TCK` on Linux: the unit of the CPU times in `/proc/<pid>/stat`. */
const CLOCK_TICKS_PER_SECOND = 100;
/**
 * Client addresses the load rotates over in `X-Forwarded-For` (from 198.18.0.0/15, the range set
 * aside for benchmarks): under the responder's 10,000 tracked clients, so that every bucket is
 * kept and consulted, and enough that at 10,000 requests a second each client sends about 2.5 a
 * second, under its 5 a second.
 */
const CLIENT_ADDRESSES = 4_096;

/** The configurations measured, each its own server; `route` is what the load asks for. */
const SCENARIOS = [
  { id: 'handshake', route: 'handshake', server: 'defended' },
  { id: 'baseline', route: 'handshake', server: 'bare' },
  { id: 'minimal', route: 'handshake', server: 'minimal' },
  { id: 'handshake-unlimited', route: 'handshake', server: 'unlimited' },
  { id: 'pubkey', route: 'pubkey', server: 'defended' },
];

let clientTurn = 0;
/** The next client's address, as a trusted proxy would name it. */
function nextClient() {
  const n = clientTurn++ % CLIENT_ADDRESSES;
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

/** autocannon from the project's dependencies, else from `.tmp/bench-deps` (a local install). */
function loadAutocannon() {
  for (const base of [
    path.join(ROOT, 'package.json'),
    path.join(ROOT, '.tmp', 'bench-deps', 'package.json'),
  ]) {
    try {
      const require = createRequire(base);
      return {
        autocannon: require('autocannon'),
        version: require('autocannon/package.json').version,
        from: path.relative(ROOT, path.dirname(base)) || '.',
      };
    } catch {
      // Next place.
    }
  }
  return undefined;
}

/** Starts `zeq-keyex serve` on a free loopback port; resolves once it listens. */
async function startServer({ profileDir, kind = 'defended' } = {}) {
  const REFERENCE = { bare: BARE_SERVER, minimal: MINIMAL_SERVER };
  const command =
    REFERENCE[kind] === undefined
      ? serveCommand(
          HOST,
          // The load names its clients in X-Forwarded-For, as a proxy in front would.
          '--trust-proxy',
          HOST,
          ...(kind === 'unlimited' ? ['--no-rate-limits'] : []),
        )
      : [REFERENCE[kind], HOST];
  const args = [
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    '--disable-warning=ExperimentalWarning',
    ...command,
  ];
  const { url, server } = await startListening(args, {
    env: childEnv({ ZEQ_FIELD_KEY: randomBytes(32).toString('hex') }),
    what: 'zeq-keyex serve',
  });
  return {
    url,
    pid: server.child.pid,
    memory() {
      // Linux: the resident set now and its peak so far.
      const file = `/proc/${server.child.pid}/status`;
      if (!existsSync(file)) return { rss: Number.NaN, peak: Number.NaN };
      const status = readFileSync(file, 'utf8');
      const kib = (name) =>
        Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
      return { rss: kib('VmRSS'), peak: kib('VmHWM') };
    },
    /** CPU time the server has used so far (user + system), in ms; Linux only, else NaN. */
    cpuMs() {
      const file = `/proc/${server.child.pid}/stat`;
      if (!existsSync(file)) return Number.NaN;
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const fields = readFileSync(file, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
    },
    async stop() {
      killGroup(server.child, 'SIGTERM');
      let timer;
      const stopped = await Promise.race([
        server.done,
        new Promise((r) => (timer = setTimeout(r, 5_000))),
      ]);
      clearTimeout(timer);
      if (stopped === undefined) killGroup(server.child);
      return server.done;
    },
  };
}

/** A keep-alive loop: `connections` initiators, each one request at a time, bounded in time and count. */
async function ownLoad({ url, connections, durationMs, amount, request, onResponse }) {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies = [];
  let sent = 0;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  const one = (req) =>
    new Promise((resolve) => {
      const started = performance.now();
      const r = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: req.method,
          headers: req.headers,
          agent,
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            latencies.push(performance.now() - started);
            if (res.statusCode >= 200 && res.statusCode < 300) ok++;
            else non2xx++;
            onResponse?.(res.statusCode, Buffer.concat(chunks).toString('utf8'));
            resolve();
          });
          res.on('error', () => {
            errors++;
            resolve();
          });
        },
      );
      r.on('error', () => {
        errors++;
        resolve();
      });
      r.end(req.body);
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline && sent < amount) {
        sent++;
        await one(request());
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return {
    completed: ok,
    seconds,
    non2xx,
    errors,
    timeouts: 0,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** The same load through autocannon. */
function autocannonLoad(ac, { url, connections, durationMs, amount, request, onResponse }) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const template = request();
    const instance = ac.autocannon(
      {
        url,
        connections,
        amount,
        duration: Math.ceil(durationMs / 1000) + 1,
        timeout: 10,
        requests: [
          {
            method: template.method,
            headers: template.headers,
            ...(template.body === undefined ? {} : { body: template.body }),
            // Each request its own client (and body): autocannon rebuilds it from these.
            setupRequest: (req) => {
              const next = request();
              return {
                ...req,
                headers: next.headers,
                ...(next.body === undefined ? {} : { body: next.body }),
              };
            },
            onResponse: (status, body) => onResponse?.(status, body),
          },
        ],
      },
      (error, result) => {
        clearTimeout(stopper);
        if (error) return reject(error);
        // autocannon counts until its next one-second tick after the stop; its own duration matches its counts.
        const seconds =
          Number.isFinite(result.duration) && result.duration > 0
            ? result.duration
            : (performance.now() - t0) / 1000;
        resolve({
          completed: result['2xx'],
          seconds,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          p50: result.latency.p50,
          p99: result.latency.p99,
        });
      },
    );
    // `amount` would outlast `duration`: stop at the time bound whatever is left.
    const stopper = setTimeout(() => instance.stop(), durationMs);
  });
}

/** Handshake requests with random ciphertexts: a decapsulation each, like real ones (ML-KEM never fails). */
function randomHandshake(doc) {
  return () => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': nextClient() },
    body: JSON.stringify({
      cipher_text: randomBytes(1088).toString('base64'),
      fingerprint: doc.fingerprint,
    }),
  });
}

/**
 * Single-core raw decapsulation of the backend the server uses, measured here with no server
 * running: the samples of one measurement (see {@link run}, which takes one before the loads and
 * one after, so that a change of the machine's background load hits both sides of the ratio).
 */
async function decapsulationSamples(raw, timing) {
  const keys = await raw.keygen();
  const { cipherText } = await raw.encapsulate(keys.publicKey);
  const rates = await measureRates(
    [{ name: 'decaps', fn: () => raw.decapsulate(keys.privateKey, cipherText) }],
    timing,
  );
  return rates.decaps.samples;
}

export async function run({ timing, smoke, profile, generator: generatorChoice }) {
  check(existsSync(CLI), 'dist/cli.js is missing: build first');
  const sdk = await loadSdk();
  // `--generator=builtin` forces the built-in loop even where autocannon is installed.
  const ac = generatorChoice === 'builtin' ? undefined : loadAutocannon();
  const raws = await rawKems();
  for (const raw of raws) if (raw.available) await selfTest(raw);
  // `zeq-keyex serve` uses the default backend of the Node build on this runtime: the same answer
  // as a default responder here (same binary, same build).
  const { backend: serverKem = 'noble' } = await resolveBackend(sdk, {});
  const backendRaw = raws.find((r) => r.id === RAW_OF[serverKem] && r.available) ?? raws[0];
  const encapsulator = raws.find((r) => r.id === 'node:crypto' && r.available) ?? raws[0];
  const durations = smoke
    ? { handshake: 1_000, pubkey: 500, baseline: 500 }
    : { handshake: 4_000, pubkey: 2_000, baseline: 2_000 };
  const generator = ac
    ? `autocannon ${ac.version}`
    : `built-in keep-alive loop${generatorChoice === 'builtin' ? '' : ' (autocannon not installed)'}`;

  const boundSamples = await decapsulationSamples(backendRaw, timing);

  const verifyOverHttp = async (url) => {
    const client = sdk.createClient({ origin: url, retry: 0 });
    const doc = await client.fetchKeyDocument(SLUG);
    const pinned = sdk.createClient({ origin: url, pins: { [SLUG]: doc.fingerprint }, retry: 0 });
    const session = await pinned.handshake(SLUG);
    check(session.authenticated, 'the pinned handshake over HTTP is not authenticated');
    session.wipe();
    return doc;
  };

  const results = [];
  let doc;
  for (const { id: scenario, route: routeName, server: kind } of SCENARIOS) {
    if (profile !== undefined && profile.case !== scenario) continue;
    const bare = kind === 'bare';
    const server = await startServer({
      kind,
      ...(profile === undefined ? {} : { profileDir: profile.dir }),
    });
    try {
      // The baseline answers anything: it is loaded with the handshake requests of the real server.
      if (!bare) doc = await verifyOverHttp(server.url);
      const idle = server.memory();
      const route = `${server.url}/api/keyex/${SLUG}/${routeName}`;
      const base = {
        url: route,
        connections: CONNECTIONS,
        durationMs: durations[bare ? 'baseline' : routeName],
      };
      const pubkey = () => ({
        method: 'GET',
        headers: { accept: 'application/json', 'x-forwarded-for': nextClient() },
      });
      // Warm the server's JIT first with the same requests (random ciphertexts cost a
      // decapsulation like real ones); not counted, but its rate sizes the pool of ciphertexts.
      let warmRate = Number.NaN;
      if (!smoke) {
        const warm = {
          ...base,
          durationMs: 1_500,
          amount: 10_000_000,
          request: routeName === 'pubkey' ? pubkey : randomHandshake(doc),
        };
        const warmed = ac ? await autocannonLoad(ac, warm) : await ownLoad(warm);
        check(
          warmed.non2xx + warmed.errors === 0,
          `${scenario}: the warm-up load had failed requests`,
        );
        warmRate = warmed.completed / warmed.seconds;
      }
      let request = pubkey;
      let amount = 10_000_000;
      let malformed = 0;
      let spares = 0;
      let onResponse = (status, body) => {
        if (status === 200 && !body.includes(doc.fingerprint)) malformed++;
      };
      if (bare) {
        request = randomHandshake(doc);
        onResponse = () => undefined;
      } else if (routeName === 'handshake') {
        // Fresh ciphertexts for half as much again as the warm-up rate over the duration; should
        // the server go faster, the run ends early when they are used up (the rate stays valid).
        amount = smoke
          ? 300
          : Math.max(500, Math.ceil((warmRate * durations.handshake * 1.5) / 1000));
        const bodies = [];
        // A few spare: a load generator may build a request per connection that it never sends.
        for (let i = 0; i < amount + 2 * CONNECTIONS; i++) {
          const { cipherText } = await encapsulator.encapsulate(doc.publicKey);
          bodies.push(
            JSON.stringify({
              cipher_text: sdk.base64Encode(cipherText),
              fingerprint: doc.fingerprint,
            }),
          );
        }
        let next = 0;
        const spare = randomHandshake(doc);
        request = () => {
          if (next < bodies.length)
            return {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-forwarded-for': nextClient() },
              body: bodies[next++],
            };
          // Not expected (the count is bounded); a random ciphertext costs the server the same.
          spares++;
          return spare();
        };
        onResponse = (status, body) => {
          if (status !== 200) return;
          try {
            const answer = JSON.parse(body);
            if (
              typeof answer.session_id !== 'string' ||
              typeof answer.key_confirmation !== 'string' ||
              answer.fingerprint !== doc.fingerprint
            )
              malformed++;
          } catch {
            malformed++;
          }
        };
      }
      const options = { ...base, amount, request, onResponse };
      const cpuBefore = server.cpuMs();
      const load = ac ? await autocannonLoad(ac, options) : await ownLoad(options);
      const cpuMs = server.cpuMs() - cpuBefore;
      const peak = server.memory();
      if (!bare) await verifyOverHttp(server.url);
      const errors = load.non2xx + load.errors + load.timeouts + malformed;
      const perSec = load.completed / load.seconds;
      results.push({
        section: 'http',
        scenario,
        route: routeName,
        configuration: kind,
        clients: CLIENT_ADDRESSES,
        backend: bare ? 'bare node:http (fixed answer)' : `default → ${serverKem}`,
        raw: backendRaw.id,
        generator,
        connections: CONNECTIONS,
        seconds: load.seconds,
        completed: load.completed,
        perSec,
        p50: load.p50,
        p99: load.p99,
        errors,
        errorDetail: {
          non2xx: load.non2xx,
          socket: load.errors,
          timeouts: load.timeouts,
          malformed,
        },
        // The server's CPU time per answered request: steadier than the rate on a shared machine.
        cpuPerRequestMs: cpuMs / (load.completed + load.non2xx),
        idleRss: idle.rss,
        peakRss: peak.peak,
        boundPerSec: Number.NaN,
        ratio: Number.NaN,
        warmRate,
        spares,
      });
    } finally {
      await server.stop();
    }
  }
  // The bound again, now that the servers are gone: the ratio uses the median of both measurements.
  if (results.some((r) => r.route === 'handshake' && r.configuration !== 'bare')) {
    boundSamples.push(...(await decapsulationSamples(backendRaw, timing)));
    const bound = median(boundSamples);
    for (const r of results.filter((x) => x.route === 'handshake' && x.configuration !== 'bare'))
      Object.assign(r, { boundPerSec: bound, ratio: r.perSec / bound, boundSamples });
  }
  return results;
}
