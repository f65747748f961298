/**
 * `zeq-keyex serve`: a responder (spec §2, and §3.1 with `--echo`, §4 with the Mode-B options)
 * over HTTP until SIGINT/SIGTERM.
 *
 * Caveats: the field key comes from `ZEQ_FIELD_KEY` only (never a flag, which `ps` would show)
 * and is never echoed, not even when malformed. Without `--store` keys live in memory and
 * fingerprints change on restart (warned about on stderr).
 *
 * Which slugs are served: exactly those given by `--machine`. An operator may instead opt into
 * `--auto-provision N`: any valid slug is served as its own machine_id, and at most N slugs ever
 * obtain a key. Only a slug that obtained a key counts (a junk request, a refused POST, a slug
 * asked about but never given a key counts for nothing), and the count starts from the keys
 * already in `--store`, so restarts never add N more.
 * @module
 */
import { isIP } from 'node:net';
import { isMachineId, isSlug } from '../../core/identifiers.js';
import { parseFieldKey } from '../../core/sealing.js';
import { DEFAULT_MAX_IN_FLIGHT_DECAPSULATIONS } from '../../responder/admission.js';
import { createIdentity } from '../../responder/identity.js';
import type { IdentityStore } from '../../responder/identity-store.js';
import { createResponder } from '../../responder/responder.js';
import type { ResponderOptions } from '../../responder/options.js';
import { ZeqKeyExError } from '../../core/errors.js';
import { type KeyStore, type StoredKey, createMemoryKeyStore } from '../../responder/stores.js';
import { createFileKeyStore } from '../file-key-store.js';
import { type RunningServer, SERVE_DEFAULTS, type ServeOptions, serve } from '../server.js';
import {
  type CliCommand,
  type CliIo,
  type CommandArgs,
  EXIT,
  UsageError,
  stringListOption,
  stringOption,
} from './args.js';
import { SERVE_MODE_B_HELP, SERVE_MODE_B_OPTIONS, serveModeBOptions } from './serve-mode-b.js';

/** The highest `--auto-provision` bound: beyond it, name the machines with `--machine`. */
export const MAX_AUTO_PROVISION = 10_000;
/** The highest TCP port; `--port 0` asks the system for a free one. */
const MAX_PORT = 65_535;
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = '8787';

/** `zeq-keyex serve`. */
export const serveCommand: CliCommand = {
  path: 'serve',
  help: `Usage: zeq-keyex serve (--machine SLUG=MACHINE_ID... | --auto-provision N) [--host ${DEFAULT_HOST}]
                       [--port ${DEFAULT_PORT}] [--store DIR] [--echo] [connection limits]
                       [--admin-token-file FILE] [--allow-http-peer HOST]... [--identity]

Serves GET /api/keyex/:slug/pubkey and POST /api/keyex/:slug/handshake.
  --host HOST                 interface to bind (default ${DEFAULT_HOST})
  --port PORT                 port (default ${DEFAULT_PORT}; 0 picks a free one)
  --store DIR                 keep sealed keys in DIR, so fingerprints survive restarts
                              (default: in memory, lost on exit). DIR must not be accessible by
                              group or others (mode 0700; it is created so).
  --machine SLUG=MACHINE_ID   serve this machine (repeatable); no other slug is served
  --auto-provision N          instead of --machine: serve any valid slug as its own machine_id,
                              until N slugs have a key (counting the keys already in --store)
  --identity                  sign every key document with the identity key kept in --store DIR
                              (spec §8; make it with 'zeq-keyex identity --store DIR --create');
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
  --echo                      also serve POST /api/keyex/:slug/sessions/:session_id/records, answering
                              every encrypted record with the plaintext it carried
Environment: ZEQ_FIELD_KEY (required) — 64 hex characters; make one with 'zeq-keyex field-key'.
Prints 'listening on http://HOST:PORT' when ready; stops cleanly on SIGINT/SIGTERM.`,
  options: {
    host: { type: 'string', default: DEFAULT_HOST },
    port: { type: 'string', default: DEFAULT_PORT },
    store: { type: 'string' },
    machine: { type: 'string', multiple: true, default: [] },
    'auto-provision': { type: 'string' },
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
    echo: { type: 'boolean', default: false },
  },
  maxPositionals: 0,
  async run(args, io) {
    const host = stringOption(args, 'host') ?? DEFAULT_HOST;
    const port = portArg(stringOption(args, 'port') ?? DEFAULT_PORT);
    const limits = connectionLimits(args);
    const responder = createResponder(await responderOptions(args, io));
    let server: RunningServer;
    try {
      server = await serve(responder.fetch, { host, port, ...limits });
    } catch (error) {
      responder.close();
      const code = (error as NodeJS.ErrnoException).code;
      io.stderr(`error: cannot listen on ${host}:${port}${code === undefined ? '' : ` (${code})`}`);
      return EXIT.failed;
    }
    io.stdout(`listening on ${server.url}`);
    const signal = await io.stopSignal();
    io.stderr(`${signal} received, stopping`);
    await server.close();
    responder.close();
    return EXIT.ok;
  },
};

