/**
 * Admission control: the responder decides whether to do a request's work before it does any of
 * it (issue "a responder you can put on the open internet"; spec §7 `rate_limited`, revision 2
 * `unavailable`).
 *
 * - Per-client token buckets, one per kind of work: handshakes, records and key generation. A
 *   client is whatever the `clientId` hook names; a request it names no one for is not limited per
 *   client. A client whose bucket is empty is answered `429 rate_limited` with a `Retry-After` of
 *   the whole seconds until it holds a token again (at least 1).
 * - A global cap on decapsulations in flight: a handshake beyond it is answered `503 unavailable`
 *   with `Retry-After: 1`, never queued.
 *
 * Security caveats:
 * - The buckets live in memory, at most `maxTrackedClients` clients; the least recently seen
 *   client is forgotten first (and starts again with a full bucket). An attacker with more
 *   addresses than that can cycle through them: the in-flight cap still bounds the work.
 * - Client ids are truncated to {@link MAX_CLIENT_ID_LENGTH} characters, so a long id costs no
 *   more memory than a short one.
 * - The default hook reads the address an adapter attached to the request object with
 *   {@link setClientAddress} (`serve` does it from the socket), never anything a client sent: a
 *   header would let a client name itself anyone, escaping its own limits or spending another's.
 *   A request with no address attached is not limited per client (the in-flight cap still
 *   applies): under another server, attach the platform's client address or pass `clientId`.
 * @module
 */
import { assertPositiveInteger } from '../core/limits.js';
import { HttpError } from './http.js';
import { OrderedMap } from './ordered-map.js';

/** The addresses adapters attached to requests; held weakly, so they go with the request. */
const clientAddresses = new WeakMap<Request, string>();

/**
 * Attaches the client's address to a request, for the default `clientId` hook: what an adapter
 * that sees the socket does before it calls the responder (`serve` does it; under Deno,
 * `Deno.serve((request, info) => …)` would attach `info.remoteAddr.hostname`). The address travels
 * with the request object, not in a header, so no client can claim one.
 * @returns the request, for chaining
 */
export function setClientAddress(request: Request, address: string): Request {
  if (typeof address !== 'string' || address === '')
    throw new TypeError('the client address must be a non-empty string');
  clientAddresses.set(request, address);
  return request;
}

/** The longest client id kept; a longer one is truncated. */
export const MAX_CLIENT_ID_LENGTH = 256;

/** One token bucket: `burst` tokens at most, refilled at `perSecond` tokens a second. */
export interface TokenBucketLimit {
  /** Tokens a new client starts with, and the most it can hold. */
  readonly burst: number;
  /** Tokens added per second (may be a fraction, e.g. `0.1`: one every ten seconds). */
  readonly perSecond: number;
}

/** The kinds of work limited per client. */
export type AdmissionKind = 'handshake' | 'records' | 'keyGeneration';

/** Per-client limits by kind of work; `false` turns one off. */
export type RateLimits = {
  readonly [K in AdmissionKind]?: TokenBucketLimit | false;
};

/** The per-client limits a responder applies when its options do not say otherwise. */
export const DEFAULT_RATE_LIMITS: Readonly<Record<AdmissionKind, TokenBucketLimit>> = Object.freeze(
  {
    /** 20 at once, then 5 a second: one address sending hundreds a second is throttled. */
    handshake: Object.freeze({ burst: 20, perSecond: 5 }),
    /** 200 at once, then 100 a second. */
    records: Object.freeze({ burst: 200, perSecond: 100 }),
    /** Key documents of machines without a key yet: 5 at once, then one a minute. */
    keyGeneration: Object.freeze({ burst: 5, perSecond: 1 / 60 }),
  },
);

/** The most clients whose buckets are kept by default. */
export const DEFAULT_MAX_TRACKED_CLIENTS = 10_000;

/** The most decapsulations in flight by default. */
export const DEFAULT_MAX_IN_FLIGHT_DECAPSULATIONS = 64;

/** The `Retry-After` of a `503 unavailable` when the decapsulations in flight are at their cap. */
export const IN_FLIGHT_RETRY_AFTER_SECONDS = 1;

/** Options of {@link createAdmission}. */
export interface AdmissionOptions {
  /** Names the client of a request; `undefined` for one that is not limited per client. */
  readonly clientId: (request: Request) => string | undefined;
  /** Per-client limits, merged over {@link DEFAULT_RATE_LIMITS}; `false` turns them all off. */
  readonly rateLimits: RateLimits | false | undefined;
  readonly maxTrackedClients: number;
  readonly maxInFlightDecapsulations: number;
  /** The clock, in milliseconds. */
  readonly now: () => number;
  /** Told of each decapsulation and each handshake shed (metrics); never changes an answer. */
  readonly observer?: AdmissionObserver | undefined;
}

