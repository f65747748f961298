/**
 * The one check of the responder's options: {@link resolveResponderOptions} turns what a
 * deployment passes (`options.ts`) into a {@link ResponderConfig} the rest of the responder trusts.
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
import { type Kem, kemLoader } from '../backends/kem-backend.js';
import type { AdminOptions } from './admin.js';
import { type Cors, createCors } from './cors.js';
import {
  DEFAULT_DOCUMENT_VALIDITY_S,
  type IdentityConfig,
  resolveIdentityOptions,
} from './identity.js';
import { assertGraceSeconds } from './key-rotation.js';
import {
  type Admission,
  DEFAULT_MAX_IN_FLIGHT_DECAPSULATIONS,
  DEFAULT_MAX_TRACKED_CLIENTS,
  clientAddressOf,
  createAdmission,
} from './admission.js';
import { type Logger, assertLogger, safeLogger, silentLogger } from './logger.js';
import { assertRateLimitStore, shareRateLimits } from './shared-rate-limits.js';
import { type LookupMachine, parseMachines } from './machines.js';
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

import {
  DEFAULT_SESSION_TTL_MS,
  type ResponderErrorContext,
  type ResponderOptions,
} from './options.js';

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
  /**
   * The time limit the handshake route sets on the session store's `create` (the other calls are
   * bounded by the store's wrapper): `storeTimeoutMs` for a store given in the options, none for the
   * responder's own memory store, which answers at once (no timer to set and clear per handshake).
   */
  readonly sessionCreateTimeoutMs: number | undefined;
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
  | 'keyStore'
  | 'sessionStore'
  | 'replayMemory'
  | 'seedStore'
  | 'storeTimeoutMs'
  | 'sessionCreateTimeoutMs'
  | 'closeOwnStores'
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
    sessionCreateTimeoutMs: options.sessionStore === undefined ? undefined : timeoutMs,
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
