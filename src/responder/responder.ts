/**
 * The responder: a standard fetch handler `(Request) => Promise<Response>` serving ZeqKeyEx first
 * contact (spec §2.1 key documents, §2.3 handshakes) with the error bodies and statuses of §7.
 * With an `onRecord` callback it also serves the records endpoint of §3.1 (`records-route.ts`),
 * over per-session ratchet state kept in this instance (`record-sessions.ts`). It always offers
 * the ZeqSSL Mode-B admin endpoints of §4.1 and §4.2 (`modeb-route.ts`), which refuse every call
 * unless the deployment configures an `admin` check.
 *
 * Each request is checked in the order that keeps a refused request from changing anything:
 * route and method, slug grammar, machine, content-type, body size (declared, then read), JSON
 * shape, field encodings, and only then the machine's key. A handshake never generates a key (a
 * ciphertext cannot have been made for a key that does not exist yet, so that is `key_mismatch`);
 * a key document does, lazily, once.
 *
 * Security caveats:
 * - ML-KEM decapsulation never fails: a ciphertext made for another key yields an unrelated
 *   secret, and the initiator notices when the key confirmation does not open. The responder cannot
 *   tell, so a `200` to a handshake is not proof that anyone holds the same record key.
 * - The shared secret is wiped as soon as the record key is derived; the record key is wiped once
 *   the session store holds its own copy. No secret appears in a response or a log line, and a 500
 *   never carries detail: the log gets the error code, never a caught exception's text.
 * - A handshake's replay tag is `(fingerprint, SHA-256(cipher_text))`: the same ciphertext is
 *   refused while a session derived from it can be live (`409 replayed_handshake`).
 * @module
 */
import { AEAD_NONCE_BYTES, ALG, ALG_SIZES, MAX_HANDSHAKE_REQUEST_BYTES, ROUTES, type Alg } from '../core/constants.js';
import { ZeqKeyExError, isZeqKeyExError } from '../core/errors.js';
import { base64Decode } from '../core/encoding.js';
import { HttpError, discardBody, errorResponse, isMediaType, jsonResponse, jsonTextResponse, parseJsonObject, readBody } from './http.js';
import { assertMachineId, assertSlug, isFingerprint, isMachineId, isSessionId, isSlug } from '../core/identifiers.js';
import { type KemBackendName, type KemChoice, kemLoader } from '../backends/kem-backend.js';
import { type KeyManager, type MachineKey, createKeyManager } from './key-manager.js';
import { type Logger, assertLogger, safeLogger, silentLogger } from './logger.js';
import { randomBytes, sha256, wipe } from '../core/primitives.js';
import { type Route, createRouter } from './router.js';
import { deriveSealKey, parseFieldKey } from '../core/sealing.js';
import { DEFAULT_MAX_SESSIONS, type KeyStore, type SessionStore, createMemoryKeyStore, createMemorySessionStore } from './stores.js';
import { sealKeyConfirmationWithNonce } from '../core/confirmation.js';
import { deriveRecordKey, firstContactTranscript } from '../core/transcript.js';
import { type RecordSessions, type ResponderSession, createRecordSessions, findRecordSession, responderSession } from './record-sessions.js';
import { type RecordHandler, createRecordsRoute } from './records-route.js';
import type { AdminOptions } from './admin.js';
import { type ModeBEndpoints, type ModeBOptions, createModeBEndpoints } from './modeb-route.js';
import type { SeedStore } from './seed-store.js';

/** Resolves a slug to the machine id it serves, or `undefined` when it serves none. */
export type MachineResolver = (slug: string) => string | undefined | Promise<string | undefined>;

/** Options of {@link createResponder}. */
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
   * `404 invalid_request`, like any path the responder does not serve (§3.1 is optional).
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
   * the wire) when there is none, which {@link Responder.kemBackend} reports at start-up; `'noble'`
   * never tries. Machine keys are imported into it once and cached. Same bytes whichever is used.
   * @defaultValue 'auto'
   */
  kem?: KemChoice;
  /**
   * Where Mode-B seeds are stored, sealed.
   * @defaultValue a memory store (seeds are lost on restart)
   */
  seedStore?: SeedStore;
}

