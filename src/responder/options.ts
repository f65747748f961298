/**
 * The options of `createResponder` (`responder.ts`) and their one check:
 * {@link resolveResponderOptions} turns what a deployment passes into a {@link ResponderConfig}
 * the rest of the responder trusts.
 * Everything a programmer can get wrong is refused here, when the responder is created, with a
 * `TypeError` or `RangeError` (a malformed field key is `ZeqKeyExError('invalid_field_key')`, as
 * `ZEQ_FIELD_KEY` comes from the environment); a request never meets a bad option.
 *
 * Security caveats:
 * - The field key (spec §5) is copied, used once to derive the seal key, and the copy wiped, on
 *   success and on failure alike; the caller's bytes are not modified and not kept.
 * - The seal key in the returned config is the responder's to wipe when it closes.
 * @module
 */
import { ALG, ALGS, FIELD_KEY_BYTES, type Alg } from '../core/constants.js';
import { ZeqKeyExError } from '../core/errors.js';
import { assertDurationMs, assertPositiveInteger } from '../core/limits.js';
import { wipe } from '../core/primitives.js';
import { deriveSealKey, parseFieldKey } from '../core/sealing.js';
import { type Kem, type KemChoice, kemLoader } from '../backends/kem-backend.js';
import type { AdminOptions } from './admin.js';
import { type Cors, type CorsOptions, createCors } from './cors.js';
import {
  DEFAULT_DOCUMENT_VALIDITY_S,
  type IdentityConfig,
  type IdentityOptions,
  resolveIdentityOptions,
} from './identity.js';
import { assertGraceSeconds } from './key-rotation.js';
import {
  type Admission,
  DEFAULT_MAX_IN_FLIGHT_DECAPSULATIONS,
  DEFAULT_MAX_TRACKED_CLIENTS,
  type AdmissionObserver,
  type RateLimits,
  clientAddressOf,
  createAdmission,
} from './admission.js';
import { type Logger, assertLogger, safeLogger, silentLogger } from './logger.js';
import type { RateLimitStore } from './rate-limit-store.js';
import { assertRateLimitStore, shareRateLimits } from './shared-rate-limits.js';
import { type LookupMachine, type MachineResolver, parseMachines } from './machines.js';
import type { ModeBOptions } from './modeb-peer.js';
import type { RecordHandler } from './records-route.js';
import type { SeedStore } from './seed-store.js';
import type { SharedRecordState } from './shared-records.js';
import {
  DEFAULT_MAX_SESSIONS,
  type KeyStore,
  type SessionStore,
  createMemoryKeyStore,
  createMemorySessionStore,
} from './stores.js';
import {
  DEFAULT_MAX_REPLAY_TAGS,
  type ReplayMemory,
  createMemoryReplayMemory,
} from './replay-memory.js';
import {
  DEFAULT_STORE_TIMEOUT_MS,
  boundIdentityStore,
  boundKeyStore,
  boundReplayMemory,
  boundSessionStore,
  boundSeedStore,
} from './store-timeouts.js';