/**
 * What admission tells an operator's metrics: how long each decapsulation took and each handshake
 * shed at the in-flight cap. Called synchronously; an observer that throws is ignored.
 */
export interface AdmissionObserver {
  /** A decapsulation (and the key derivation with it) ran for `ms` milliseconds. */
  decapsulated?(ms: number): void;
  /** A handshake was answered `503 unavailable` because the decapsulations in flight were at the cap. */
  shed?(): void;
}

/** Admission control of one responder. */
export interface Admission {
  /**
   * Takes one token of `kind` from the request's client (a promise when the buckets are in a
   * shared store, `shared-rate-limits.ts`: await it).
   * @throws {HttpError} `rate_limited` (429, with `Retry-After`) when its bucket is empty.
   */
  take(kind: AdmissionKind, request: Request): Promise<void> | undefined;
  /**
   * The request's client id as the buckets know it (truncated), or `undefined` for a request that
   * is not limited per client.
   */
  client(request: Request): string | undefined;
  /**
   * Whether {@link Admission.take} would count the request at all: its client is named and the
   * limit of `kind` is on.
   */
  applies(kind: AdmissionKind, request: Request): boolean;
  /**
   * Refuses a handshake early when the decapsulations in flight are at their cap.
   * @throws {HttpError} `unavailable` (503, `Retry-After: 1`).
   */
  assertDecapsulationRoom(): void;
  /**
   * Runs `work` (a decapsulation) in one of the capped slots.
   * @throws {HttpError} `unavailable` (503, `Retry-After: 1`) when every slot is taken; then
   *   `work` is not run.
   */
  decapsulate<T>(work: () => Promise<T>): Promise<T>;
}

interface Bucket {
  /** The client's id: the key it is found by. */
  readonly client: string;
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

/** The default `clientId` hook: the address an adapter attached with {@link setClientAddress}. */
export function clientAddressOf(request: Request): string | undefined {
  return clientAddresses.get(request);
}

function parseLimit(value: unknown, name: string): TokenBucketLimit | undefined {
  if (value === false) return undefined;
  if (typeof value !== 'object' || value === null)
    throw new TypeError(`rateLimits.${name} must be { burst, perSecond } or false`);
  const { burst, perSecond } = value as Record<string, unknown>;
  assertPositiveInteger(burst, `rateLimits.${name}.burst`);
  // Stryker disable next-line ConditionalExpression: Number.isFinite is false for any non-number too
  if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond <= 0)
    throw new RangeError(`rateLimits.${name}.perSecond must be a positive number`);
  return { burst: burst as number, perSecond };
}

/**
 * Checks the per-client limits (programmer input).
 * @param value - the `rateLimits` option.
 * @returns the limit of each kind, `undefined` for one that is off.
 * @throws {TypeError} for a malformed option. @throws {RangeError} for a limit out of range.
 */
export function resolveRateLimits(
  value: unknown,
): Readonly<Record<AdmissionKind, TokenBucketLimit | undefined>> {
  if (value === false)
    return { handshake: undefined, records: undefined, keyGeneration: undefined };
  if (value !== undefined && (typeof value !== 'object' || value === null))
    throw new TypeError('rateLimits must be an object or false');
  const given = (value ?? {}) as Record<string, unknown>;
  const kinds = Object.keys(DEFAULT_RATE_LIMITS) as AdmissionKind[];
  for (const key of Object.keys(given))
    if (!kinds.includes(key as AdmissionKind))
      throw new TypeError(`rateLimits has no limit named ${key}`);
  const pick = (kind: AdmissionKind): TokenBucketLimit | undefined =>
    Object.hasOwn(given, kind) && given[kind] !== undefined
      ? parseLimit(given[kind], kind)
      : DEFAULT_RATE_LIMITS[kind];
  return {
    handshake: pick('handshake'),
    records: pick('records'),
    keyGeneration: pick('keyGeneration'),
  };
}

/**
 * Builds a responder's admission control.
 * @param options - the client hook, limits, bounds and clock.
 * @returns the admission control.
 * @throws {TypeError} / {RangeError} for malformed options.
 */