/** The key document of spec §2.1. */
export interface KeyDocumentBody {
  readonly alg: Alg;
  /** The public key, canonical base64. */
  readonly public_key: string;
  /** `hex(SHA-256(public_key))`. */
  readonly fingerprint: string;
  readonly machine_id: string;
}

/** A responder. */
export interface Responder {
  /**
   * Serves one request. Never throws: every failure is a §7 error response.
   * @param request - the request.
   * @returns the response.
   */
  fetch(request: Request): Promise<Response>;
  /**
   * The §2.1 key document of a machine, generating its key on first use.
   * @param slug - the machine's slug.
   * @returns the document.
   * @throws {ZeqKeyExError} `invalid_identifier` for a malformed slug, `unknown_machine`,
   *   `machine_unavailable` when its stored key cannot be opened, `store_error`.
   */
  keyDocument(slug: string): Promise<KeyDocumentBody>;
  /**
   * A live session made by this responder, to carry records on the app's own transport (spec §3).
   * It shares its ratchet with the records endpoint. Its state is created on the first record.
   * @param sessionId - the session id.
   * @returns the session, or `undefined` when it is unknown, expired, or was not made by this
   *   responder instance (its ratchet state would not be here; see `docs/records.md`).
   * @throws {ZeqKeyExError} `store_error`.
   */
  recordSession(sessionId: string): Promise<ResponderSession | undefined>;
  /**
   * The ML-KEM backend this responder uses (option `kem`), probing the runtime on first use.
   * @returns `'node'`, `'webcrypto'` or `'noble'`.
   * @throws {ZeqKeyExError} `kem_unavailable` for `kem: 'native'` on a runtime without one.
   */
  kemBackend(): Promise<KemBackendName>;
  /** Wipes the cached keys, the seal key and every session's traffic keys; later requests fail. */
  close(): void;
}

/** Default session lifetime: ten minutes. */
export const DEFAULT_SESSION_TTL_MS = 600_000;

/** What a route handler receives. */
interface RequestContext {
  readonly request: Request;
  readonly params: ReadonlyMap<string, string>;
}

const MAX_TTL_MS = 2 ** 31 - 1;
const CIPHER_TEXT_BYTES = ALG_SIZES[ALG].cipherText;

function parseFieldKeyOption(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.length !== 32) throw new ZeqKeyExError('invalid_field_key', 'the field key must be 32 bytes');
    return Uint8Array.from(value);
  }
  return parseFieldKey(value);
}

function parseMachines(value: unknown): MachineResolver {
  if (typeof value === 'function') return value as MachineResolver;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('machines must be a record of slug → machine_id or a resolver function');
  }
  const table = new Map<string, string>();
  for (const [slug, machineId] of Object.entries(value)) {
    assertSlug(slug);
    assertMachineId(machineId);
    table.set(slug, machineId);
  }
  return (slug) => table.get(slug);
}