/** Options of `createResponder`. */
export interface ResponderOptions {
  /** The deployment's field key (spec §5): 64 hex characters, or 32 bytes (copied, not kept). */
  fieldKey: string | Uint8Array;
  /** The machines served: a map of slug → machine_id, or a resolver. */
  machines: Readonly<Record<string, string>> | MachineResolver;
  /**
   * Where machine keys are stored, sealed.
   * @defaultValue a memory store (keys, and so fingerprints, change on every restart)
   */
  keyStore?: KeyStore;
  /**
   * Where live sessions are kept.
   * @defaultValue a memory store bounded by `maxSessions`
   */
  sessionStore?: SessionStore;
  /**
   * Session lifetime.
   * @defaultValue 600_000 (ten minutes)
   */
  sessionTtlMs?: number;
  /**
   * The most live sessions of the default memory session store (not allowed with `sessionStore`).
   * @defaultValue 10_000
   */
  maxSessions?: number;
  /**
   * Where the replay tags of accepted handshakes are kept until their sessions would have expired,
   * whatever becomes of the sessions (spec §2.3, revision 2). When it is full, handshakes are
   * refused with `429 rate_limited` and a `Retry-After` of the seconds until its oldest tag expires.
   * @defaultValue a memory replay memory of `maxReplayTags` tags
   */
  replayMemory?: ReplayMemory;
  /**
   * The most replay tags of the default memory replay memory (not allowed with `replayMemory`):
   * about 100 bytes each; the default (about 10 MB) supports a sustained 10,000 handshakes a
   * minute with the default ten-minute sessions (`maxReplayTags` divided by the session lifetime in
   * minutes), and answers `429 rate_limited` beyond that rather than forget a tag.
   * @defaultValue 100_000
   */
  maxReplayTags?: number;
  /**
   * The time limit of each call to a store given in the options (`keyStore`, `sessionStore`,
   * `seedStore`, `replayMemory`). A store that throws, rejects or does not answer within it makes
   * the request fail with `503 unavailable` and a `Retry-After` header; a session created after
   * its call timed out is deleted when the store answers. The default memory stores are not bounded.
   * @defaultValue 5_000
   */
  storeTimeoutMs?: number;
  /**
   * A path prefix for every route, e.g. `/zeq`.
   * @defaultValue `''`
   */
  basePath?: string;
  /**
   * Where refused requests and server-side failures are reported; never given a secret.
   * @defaultValue silent
   */
  logger?: Logger;
  /**
   * The clock, in milliseconds since the Unix epoch.
   * @defaultValue `Date.now`
   */
  now?: () => number;
  /**
   * Serves the records endpoint (spec §3.1): called with the plaintext of each record, returns the
   * reply plaintext, which the responder seals. Without it the route is not offered and answers
   * `404 not_found`, like any path the responder does not serve (§3.1 is optional).
   */
  onRecord?: RecordHandler;
  /**
   * The application associated data of every record on the records endpoint, request and reply
   * (spec §3 `app_aad`). It is not sent: initiators must use the same bytes.
   * @defaultValue empty
   */
  recordAad?: Uint8Array;
  /**
   * How long a record epoch lasts before the responder's sender ratchets (spec §3); also the grace
   * window for the previous epoch of the initiator's records.
   * @defaultValue 777
   */
  rekeyIntervalMs?: number;
  /**
   * Who may call the Mode-B admin endpoints (§4): a hook answering `'admin'`, `'forbidden'` (403)
   * or `'unauthenticated'` (401), e.g. `createBearerTokenAuthorizer(token)`.
   * @defaultValue none: both endpoints answer `403 forbidden` to everyone
   */
  admin?: AdminOptions;
  /** Mode-B peer fetches: plain-http hosts allowed, time limit, fetch. */
  modeB?: ModeBOptions;
  /**
   * The ML-KEM-768 backend for handshakes and Mode-B: `'auto'` uses the runtime's native one
   * (`node:crypto` on Node ≥ 24.7, WebCrypto in Deno and Bun) when it passes a probe against noble,
   * and noble otherwise; `'native'` makes every key operation fail (`kem_unavailable`, a `500` on
   * the wire) when there is none, which `Responder.kemBackend` reports at start-up; `'noble'`
   * never tries. Machine keys are imported into it once and cached. Same bytes whichever is used.
   * @defaultValue 'auto'
   */
  kem?: KemChoice;
  /**
   * The KEM alg of each machine's key (spec §9), chosen by the operator: one alg for every machine,
   * a table of slug → alg (machines not in it get ML-KEM-768), or a function of the slug. A machine
   * serves one alg; a stored key of the other alg is never served as this one (the machine is then
   * unavailable until an operator rotates its key), so changing a machine's alg needs a new key.
   * X-Wing's code is loaded on the first use of an X-Wing machine.
   * @defaultValue `'ML-KEM-768'` for every machine
   */
  alg?: Alg | Readonly<Record<string, Alg>> | ((slug: string) => Alg);
  /**
   * Record state shared with other instances of this responder (e.g. `createRedisRecordState` of
   * `zeq-keyex/redis`), so that the records of a session may go through any instance: sequence
   * numbers allocated atomically, the replay window and the epochs shared (`shared-records.ts`).
   * Give it together with the `sessionStore` made with it (`createRedisStores`: the session store
   * creates each session's record state). Each record then costs two calls to it.
   * @defaultValue none: record state stays in this instance, which serves only the sessions its
   *   own handshakes made
   */
  recordState?: SharedRecordState;
  /**
   * How often this instance re-reads a machine's key from the key store, to serve a key rotated
   * through another instance sharing the store (`key-refresh.ts`): at most one read per machine
   * per interval, in milliseconds; `0` never re-reads (a key is re-read only after a rotation
   * through this instance).
   * @defaultValue 1_000 with `recordState` (instances sharing their stores), else 0
   */
  keyRefreshMs?: number;
  /**
   * Where Mode-B seeds are stored, sealed.
   * @defaultValue a memory store (seeds are lost on restart)
   */
  seedStore?: SeedStore;
  /**
   * Names the client of a request, for the per-client limits (`rateLimits`); `undefined` for a
   * request that is not limited per client. A fetch handler cannot see the socket: the Node
   * adapter (`serve`) attaches the client's address to the request object (`setClientAddress`),
   * and the default reads it; nothing a client sends can set it. Behind another server, attach the
   * platform's address with `setClientAddress`, or pass your own hook.
   * @defaultValue the address attached with `setClientAddress` (none: not limited per client)
   */
  clientId?: (request: Request) => string | undefined;
  /**
   * Per-client token buckets (`{ burst, perSecond }`) for `handshake`, `records` and
   * `keyGeneration` (a key document of a machine that has no key yet), each merged over
   * `DEFAULT_RATE_LIMITS`; `false` turns one, or all, off. An empty bucket is answered
   * `429 rate_limited` with `Retry-After`, before the request's body is read.
   * @defaultValue `DEFAULT_RATE_LIMITS`: handshakes 20 then 5/s, records 200 then 100/s, key
   *   generation 5 then 1/min
   */
  rateLimits?: RateLimits | false;
  /**
   * Keeps the per-client buckets of `rateLimits` in a store shared with other instances (e.g.
   * `createRedisRateLimitStore` of `zeq-keyex/redis`), so that a client gets its limits once
   * across every instance: one call to it per limited request, bounded by `storeTimeoutMs`. When it
   * fails, clients are limited by this instance's own buckets and the logger says so
   * (`shared-rate-limits.ts`).
   * @defaultValue none: the buckets are this instance's, in memory
   */
  rateLimitStore?: RateLimitStore;
  /**
   * The most clients whose buckets are kept, per kind; the least recently seen is forgotten first
   * (with `rateLimitStore`: the bound of the local buckets used while the store fails).
   * @defaultValue 10_000
   */
  maxTrackedClients?: number;
  /**
   * The most handshake decapsulations in flight; a handshake beyond it is answered
   * `503 unavailable` with `Retry-After: 1`, never queued.
   * @defaultValue 64
   */
  maxInFlightDecapsulations?: number;
  /**
   * Told how long each decapsulation took and of each handshake shed at
   * {@link ResponderOptions.maxInFlightDecapsulations}, for metrics; it never changes an answer.
   * @defaultValue none
   */
  observer?: AdmissionObserver;
  /**
   * Sign every key document with the deployment's identity key (spec §8): `{ store, validitySeconds }`.
   * The identity must already be in the store; one that is missing or does not open makes key
   * documents unavailable (`500 internal`, `identity_unavailable` in the log), never unsigned and
   * never signed by a new identity.
   * @defaultValue none: documents are not signed
   */
  identity?: IdentityOptions;
  /**
   * How long a rotated machine key keeps answering handshakes that name it (spec §8.3), in
   * seconds, unless `rotateKey` is given another; at most 30 days.
   * @defaultValue the identity's `validitySeconds` (seven days without an identity)
   */
  rotationGraceSeconds?: number;
  /**
   * Lets browser pages on other origins call the responder (CORS): the origins allowed, and
   * whether cookies and the Mode-B admin routes are opened too. See `docs/browser.md`.
   * @defaultValue none: no `Access-Control-*` header is sent; `OPTIONS` answers `204` with `Allow`
   */
  cors?: CorsOptions;
  /**
   * Receives every exception that made a request fail on the server's side (`500 internal` or
   * `503 unavailable`) — an application callback that threw (`onRecord`, a machine resolver, the
   * `admin` hook, a store), or a bug — with its stack, for the app's own error reporting. The
   * client never sees it, and the `logger` gets its code only. What it throws or rejects with is
   * ignored.
   * @defaultValue none
   */
  onError?: (error: unknown, context: ResponderErrorContext) => void | Promise<void>;
}

