/**
 * The options of `createResponder` (`responder.ts`): what a deployment passes, each documented
 * with its default. `config.ts` checks them once, when the responder is created.
 * @module
 */
import { type Alg } from '../core/constants.js';
import { type KemChoice } from '../backends/kem-backend.js';
import type { AdminOptions } from './admin.js';
import { type CorsOptions } from './cors.js';
import { type IdentityOptions } from './identity.js';
import { type AdmissionObserver, type RateLimits } from './admission.js';
import { type Logger } from './logger.js';
import type { RateLimitStore } from './rate-limit-store.js';
import { type MachineResolver } from './machines.js';
import type { ModeBOptions } from './modeb-peer.js';
import type { RecordHandler } from './records-route.js';
import type { SeedStore } from './seed-store.js';
import type { SharedRecordState } from './shared-records.js';
import { type KeyStore, type SessionStore } from './stores.js';
import { type ReplayMemory } from './replay-memory.js';

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
   * about 140 bytes each; the default (about 14 MB) supports a sustained 10,000 handshakes a
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