function parseBasePath(value: unknown): string {
  if (typeof value !== 'string') throw new TypeError('basePath must be a string');
  const path = value.endsWith('/') ? value.slice(0, -1) : value;
  if (!/^(?:\/[^/?#\s]+)*$/.test(path)) throw new TypeError('basePath must be "" or a path like "/zeq" (no query, fragment or empty segment)');
  return path;
}

function parseDuration(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_TTL_MS) {
    throw new RangeError(`${name} must be an integer number of milliseconds in [1, 2^31 - 1]`);
  }
  return value;
}

function parseCount(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const SESSION_ID_BYTES = 16;
/** Public random bytes are cut from draws of this many: one CSPRNG call per 64 session ids. */
const PUBLIC_RANDOM_POOL_BYTES = 1024;

/** 16 bytes as base64url without padding (22 characters). */
function base64Url16(bytes: Uint8Array): string {
  let id = '';
  for (let i = 0; i < 15; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    id += BASE64URL.charAt(n >>> 18) + BASE64URL.charAt((n >>> 12) & 63) + BASE64URL.charAt((n >>> 6) & 63) + BASE64URL.charAt(n & 63);
  }
  const last = bytes[15] as number;
  return id + BASE64URL.charAt(last >>> 2) + BASE64URL.charAt((last & 3) << 4);
}

/**
 * A source of random bytes that are public once used: session ids (they travel in the clear and
 * authorise nothing without the record key) and key-confirmation nonces (sent beside the
 * ciphertext, under a record key used for that one confirmation). Cut from one CSPRNG draw per
 * 1 KiB, each byte used once; holding the next few in memory costs nothing.
 */
function createPublicRandom(): (length: number) => Uint8Array {
  let pool: Uint8Array = new Uint8Array(0);
  let at = 0;
  return (length) => {
    if (at + length > pool.length) {
      pool = randomBytes(PUBLIC_RANDOM_POOL_BYTES);
      at = 0;
    }
    const bytes = pool.subarray(at, at + length);
    at += length;
    return bytes;
  };
}

function field(body: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(body, name) ? body[name] : undefined;
}

function documentOf(key: MachineKey): KeyDocumentBody {
  return { alg: key.alg, public_key: key.publicKeyBase64, fingerprint: key.fingerprint, machine_id: key.machineId };
}

/**
 * The path of a request's URL. `Request.url` is a serialised absolute URL: for http(s), the path
 * is everything from the first `/` after `://` up to `?` or `#` (userinfo and host cannot hold
 * those characters unescaped), so it needs no second parse; any other scheme is parsed.
 */
function pathnameOf(url: string): string {
  const after = url.startsWith('https://') ? 8 : url.startsWith('http://') ? 7 : 0;
  if (after === 0) return new URL(url).pathname;
  const start = url.indexOf('/', after);
  if (start < 0) return '/';
  let end = url.indexOf('?', start);
  const hash = url.indexOf('#', start);
  if (end < 0 || (hash >= 0 && hash < end)) end = hash;
  return end < 0 ? url.slice(start) : url.slice(start, end);
}

/**
 * Creates a responder.
 * @param options - field key, machines, stores and limits.
 * @returns the responder.
 * @throws {ZeqKeyExError} `invalid_field_key` for a missing, short or malformed field key.
 * @throws {TypeError} for malformed machines, base path, logger, stores, clock or `kem`.
 * @throws {RangeError} for a session lifetime or bound out of range.
 * @example
 * ```ts
 * import { createResponder } from 'zeq-keyex/responder';
 * const responder = createResponder({
 *   fieldKey: process.env.ZEQ_FIELD_KEY!,
 *   machines: { 'edge-01': 'machine:edge-01' },
 * });
 * export default { fetch: responder.fetch }; // any fetch-handler runtime
 * ```
 */
export function createResponder(options: ResponderOptions): Responder {
  if (typeof options !== 'object' || options === null) throw new TypeError('createResponder expects an options object');
  const kem = kemLoader(options.kem);
  const fieldKey = parseFieldKeyOption(options.fieldKey);
  const resolve = parseMachines(options.machines);
  const basePath = parseBasePath(options.basePath ?? '');
  const sessionTtlMs = parseDuration(options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS, 'sessionTtlMs');
  if (options.maxSessions !== undefined && options.sessionStore !== undefined) {
    throw new TypeError('maxSessions bounds the default memory session store; bound your sessionStore itself');
  }
  const maxSessions = parseCount(options.maxSessions ?? DEFAULT_MAX_SESSIONS, 'maxSessions');
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new TypeError('now must be a function returning milliseconds');
  if (options.logger !== undefined) assertLogger(options.logger);
  const logger = safeLogger(options.logger ?? silentLogger);
  const keyStore = options.keyStore ?? createMemoryKeyStore();
  if (typeof keyStore.get !== 'function' || typeof keyStore.putIfAbsent !== 'function') {
    throw new TypeError('keyStore must have get(slug) and putIfAbsent(key)');
  }
  const sessionStore = options.sessionStore ?? createMemorySessionStore({ maxSessions, now });
  if (typeof sessionStore.create !== 'function' || typeof sessionStore.get !== 'function' || typeof sessionStore.delete !== 'function') {
    throw new TypeError('sessionStore must have create, get and delete');
  }

  if (options.onRecord !== undefined && typeof options.onRecord !== 'function') throw new TypeError('onRecord must be a function');
  if (options.recordAad !== undefined && !(options.recordAad instanceof Uint8Array)) throw new TypeError('recordAad must be a Uint8Array');
  const onRecord = options.onRecord;
  const recordAad = Uint8Array.from(options.recordAad ?? []);
  // §3: record state per session, created on its first record (record-sessions.ts).
  const recordSessions: RecordSessions = createRecordSessions({
    maxSessions,
    now,
    ratchet: { now, ...(options.rekeyIntervalMs === undefined ? {} : { rekeyIntervalMs: options.rekeyIntervalMs }) },
  });

  const publicRandom = createPublicRandom();
  const sealKey = deriveSealKey(fieldKey);
  wipe(fieldKey);
  const keys: KeyManager = createKeyManager({ sealKey, keyStore, logger, now, kem });

  /** The machine a slug names, or an HTTP error. */
  async function machineFor(slug: string): Promise<string> {
    if (!isSlug(slug)) throw new HttpError('invalid_slug');
    const machineId: unknown = await resolve(slug);
    if (machineId === undefined || machineId === null) throw new HttpError('unknown_machine');
    if (!isMachineId(machineId)) throw new ZeqKeyExError('invalid_identifier', 'the machine resolver returned a malformed machine_id');
    return machineId;
  }

  /** Each opened key's §2.1 document as JSON text, serialised once (keys are cached objects). */
  const documents = new WeakMap<MachineKey, string>();

  // §2.1
  async function servePubkey({ params }: RequestContext): Promise<Response> {
    const slug = params.get('slug') ?? '';
    const machineId = await machineFor(slug);
    const key = await keys.obtain(slug, machineId);
    let json = documents.get(key);
    if (json === undefined) {
      json = JSON.stringify(documentOf(key));
      documents.set(key, json);
    }
    return jsonTextResponse(200, json);
  }

  // §2.3
  async function serveHandshake({ request, params }: RequestContext): Promise<Response> {
    const slug = params.get('slug') ?? '';
    const machineId = await machineFor(slug);
    if (!isMediaType(request.headers.get('content-type'), 'application/json')) throw new HttpError('unsupported_media_type');
    const body = parseJsonObject(await readBody(request, MAX_HANDSHAKE_REQUEST_BYTES));
    const cipherTextField = field(body, 'cipher_text');
    const fingerprint = field(body, 'fingerprint');
    if (typeof cipherTextField !== 'string') throw new HttpError('invalid_request');
    if (fingerprint !== undefined && !isFingerprint(fingerprint)) throw new HttpError('invalid_request');
    let cipherText: Uint8Array;
    try {
      cipherText = base64Decode(cipherTextField, CIPHER_TEXT_BYTES, 'cipher_text');
    } catch {
      throw new HttpError('invalid_cipher_text');
    }

    const key = await keys.find(slug, machineId);
    if (key === undefined || (fingerprint !== undefined && fingerprint !== key.fingerprint)) {
      logger.warn('handshake refused: key mismatch', { code: 'key_mismatch', slug, hasKey: key !== undefined });
      throw new HttpError('key_mismatch');
    }

    const transcript = firstContactTranscript({ alg: key.alg, slug: key.slug, machineId: key.machineId, publicKey: key.publicKey, cipherText });
    const sharedSecret = await key.secretKey.decapsulate(cipherText);
    let recordKey: Uint8Array;
    try {
      recordKey = deriveRecordKey(sharedSecret, transcript);
    } finally {
      wipe(sharedSecret);
    }
    try {
      const sessionId = base64Url16(publicRandom(SESSION_ID_BYTES));
      const keyConfirmation = sealKeyConfirmationWithNonce(recordKey, transcript, sessionId, publicRandom(AEAD_NONCE_BYTES));
      const expiresAt = now() + sessionTtlMs;
      const expiresIso = new Date(expiresAt).toISOString();
      let created: string;
      try {
        created = await sessionStore.create(
          { sessionId, slug: key.slug, machineId: key.machineId, recordKey, expiresAt },
          { fingerprint: key.fingerprint, cipherTextHash: sha256(cipherText) },
        );
      } catch (cause) {
        if (isZeqKeyExError(cause)) throw cause;
        throw new ZeqKeyExError('store_error', 'the session store failed', { cause });
      }
      if (created === 'replayed') {
        logger.warn('handshake refused: replayed cipher_text', { code: 'replayed_handshake', slug });
        throw new HttpError('replayed_handshake');
      }
      if (created !== 'created') throw new ZeqKeyExError('store_error', 'the session store answered neither created nor replayed');
      recordSessions.register(sessionId, expiresAt);
      return jsonResponse(200, {
        session_id: sessionId,
        key_confirmation: keyConfirmation,
        machine_id: key.machineId,
        fingerprint: key.fingerprint,
        alg: key.alg,
        expires_at: expiresIso,
      });
    } finally {
      wipe(recordKey);
    }
  }

  // §4: the Mode-B admin endpoints (modeb-route.ts). Their options are checked here; a refusal
  // must not leave the seal key behind.
  let modeB: ModeBEndpoints;
  try {
    modeB = createModeBEndpoints({ admin: options.admin, modeB: options.modeB, seedStore: options.seedStore, keys, kem, sealKey, logger, now, machineFor });
  } catch (error) {
    keys.close();
    wipe(sealKey);
    throw error;
  }

  // §3.1 (records) and §4 (Mode-B admin routes) are further entries of this table.
  const routes: Route<RequestContext>[] = [
    { pattern: ROUTES.pubkey(':slug'), methods: { GET: servePubkey } },
    { pattern: ROUTES.handshake(':slug'), methods: { POST: serveHandshake } },
    ...(onRecord === undefined
      ? []
      : [{ pattern: ROUTES.records(':slug', ':session_id'), methods: { POST: createRecordsRoute({ machineFor, sessionStore, sessions: recordSessions, onRecord, aad: recordAad, now, logger }) } }]),
    ...modeB.routes,
  ];
  const router = createRouter(routes);
  const basePrefix = `${basePath}/`;

  async function dispatch(request: Request): Promise<Response> {
    let pattern: string | undefined;
    try {
      const pathname = pathnameOf(request.url);
      const path = basePath === '' ? pathname : pathname.startsWith(basePrefix) ? pathname.slice(basePath.length) : undefined;
      const match = path === undefined ? undefined : router.match(path);
      if (match === undefined) {
        discardBody(request);
        return jsonResponse(404, { error: 'invalid_request', message: 'no such route' });
      }
      pattern = match.route.pattern;
      const handler = Object.hasOwn(match.route.methods, request.method) ? match.route.methods[request.method] : undefined;
      if (handler === undefined) throw new HttpError('method_not_allowed', { allow: match.allow });
      const response = await handler({ request, params: match.params });
      discardBody(request);
      return response;
    } catch (error) {
      discardBody(request);
      if (error instanceof HttpError) return errorResponse(error.code, error.headers);
      // The code only: a caught exception's text could quote anything.
      logger.error('request failed', { code: isZeqKeyExError(error) ? error.code : 'unexpected', method: request.method, route: pattern });
      return errorResponse('internal');
    }
  }

  return {
    fetch(request: Request): Promise<Response> {
      return dispatch(request);
    },
    async keyDocument(slug: string): Promise<KeyDocumentBody> {
      let machineId: string;
      try {
        machineId = await machineFor(slug);
      } catch (error) {
        if (error instanceof HttpError) {
          throw new ZeqKeyExError(error.code === 'invalid_slug' ? 'invalid_identifier' : 'unknown_machine');
        }
        throw error;
      }
      return documentOf(await keys.obtain(slug, machineId));
    },
    async recordSession(sessionId: string): Promise<ResponderSession | undefined> {
      if (!isSessionId(sessionId)) return undefined;
      const found = await findRecordSession(sessionStore, recordSessions, sessionId, now());
      return found.status === 'live' ? responderSession(found.session, found.channel, recordSessions, now) : undefined;
    },
    async kemBackend(): Promise<KemBackendName> {
      return (await kem()).backend;
    },
    close(): void {
      keys.close();
      recordSessions.close();
      modeB.close();
      wipe(sealKey);
    },
  };
}