/** Where a failure reported to {@link ResponderOptions.onError} happened. */
export interface ResponderErrorContext {
  /** The request's method. */
  readonly method: string;
  /** The route's pattern (`/api/keyex/:slug/handshake`), or `undefined` before one matched. */
  readonly route: string | undefined;
}

/** Default session lifetime: ten minutes. */
export const DEFAULT_SESSION_TTL_MS = 600_000;

/** The records endpoint's settings (spec §3.1), present only when `onRecord` was given. */
export interface RecordsConfig {
  readonly onRecord: RecordHandler;
  /** A copy of `recordAad`. */
  readonly aad: Uint8Array;
}

/** {@link ResponderOptions} checked, defaulted and ready to wire. */
export interface ResponderConfig {
  /** The §5 seal key, derived from the field key (which is already wiped). Secret: wipe on close. */
  readonly sealKey: Uint8Array;
  readonly kem: (alg?: Alg) => Promise<Kem>;
  /** The alg of a machine's key, by slug (option `alg`). */
  readonly algFor: (slug: string) => Alg;
  readonly lookupMachine: LookupMachine;
  /** `''` or a prefix like `/zeq`, without a trailing slash. */
  readonly basePath: string;
  readonly sessionTtlMs: number;
  /** The bound of the memory session store and of the record state kept per session. */
  readonly maxSessions: number;
  readonly now: () => number;
  /** The configured logger, wrapped so that it never throws. */
  readonly logger: Logger;
  readonly keyStore: KeyStore;
  readonly sessionStore: SessionStore;
  readonly replayMemory: ReplayMemory;
  /** The time limit of each call to a store given in the options. */
  readonly storeTimeoutMs: number;
  /** Empties the stores the responder made itself (the default memory session store), wiping their keys. */
  readonly closeOwnStores: () => void;
  readonly records: RecordsConfig | undefined;
  /** Passed on unchecked: the record layer checks it (`record-sessions.ts`). */
  readonly rekeyIntervalMs: number | undefined;
  /** Passed on unchecked: the Mode-B endpoints check them (`modeb-route.ts`). */
  readonly admin: AdminOptions | undefined;
  readonly modeB: ModeBOptions | undefined;
  readonly seedStore: SeedStore | undefined;
  /** Record state shared with other instances, or `undefined` (per instance). */
  readonly recordState: SharedRecordState | undefined;
  /** Per-client token buckets and the cap on decapsulations in flight (`admission.ts`). */
  readonly admission: Admission;
  /** Preflights and the CORS headers of responses (`cors.ts`). */
  readonly cors: Cors;
  /**
   * The slugs the key store holds a key for, when it can list them (a `slugs()` method, as the
   * file key store has), for `Responder.ready`.
   */
  readonly storedSlugs: (() => Promise<readonly string[]>) | undefined;
  /** The app's `onError`, made safe: it never throws and its promise never rejects unhandled. */
  readonly onError: (error: unknown, context: ResponderErrorContext) => void;
  /** The identity that signs key documents (§8), its store bounded by `storeTimeoutMs`. */
  readonly identity: IdentityConfig | undefined;
  /** The default grace period of a rotated key, in seconds (§8.3). */
  readonly rotationGraceSeconds: number;
  /** How often a cached key is compared with the store, or `undefined` for never. */
  readonly keyRefreshMs: number | undefined;
}