function portArg(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > MAX_PORT)
    throw new UsageError(`--port must be an integer in [0, ${MAX_PORT}]`);
  return port;
}

/** A positive integer option, at most `max`; `undefined` when not given. */
function countArg(args: CommandArgs, name: string, max: number): number | undefined {
  const text = stringOption(args, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > max)
    throw new UsageError(`--${name} must be an integer in [1, ${max}]`);
  return value;
}

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
async function responderOptions(args: CommandArgs, io: CliIo): Promise<ResponderOptions> {
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
  if (storeDir === undefined)
    io.stderr('warning: no --store given; keys live in memory and fingerprints change on restart');
  const log = (level: 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) =>
    io.stderr(`${level}: ${message}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}`);
  let keyStore: KeyStore;
  let stored: readonly string[] = [];
  if (storeDir === undefined) {
    keyStore = createMemoryKeyStore();
  } else {
    const fileStore = createFileKeyStore(storeDir);
    // Listed at start, so a directory open to group or others is refused before anything listens.
    stored = await fileStore.slugs();
    keyStore = fileStore;
  }
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
    ...(await identityOption(args, io, storeDir, keyStore, fieldKey)),
    ...(await serveModeBOptions(args, storeDir, io)),
    ...(args.values['echo'] === true
      ? { onRecord: (plaintext: Uint8Array): Uint8Array => plaintext }
      : {}),
    logger: { warn: log('warn'), error: log('error') },
    ...inFlightLimit(args),
    ...(args.values['no-rate-limits'] === true ? { rateLimits: false } : {}),
  };
}

/**
 * `--identity`: the identity kept in `--store`, opened now so that a missing or unopenable one
 * stops the start (`identity_unavailable`, exit status 1), never later and never a new one.
 */
async function identityOption(
  args: CommandArgs,
  io: CliIo,
  storeDir: string | undefined,
  keyStore: KeyStore,
  fieldKey: string,
): Promise<Pick<ResponderOptions, 'identity'>> {
  const validity = countArg(args, 'validity-seconds', 2_592_000);
  if (args.values['identity'] !== true) {
    if (validity !== undefined) throw new UsageError('--validity-seconds needs --identity');
    return {};
  }
  if (storeDir === undefined) throw new UsageError('--identity needs --store DIR');
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

function parseMachines(values: readonly string[]): Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  const machines: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    const slug = value.slice(0, at);
    const machineId = value.slice(at + 1);
    if (at < 0 || !isSlug(slug) || !isMachineId(machineId))
      throw new UsageError(`--machine expects SLUG=MACHINE_ID, got "${value}"`);
    if (Object.hasOwn(machines, slug)) throw new UsageError(`--machine names "${slug}" twice`);
    machines[slug] = machineId;
  }
  return machines;
}

/**
 * Auto-provisioning by name, bounded: any slug is its own machine_id until `limit` slugs hold a
 * key. The count is kept where keys are made — the key store's `putIfAbsent`, reached only when a
 * slug obtains its first key — and starts from the slugs already stored, so neither requests that
 * never make a key nor restarts add to what a stranger can provision.
 * @param limit - how many slugs may hold a key.
 * @param keyStore - the store keys go to.
 * @param stored - the slugs that already have a key there.
 * @returns the resolver and the counting store.
 */
function autoProvisioned(
  limit: number,
  keyStore: KeyStore,
  stored: readonly string[],
): Pick<ResponderOptions, 'machines' | 'keyStore'> {
  const provisioned = new Set(stored);
  return {
    machines: (slug) => (provisioned.has(slug) || provisioned.size < limit ? slug : undefined),
    keyStore: {
      ...keyStore,
      get: (slug) => keyStore.get(slug),
      async putIfAbsent(key: StoredKey): Promise<StoredKey> {
        if (provisioned.has(key.slug)) return keyStore.putIfAbsent(key);
        // Requests for new slugs that raced past the resolver: the bound still holds.
        if (provisioned.size >= limit)
          throw new ZeqKeyExError('unknown_machine', 'the auto-provisioning limit is reached');
        provisioned.add(key.slug);
        try {
          return await keyStore.putIfAbsent(key);
        } catch (error) {
          provisioned.delete(key.slug);
          throw error;
        }
      },
    },
  };
}