export function createAdmission(options: AdmissionOptions): Admission {
  const { clientId, now } = options;
  if (typeof clientId !== 'function') throw new TypeError('clientId must be a function');
  const limits = resolveRateLimits(options.rateLimits);
  const maxClients = assertPositiveInteger(options.maxTrackedClients, 'maxTrackedClients');
  const maxInFlight = assertPositiveInteger(
    options.maxInFlightDecapsulations,
    'maxInFlightDecapsulations',
  );
  // One map per kind, in order of use: the least recently seen client oldest, to be forgotten when
  // the map is full. An `OrderedMap`, not a `Map`: finding a `Map`'s first entry walks every slot
  // deleted since its last rehash (one per take here), which a flood from ever new addresses would
  // make each request pay (`ordered-map.ts`).
  const clientOf = (bucket: Bucket): string => bucket.client;
  const buckets: Record<AdmissionKind, OrderedMap<string, Bucket>> = {
    handshake: new OrderedMap(clientOf),
    records: new OrderedMap(clientOf),
    keyGeneration: new OrderedMap(clientOf),
  };
  let inFlight = 0;

  function idOf(request: Request): string | undefined {
    let id: unknown;
    try {
      id = clientId(request);
    } catch /* Stryker disable next-line BlockStatement: id stays undefined */ {
      id = undefined; // a failing hook limits no one rather than fail the request
    }
    if (typeof id !== 'string' || id === '') return undefined;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: slicing an id of at most 256 characters to 256 returns it unchanged
    return id.length > MAX_CLIENT_ID_LENGTH ? id.slice(0, MAX_CLIENT_ID_LENGTH) : id;
  }

  const observer = options.observer;
  const tell = (call: (o: AdmissionObserver) => void): void => {
    try {
      // Stryker disable next-line ConditionalExpression: calling into an undefined observer throws, and is ignored like an observer's throw
      if (observer !== undefined) call(observer);
    } catch {
      // Metrics that fail must not change an answer.
    }
  };

  function busy(): HttpError {
    // Stryker disable next-line OptionalChaining: an observer without `shed` then throws inside `tell`, which ignores it
    tell((o) => o.shed?.());
    return new HttpError('unavailable', { 'retry-after': String(IN_FLIGHT_RETRY_AFTER_SECONDS) });
  }

  return {
    take(kind: AdmissionKind, request: Request): undefined {
      const limit = limits[kind];
      if (limit === undefined) return;
      const id = idOf(request);
      if (id === undefined) return;
      const map = buckets[kind];
      const time = now();
      const known = map.get(id);
      let bucket: Bucket;
      if (known === undefined) {
        bucket = { client: id, tokens: limit.burst, at: time };
        if (map.size >= maxClients) {
          const oldest = map.oldest();
          // Stryker disable next-line ConditionalExpression: the map holds maxClients >= 1 entries here, so there is an oldest
          if (oldest !== undefined) map.delete(oldest.client);
        }
      } else {
        // A clock that went back refills nothing, and the bucket's time stays where it was: the
        // clock stepping forward again to it refills nothing either (not the same interval twice).
        const elapsed = Math.max(0, time - known.at) / 1_000;
        bucket = {
          client: id,
          tokens: Math.min(limit.burst, known.tokens + elapsed * limit.perSecond),
          at: Math.max(known.at, time),
        };
      }
      // A new object each take: the ordered map takes each value once, as its newest.
      map.add(bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return;
      }
      const seconds = Math.max(1, Math.ceil((1 - bucket.tokens) / limit.perSecond));
      throw new HttpError('rate_limited', { 'retry-after': String(seconds) });
    },
    client: idOf,
    applies(kind: AdmissionKind, request: Request): boolean {
      return limits[kind] !== undefined && idOf(request) !== undefined;
    },
    assertDecapsulationRoom(): void {
      if (inFlight >= maxInFlight) throw busy();
    },
    async decapsulate<T>(work: () => Promise<T>): Promise<T> {
      if (inFlight >= maxInFlight) throw busy();
      inFlight += 1;
      // Stryker disable next-line ConditionalExpression: a start time without an observer to tell is never used (`tell` ignores the call)
      const started = observer?.decapsulated === undefined ? 0 : performance.now();
      try {
        return await work();
      } finally {
        inFlight -= 1;
        // Stryker disable next-line ConditionalExpression,OptionalChaining: `decapsulated` was defined when `started` was set; without it `tell` ignores the call
        if (started !== 0) tell((o) => o.decapsulated?.(performance.now() - started));
      }
    },
  };
}