/** The field key as given, copied into fresh bytes. */
function parseFieldKeyOption(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.length !== FIELD_KEY_BYTES)
      throw new ZeqKeyExError(
        'invalid_field_key',
        `the field key must be ${FIELD_KEY_BYTES} bytes`,
      );
    return Uint8Array.from(value);
  }
  return parseFieldKey(value);
}

function parseBasePath(value: unknown): string {
  if (typeof value !== 'string') throw new TypeError('basePath must be a string');
  const path = value.endsWith('/') ? value.slice(0, -1) : value;
  if (!/^(?:\/[^/?#\s]+)*$/.test(path))
    throw new TypeError(
      'basePath must be "" or a path like "/zeq" (no query, fragment or empty segment)',
    );
  return path;
}

/** The default replay memory, or the one given, checked. */
function resolveReplayMemory(
  options: ResponderOptions,
  now: () => number,
  timeoutMs: number,
): ReplayMemory {
  if (options.replayMemory === undefined)
    return createMemoryReplayMemory({
      maxTags: assertPositiveInteger(
        options.maxReplayTags ?? DEFAULT_MAX_REPLAY_TAGS,
        'maxReplayTags',
      ),
      now,
    });
  if (options.maxReplayTags !== undefined)
    throw new TypeError(
      'maxReplayTags bounds the default memory replay memory; bound your replayMemory itself',
    );
  const memory = options.replayMemory;
  if (typeof memory.remember !== 'function' || typeof memory.forget !== 'function')
    throw new TypeError('replayMemory must have remember and forget');
  return boundReplayMemory(memory, timeoutMs);
}

/**
 * The key and session stores, in the order of checks the responder has always made, then the
 * replay memory; stores given in the options are bounded by `storeTimeoutMs`.
 */
function resolveStores(
  options: ResponderOptions,
  now: () => number,
  maxSessions: number,
): Pick<
  ResponderConfig,
  'keyStore' | 'sessionStore' | 'replayMemory' | 'seedStore' | 'storeTimeoutMs' | 'closeOwnStores'
> {
  const timeoutMs = assertDurationMs(
    options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS,
    'storeTimeoutMs',
  );
  const keyStore = options.keyStore ?? createMemoryKeyStore();
  if (typeof keyStore.get !== 'function' || typeof keyStore.putIfAbsent !== 'function') {
    throw new TypeError('keyStore must have get(slug) and putIfAbsent(key)');
  }
  const ownSessionStore =
    options.sessionStore === undefined ? createMemorySessionStore({ maxSessions, now }) : undefined;
  const sessionStore = options.sessionStore ?? ownSessionStore;
  if (
    sessionStore === undefined ||
    typeof sessionStore.create !== 'function' ||
    typeof sessionStore.get !== 'function' ||
    typeof sessionStore.delete !== 'function'
  ) {
    throw new TypeError('sessionStore must have create, get and delete');
  }
  return {
    keyStore: options.keyStore === undefined ? keyStore : boundKeyStore(keyStore, timeoutMs),
    sessionStore:
      options.sessionStore === undefined
        ? sessionStore
        : boundSessionStore(sessionStore, timeoutMs),
    replayMemory: resolveReplayMemory(options, now, timeoutMs),
    seedStore: boundSeedStore(options.seedStore, timeoutMs),
    storeTimeoutMs: timeoutMs,
    // A store given in the options may be shared with other responders: it is the app's to close.
    closeOwnStores: () => ownSessionStore?.close(),
  };
}

function resolveRecords(options: ResponderOptions): RecordsConfig | undefined {
  if (options.onRecord !== undefined && typeof options.onRecord !== 'function')
    throw new TypeError('onRecord must be a function');
  if (options.recordAad !== undefined && !(options.recordAad instanceof Uint8Array))
    throw new TypeError('recordAad must be a Uint8Array');
  return options.onRecord === undefined
    ? undefined
    : { onRecord: options.onRecord, aad: Uint8Array.from(options.recordAad ?? []) };
}

/** Whether `value` is an alg this SDK speaks. */
const isAlg = (value: unknown): value is Alg => ALGS.includes(value as Alg);

/**
 * Checks the `alg` option and makes the one function that answers it. A function's answer is
 * checked on each use: a wrong one is a deployment fault (`unsupported_alg`), never a silent default.
 */
function parseAlgOption(value: ResponderOptions['alg']): (slug: string) => Alg {
  if (value === undefined) return () => ALG;
  if (isAlg(value)) return () => value;
  if (typeof value === 'function') {
    return (slug) => {
      const alg = value(slug);
      if (!isAlg(alg)) throw new ZeqKeyExError('unsupported_alg', 'the alg option answered no alg');
      return alg;
    };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError(
      `alg must be one of ${ALGS.join(', ')}, a record of slug → alg or a function`,
    );
  const table = new Map<string, Alg>();
  for (const [slug, alg] of Object.entries(value)) {
    if (!isAlg(alg)) throw new TypeError(`alg for ${slug} must be one of ${ALGS.join(', ')}`);
    table.set(slug, alg);
  }
  return (slug) => table.get(slug) ?? ALG;
}

function resolveRecordState(options: ResponderOptions): SharedRecordState | undefined {
  const state = options.recordState;
  if (state === undefined) return undefined;
  for (const method of ['nextSend', 'admit', 'currentEpoch', 'forget'] as const)
    if (typeof state[method] !== 'function')
      throw new TypeError('recordState must have nextSend, admit, currentEpoch and forget');
  if (options.sessionStore === undefined)
    throw new TypeError('recordState is shared with other instances: give a shared sessionStore');
  return state;
}

/** Everything but the keys, in the order the checks are made. */
function resolveSettings(options: ResponderOptions): Omit<ResponderConfig, 'sealKey' | 'kem'> {
  const lookupMachine = parseMachines(options.machines);
  const algFor = parseAlgOption(options.alg);
  const basePath = parseBasePath(options.basePath ?? '');
  const sessionTtlMs = assertDurationMs(
    options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS,
    'sessionTtlMs',
  );
  if (options.maxSessions !== undefined && options.sessionStore !== undefined) {
    throw new TypeError(
      'maxSessions bounds the default memory session store; bound your sessionStore itself',
    );
  }
  const maxSessions = assertPositiveInteger(
    options.maxSessions ?? DEFAULT_MAX_SESSIONS,
    'maxSessions',
  );
  const now = options.now ?? Date.now;
  if (typeof now !== 'function')
    throw new TypeError('now must be a function returning milliseconds');
  if (options.logger !== undefined) assertLogger(options.logger);
  const logger = safeLogger(options.logger ?? silentLogger);
  return {
    lookupMachine,
    algFor,
    basePath,
    sessionTtlMs,
    maxSessions,
    now,
    logger,
    ...resolveStores(options, now, maxSessions),
    ...resolveIdentity(options),
    records: resolveRecords(options),
    rekeyIntervalMs: options.rekeyIntervalMs,
    recordState: resolveRecordState(options),
    keyRefreshMs: resolveKeyRefresh(options),
    admin: options.admin,
    modeB: options.modeB,
    admission: resolveAdmission(options, now, logger),
    cors: createCors(options.cors),
    storedSlugs: storedSlugsOf(options.keyStore),
    onError: safeOnError(options.onError),
  };
}

/** `keyRefreshMs`: 1 s by default for instances sharing their stores, `undefined` for never. */
function resolveKeyRefresh(options: ResponderOptions): number | undefined {
  const given = options.keyRefreshMs ?? (options.recordState === undefined ? 0 : 1_000);
  if (given === 0) return undefined;
  return assertDurationMs(given, 'keyRefreshMs');
}

/** The admission control, its buckets in `rateLimitStore` when one is given. */
function resolveAdmission(options: ResponderOptions, now: () => number, logger: Logger): Admission {
  const maxTrackedClients = options.maxTrackedClients ?? DEFAULT_MAX_TRACKED_CLIENTS;
  const admission = createAdmission({
    clientId: options.clientId ?? clientAddressOf,
    rateLimits: options.rateLimits,
    maxTrackedClients,
    maxInFlightDecapsulations:
      options.maxInFlightDecapsulations ?? DEFAULT_MAX_IN_FLIGHT_DECAPSULATIONS,
    now,
    observer: options.observer,
  });
  if (options.rateLimitStore === undefined) return admission;
  return shareRateLimits(admission, {
    store: assertRateLimitStore(options.rateLimitStore),
    rateLimits: options.rateLimits,
    maxTrackedClients,
    timeoutMs: options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS,
    logger,
    now,
  });
}

/** A key store's own listing of its slugs, when it has one. */
function storedSlugsOf(keyStore: KeyStore | undefined): ResponderConfig['storedSlugs'] {
  const list = (keyStore as { slugs?: unknown } | undefined)?.slugs;
  if (keyStore === undefined || typeof list !== 'function') return undefined;
  return async () => {
    const slugs: unknown = await (list as () => unknown).call(keyStore);
    return Array.isArray(slugs) ? slugs.filter((slug) => typeof slug === 'string') : [];
  };
}

/** The `onError` option, checked and wrapped so that it can never change a response. */
function safeOnError(
  value: ResponderOptions['onError'],
): (error: unknown, context: ResponderErrorContext) => void {
  if (value === undefined) return () => undefined;
  if (typeof value !== 'function') throw new TypeError('onError must be a function');
  return (error, context) => {
    try {
      const result = value(error, context);
      if (result instanceof Promise) result.catch(() => undefined);
    } catch {
      // An error reporter that fails must not turn into another failure.
    }
  };
}

/** The identity and the rotation grace (§8), checked; the identity store bounded in time. */
function resolveIdentity(
  options: ResponderOptions,
): Pick<ResponderConfig, 'identity' | 'rotationGraceSeconds'> {
  const identity = resolveIdentityOptions(options.identity);
  const grace =
    options.rotationGraceSeconds ?? identity?.validitySeconds ?? DEFAULT_DOCUMENT_VALIDITY_S;
  assertGraceSeconds(grace, 'rotationGraceSeconds');
  const timeoutMs = options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  return {
    identity:
      identity === undefined
        ? undefined
        : { ...identity, store: boundIdentityStore(identity.store, timeoutMs) },
    rotationGraceSeconds: grace,
  };
}

/**
 * Checks a responder's options and fills in the defaults.
 * @param options - the options as given.
 * @returns the resolved configuration, holding the derived seal key (the caller's to wipe).
 * @throws {ZeqKeyExError} `invalid_field_key` for a missing, short or malformed field key.
 * @throws {TypeError} for malformed options, machines, base path, logger, stores, clock,
 *   `onRecord`, `recordAad` or `kem`.
 * @throws {RangeError} for a session lifetime or bound out of range.
 */
export function resolveResponderOptions(options: ResponderOptions): ResponderConfig {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('createResponder expects an options object');
  const kem = kemLoader(options.kem);
  const fieldKey = parseFieldKeyOption(options.fieldKey);
  try {
    const settings = resolveSettings(options);
    return { ...settings, kem, sealKey: deriveSealKey(fieldKey) };
  } finally {
    wipe(fieldKey);
  }
}
