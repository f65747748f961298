/**
 * `zeq-keyex serve`: a responder (spec §2, and §3.1 with `--echo`, §4 with the Mode-B options)
 * over HTTP until SIGINT/SIGTERM.
 *
 * Caveats: the field key comes from `ZEQ_FIELD_KEY` only (never a flag, which `ps` would show)
 * and is never echoed, not even when malformed. Without `--store` keys live in memory and
 * fingerprints change on restart (warned about on stderr). With `--redis URL` (or `ZEQ_REDIS_URL`)
 * keys, sessions, replay tags and seeds live in Redis, shared with every `serve` on the same Redis
 * (`serve-redis.ts`); `/healthz` and `/readyz` are served either way (`../health.ts`).
 *
 * Which slugs are served: exactly those given by `--machine`. An operator may instead opt into
 * `--auto-provision N`: any valid slug is served as its own machine_id, and at most N slugs ever
 * obtain a key. Only a slug that obtained a key counts (a junk request, a refused POST, a slug
 * asked about but never given a key counts for nothing), and the count starts from the keys
 * already in `--store`, so restarts never add N more.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { ALGS, type Alg } from '../../core/constants.js';
import { parseFieldKey } from '../../core/sealing.js';
import { DEFAULT_MAX_IN_FLIGHT_DECAPSULATIONS } from '../../responder/admission.js';
import { createIdentity } from '../../responder/identity.js';
import type { IdentityStore } from '../../responder/identity-store.js';
import { createResponder } from '../../responder/responder.js';
import type { ResponderOptions } from '../../responder/options.js';
import { isZeqKeyExError } from '../../core/errors.js';
import { type KeyStore, createMemoryKeyStore } from '../../responder/stores.js';
import { createFileKeyStore } from '../file-key-store.js';
import type { Logger } from '../../responder/logger.js';
import { type RunningServer, SERVE_DEFAULTS, type ServeOptions, serve } from '../server.js';
import {
  type CliCommand,
  type CliIo,
  type CommandArgs,
  EXIT,
  UsageError,
  integerOption,
  reportFailure,
  stringListOption,
  stringOption,
} from './args.js';
import { jsonLog, logLevelArg, loggedRefusals } from './serve-log.js';
import { autoProvisioned, parseMachines } from './serve-machines.js';
import { SERVE_MODE_B_HELP, SERVE_MODE_B_OPTIONS, serveModeBOptions } from './serve-mode-b.js';
import { withHealthChecks } from '../health.js';
import {
  SERVE_REDIS_HELP,
  SERVE_REDIS_OPTIONS,
  type SharedStores,
  openSharedStores,
  redisUrlOf,
} from './serve-redis.js';
import { DEFAULT_SESSION_TTL_MS } from '../../responder/options.js';
import { type MetricFamily, type ResponderMetrics, createResponderMetrics } from '../metrics.js';
import {
  SERVE_METRICS_HELP,
  SERVE_METRICS_OPTIONS,
  metricsHandler,
  metricsPlanOf,
  withMetricsPath,
} from './serve-metrics.js';
import {
  SERVE_WORKERS_HELP,
  SERVE_WORKERS_OPTIONS,
  answerMetricsRequests,
  isServeWorker,
  leavePrimary,
  primaryGone,
  runPrimary,
  serveWorkerNumber,
  tellPrimaryListening,
  workersArg,
} from './serve-workers.js';

/** The highest `--auto-provision` bound: beyond it, name the machines with `--machine`. */
export const MAX_AUTO_PROVISION = 10_000;
/** The highest TCP port; `--port 0` asks the system for a free one. */
const MAX_PORT = 65_535;
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 8787;

/** `zeq-keyex serve`. */
export const serveCommand: CliCommand = {
  path: 'serve',
  help: `Usage: zeq-keyex serve (--machine SLUG=MACHINE_ID... | --auto-provision N) [--host ${DEFAULT_HOST}]
                       [--port ${DEFAULT_PORT}] [--store DIR] [--alg ALG] [--echo] [connection limits]
                       [--admin-token-file FILE] [--allow-http-peer HOST]... [--redis URL] [--identity]

Serves GET /api/keyex/:slug/pubkey and POST /api/keyex/:slug/handshake.
  --host HOST                 interface to bind (default ${DEFAULT_HOST})
  --port PORT                 port (default ${DEFAULT_PORT}; 0 picks a free one)
  --store DIR                 keep sealed keys in DIR, so fingerprints survive restarts
                              (default: in memory, lost on exit). DIR must not be accessible by
                              group or others (mode 0700; it is created so).
  --machine SLUG=MACHINE_ID   serve this machine (repeatable); no other slug is served
  --auto-provision N          instead of --machine: serve any valid slug as its own machine_id,
                              until N slugs have a key (counting the keys already in --store)
  --alg ALG                   the KEM of every machine's key: ML-KEM-768 (default) or X-Wing
                              (ML-KEM-768 + X25519, spec §9); a stored key of the other alg is
                              not served
  --identity                  sign every key document with the identity key kept in --store DIR
                              or --redis (spec §8; make it with 'zeq-keyex identity --store DIR
                              --create', or --redis URL);
                              refuses to start when there is none or it does not open. Prints
                              'identity <64 hex>' (what apps pin) on stderr
  --validity-seconds N        how long each signed document is valid (default 604800, seven
                              days; at most 2592000); it is signed again once half has passed
Key rotation: 'zeq-keyex rotate ORIGIN SLUG' (admin, with --admin-token-file) replaces a
machine's key while serving; the previous key answers for the documents' validity by default.
Connection limits (defaults fit a small public deployment):
  --max-connections N         open connections at most; more are closed at once (default ${SERVE_DEFAULTS.maxConnections})
  --headers-timeout-ms MS     a request's headers must arrive within MS (default ${SERVE_DEFAULTS.headersTimeoutMs})
  --request-timeout-ms MS     a whole request must arrive within MS (default ${SERVE_DEFAULTS.requestTimeoutMs})
  --keep-alive-timeout-ms MS  an idle connection is closed after MS (default ${SERVE_DEFAULTS.keepAliveTimeoutMs})
  --max-header-bytes N        request line and headers at most N bytes, else 431 (default ${SERVE_DEFAULTS.maxHeaderBytes})
Admission (per client address; see docs/security.md for the rate limits):
  --trust-proxy ADDR          believe X-Forwarded-For from this proxy address (repeatable); the
                              client is the right-most address there that is not a trusted proxy
  --max-in-flight-decapsulations N
                              handshakes decapsulating at once at most; more get 503 at once
                              (default ${DEFAULT_MAX_IN_FLIGHT_DECAPSULATIONS})
  --no-rate-limits            no per-client token buckets (only behind a proxy that limits
                              clients itself, or to measure throughput)
${SERVE_MODE_B_HELP}
  --cors-origin ORIGIN        let browser pages from ORIGIN (e.g. https://app.example) call the
                              responder (repeatable; '*' for any); admin routes stay closed
  --tls-cert FILE --tls-key FILE
                              serve HTTPS with this PEM certificate chain and private key (both
                              or neither; the key file should be readable by this user only)
  --log-level LEVEL           'warn' (default): one JSON line on stderr per refused request and
                              per failure; 'error': failures only; 'silent'. Never a secret.
${SERVE_REDIS_HELP}
${SERVE_WORKERS_HELP}
${SERVE_METRICS_HELP}
  --echo                      also serve POST /api/keyex/:slug/sessions/:session_id/records, answering
                              every encrypted record with the plaintext it carried
Environment: ZEQ_FIELD_KEY (required) — 64 hex characters; make one with 'zeq-keyex field-key'.
Prints 'listening on http://HOST:PORT' when ready; stops cleanly on SIGINT/SIGTERM.`,
  options: {
    host: { type: 'string', default: DEFAULT_HOST },
    port: { type: 'string', default: String(DEFAULT_PORT) },
    store: { type: 'string' },
    machine: { type: 'string', multiple: true, default: [] },
    'auto-provision': { type: 'string' },
    alg: { type: 'string' },
    'max-connections': { type: 'string' },
    'headers-timeout-ms': { type: 'string' },
    'request-timeout-ms': { type: 'string' },
    'keep-alive-timeout-ms': { type: 'string' },
    'max-header-bytes': { type: 'string' },
    'trust-proxy': { type: 'string', multiple: true, default: [] },
    'max-in-flight-decapsulations': { type: 'string' },
    'no-rate-limits': { type: 'boolean', default: false },
    identity: { type: 'boolean', default: false },
    'validity-seconds': { type: 'string' },
    ...SERVE_MODE_B_OPTIONS,
    ...SERVE_REDIS_OPTIONS,
    ...SERVE_WORKERS_OPTIONS,
    ...SERVE_METRICS_OPTIONS,
    echo: { type: 'boolean', default: false },
    'cors-origin': { type: 'string', multiple: true, default: [] },
    'log-level': { type: 'string', default: 'warn' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
  maxPositionals: 0,
  async run(args, io) {
    const host = stringOption(args, 'host') ?? DEFAULT_HOST;
    const port = integerOption(args, 'port', 0, MAX_PORT) ?? DEFAULT_PORT;
    const limits = { ...connectionLimits(args), ...(await tlsFiles(args)) };
    const log = jsonLog(
      logLevelArg(stringOption(args, 'log-level') ?? 'warn'),
      io,
      serveWorkerNumber(),
    );
    // Shared stores (--redis / ZEQ_REDIS_URL): opened first, closed on every way out.
    const redisUrl = redisUrlOf(args, io);
    const metricsPlan = metricsPlanOf(args);
    const workers = workersArg(args, redisUrl !== undefined);
    const isWorker = isServeWorker();
    if (workers !== undefined && !isWorker) {
      fieldKeyFrom(io); // a usage error said once, here, rather than by every worker
      return runPrimary(workers, io, metricsPlan);
    }
    const metrics =
      metricsPlan === undefined ? undefined : createResponderMetrics(DEFAULT_SESSION_TTL_MS);
    const shared =
      redisUrl === undefined ? undefined : openSharedStores(redisUrl, fieldKeyFrom(io), io);
    let responder;
    try {
      responder = createResponder(await responderOptions(args, io, log, shared, metrics));
    } catch (error) {
      await shared?.close();
      throw error;
    }
    try {
      // A shared store is given a moment to connect, so that its keys are checked now too.
      if (shared !== undefined) await storeAnswers(shared, SHARED_STORE_START_WAIT_MS);
      // Loud at start: a stored key that does not open (a wrong ZEQ_FIELD_KEY) stops it here.
      await responder.ready();
    } catch (error) {
      // A shared store that does not answer yet is not a wrong key: serve 503s until it does.
      if (shared === undefined || isZeqKeyExError(error, 'machine_unavailable')) {
        responder.close();
        await shared?.close();
        return reportFailure(io, false, error);
      }
      io.stderr('warning: the shared store does not answer; stored keys are checked when it does');
    }
    const ready = shared === undefined ? () => Promise.resolve(true) : () => shared.ready();
    const collect = (): Promise<MetricFamily[]> =>
      Promise.resolve(metrics?.registry.collect() ?? []);
    let handler = loggedRefusals(metrics?.instrument(responder.fetch) ?? responder.fetch, log);
    if (metricsPlan !== undefined && metricsPlan.port === undefined)
      handler = withMetricsPath(handler, metricsPlan.path, collect);
    let server: RunningServer | undefined;
    let metricsServer: RunningServer | undefined;
    try {
      server = await serve(withHealthChecks(handler, ready), { host, port, ...limits });
      // A worker's metrics are served by the primary, labelled with the worker's number.
      if (metricsPlan?.port !== undefined && !isWorker)
        metricsServer = await serve(metricsHandler(metricsPlan.path, collect), {
          host: metricsPlan.host,
          port: metricsPlan.port,
        });
    } catch (error) {
      await server?.close();
      responder.close();
      await shared?.close();
      const code = (error as NodeJS.ErrnoException).code;
      const detail = code === undefined ? '' : ` (${code})`;
      // OpenSSL's codes: the PEM files were read but do not load as a certificate and key.
      io.stderr(
        code?.startsWith('ERR_OSSL') === true
          ? `error: --tls-cert and --tls-key do not load as a certificate and its key${detail}`
          : `error: cannot listen on ${host}:${port}${detail}`,
      );
      return EXIT.failed;
    }
    let signal: Promise<string>;
    if (isWorker) {
      const stopAnswering = answerMetricsRequests(() => metrics?.registry.collect() ?? []);
      tellPrimaryListening(server.url);
      signal = Promise.race([io.stopSignal(), primaryGone()]).finally(stopAnswering);
    } else {
      if (metricsServer !== undefined)
        io.stderr(`metrics on ${metricsServer.url}${metricsPlan?.path ?? ''}`);
      io.stdout(`listening on ${server.url}`);
      signal = io.stopSignal();
    }
    io.stderr(`${await signal} received, stopping`);
    await metricsServer?.close();
    await server.close();
    responder.close();
    await shared?.close();
    if (isWorker) leavePrimary();
    return EXIT.ok;
  },
};

/** A positive integer option, at most `max`; `undefined` when not given. */
const countArg = (args: CommandArgs, name: string, max: number): number | undefined =>
  integerOption(args, name, 1, max);

/** The connection limits given on the command line (the rest keep `serve`'s defaults). */
function connectionLimits(args: CommandArgs): ServeOptions {
  const hour = 3_600_000;
  const limits: ServeOptions = {};
  const maxConnections = countArg(args, 'max-connections', 1_000_000);
  const headersTimeoutMs = countArg(args, 'headers-timeout-ms', hour);
  const requestTimeoutMs = countArg(args, 'request-timeout-ms', hour);
  const keepAliveTimeoutMs = countArg(args, 'keep-alive-timeout-ms', hour);
  const maxHeaderBytes = countArg(args, 'max-header-bytes', 1_048_576);
  if (maxConnections !== undefined) limits.maxConnections = maxConnections;
  if (headersTimeoutMs !== undefined) limits.headersTimeoutMs = headersTimeoutMs;
  if (requestTimeoutMs !== undefined) limits.requestTimeoutMs = requestTimeoutMs;
  if (keepAliveTimeoutMs !== undefined) limits.keepAliveTimeoutMs = keepAliveTimeoutMs;
  if (maxHeaderBytes !== undefined) limits.maxHeaderBytes = maxHeaderBytes;
  const headers = limits.headersTimeoutMs ?? SERVE_DEFAULTS.headersTimeoutMs;
  const request = limits.requestTimeoutMs ?? SERVE_DEFAULTS.requestTimeoutMs;
  if (headers > request)
    throw new UsageError('--headers-timeout-ms must not exceed --request-timeout-ms');
  const trustProxy = stringListOption(args, 'trust-proxy');
  for (const address of trustProxy)
    if (isIP(address) === 0)
      throw new UsageError(`--trust-proxy expects an IP address, got "${address}"`);
  if (trustProxy.length > 0) limits.trustProxy = trustProxy;
  return limits;
}

/** The responder options the command line and `ZEQ_FIELD_KEY` describe, warnings printed. */
async function responderOptions(
  args: CommandArgs,
  io: CliIo,
  logger: Logger,
  shared?: SharedStores,
  metrics?: ResponderMetrics,
): Promise<ResponderOptions> {
  const timed = <T extends object>(name: string, store: T): T =>
    metrics === undefined ? store : metrics.timedStore(name, store);
  const fieldKey = fieldKeyFrom(io);
  const machines = parseMachines(stringListOption(args, 'machine'));
  const autoProvision = countArg(args, 'auto-provision', MAX_AUTO_PROVISION);
  if (machines !== undefined && autoProvision !== undefined)
    throw new UsageError('give either --machine or --auto-provision, not both');
  if (machines === undefined && autoProvision === undefined)
    throw new UsageError(
      'name the machines to serve with --machine SLUG=MACHINE_ID (or opt into --auto-provision N)',
    );
  const storeDir = stringOption(args, 'store');
  if (storeDir === '') throw new UsageError('--store needs a directory');
  if (storeDir !== undefined && shared !== undefined)
    throw new UsageError('give either --store or --redis (ZEQ_REDIS_URL), not both');
  if (storeDir === undefined && shared === undefined)
    io.stderr('warning: no --store given; keys live in memory and fingerprints change on restart');
  let keyStore: KeyStore;
  let stored: readonly string[] = [];
  if (shared !== undefined) {
    keyStore = shared.stores.keyStore;
    if (autoProvision !== undefined) {
      // The connection is made in the background: give it the start's wait before listing.
      await storeAnswers(shared, SHARED_STORE_START_WAIT_MS);
      stored = await shared.stores.keyStore.slugs();
    }
  } else if (storeDir === undefined) {
    keyStore = createMemoryKeyStore();
  } else {
    const fileStore = createFileKeyStore(storeDir);
    // Listed at start, so a directory open to group or others is refused before anything listens.
    stored = await fileStore.slugs();
    keyStore = fileStore;
  }
  keyStore = timed('key', keyStore);
  let served: Pick<ResponderOptions, 'machines' | 'keyStore'>;
  if (machines === undefined) {
    served = autoProvisioned(autoProvision as number, keyStore, stored);
    io.stderr(
      `warning: --auto-provision: serving any slug as its own machine_id until ${autoProvision} have a key (${stored.length} already do)`,
    );
  } else {
    served = { machines, keyStore };
  }
  return {
    fieldKey,
    ...served,
    ...algArg(args),
    ...(await identityOption(args, io, storeDir ?? shared, keyStore, fieldKey)),
    ...(await serveModeBOptions(args, storeDir, io)),
    ...(shared === undefined
      ? {}
      : {
          sessionStore: timed('session', shared.stores.sessionStore),
          replayMemory: timed('replay', shared.stores.replayMemory),
          seedStore: timed('seed', shared.stores.seedStore),
          recordState: timed('record_state', shared.stores.recordState),
          rateLimitStore: timed('rate_limit', shared.stores.rateLimitStore),
        }),
    ...(metrics === undefined ? {} : { observer: metrics.observer }),
    ...(args.values['echo'] === true
      ? { onRecord: (plaintext: Uint8Array): Uint8Array => plaintext }
      : {}),
    logger,
    ...inFlightLimit(args),
    ...(args.values['no-rate-limits'] === true ? { rateLimits: false } : {}),
    ...corsOrigins(args),
  };
}

/** How long `serve` waits at start for a shared store to answer before checking its keys. */
const SHARED_STORE_START_WAIT_MS = 3_000;

/** Whether the shared store answers within `ms`, asking every 100 ms. */
async function storeAnswers(shared: SharedStores, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await shared.ready().catch(() => false)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `--cors-origin`, when given: exact origins as browsers send them, or `*`. */
function corsOrigins(args: CommandArgs): Pick<ResponderOptions, 'cors'> {
  const origins = stringListOption(args, 'cors-origin');
  if (origins.length === 0) return {};
  for (const origin of origins) {
    let valid = origin === '*';
    try {
      valid ||= new URL(origin).origin === origin;
    } catch {
      // Not a URL: refused below.
    }
    if (!valid)
      throw new UsageError(
        `--cors-origin expects an origin like https://app.example (no path or trailing slash), got "${origin}"`,
      );
  }
  return { cors: { origins } };
}

/** `--tls-cert` and `--tls-key`, read, when given (both or neither). */
async function tlsFiles(args: CommandArgs): Promise<Pick<ServeOptions, 'tls'>> {
  const certFile = stringOption(args, 'tls-cert');
  const keyFile = stringOption(args, 'tls-key');
  if (certFile === undefined && keyFile === undefined) return {};
  if (certFile === undefined || keyFile === undefined)
    throw new UsageError('give both --tls-cert FILE and --tls-key FILE, or neither');
  const read = async (file: string, flag: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(
        `${flag}: cannot read "${file}"${code === undefined ? '' : ` (${code})`}`,
      );
    }
  };
  return {
    tls: { cert: await read(certFile, '--tls-cert'), key: await read(keyFile, '--tls-key') },
  };
}

/** `--alg`, when given: the alg of every machine. */
function algArg(args: CommandArgs): Pick<ResponderOptions, 'alg'> {
  const alg = stringOption(args, 'alg');
  if (alg === undefined) return {};
  if (!ALGS.includes(alg as Alg))
    throw new UsageError(`--alg must be one of ${ALGS.join(', ')}, got "${alg}"`);
  return { alg: alg as Alg };
}

/**
 * `--identity`: the identity kept in `--store` (or in `--redis`), opened now so that a missing or unopenable one
 * stops the start (`identity_unavailable`, exit status 1), never later and never a new one.
 */
async function identityOption(
  args: CommandArgs,
  io: CliIo,
  storeDir: string | SharedStores | undefined,
  keyStore: KeyStore,
  fieldKey: string,
): Promise<Pick<ResponderOptions, 'identity'>> {
  const validity = countArg(args, 'validity-seconds', 2_592_000);
  if (args.values['identity'] !== true) {
    if (validity !== undefined) throw new UsageError('--validity-seconds needs --identity');
    return {};
  }
  if (storeDir === undefined) throw new UsageError('--identity needs --store DIR or --redis URL');
  // In Redis, the identity is read once Redis answers (the connection is made in the background).
  if (typeof storeDir !== 'string') await storeAnswers(storeDir, SHARED_STORE_START_WAIT_MS);
  if (validity !== undefined && validity < 2)
    throw new UsageError('--validity-seconds must be an integer in [2, 2592000]');
  const store = keyStore as KeyStore & IdentityStore;
  const { identity } = await createIdentity({ store, fieldKey, create: false });
  io.stderr(`identity ${identity}`);
  return { identity: { store, ...(validity === undefined ? {} : { validitySeconds: validity }) } };
}

/** `--max-in-flight-decapsulations`, when given. */
function inFlightLimit(args: CommandArgs): Pick<ResponderOptions, 'maxInFlightDecapsulations'> {
  const max = countArg(args, 'max-in-flight-decapsulations', 100_000);
  return max === undefined ? {} : { maxInFlightDecapsulations: max };
}

/**
 * The field key from `ZEQ_FIELD_KEY`, checked; never echoed.
 * @param io - the CLI's environment.
 * @returns the field key as given.
 * @throws {UsageError} when it is missing or not 64 hex characters.
 */
export function fieldKeyFrom(io: CliIo): string {
  const key = io.env['ZEQ_FIELD_KEY'];
  if (key === undefined || key === '')
    throw new UsageError('ZEQ_FIELD_KEY is not set (make one with: zeq-keyex field-key)');
  try {
    // Checked (and its bytes wiped) here so that a malformed key is a usage error, not a crash.
    parseFieldKey(key).fill(0);
  } catch {
    throw new UsageError('ZEQ_FIELD_KEY must be 64 hex characters');
  }
  return key;
}
