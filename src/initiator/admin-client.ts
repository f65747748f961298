/**
 * The SDK's admin client for the ZeqSSL Mode-B endpoints of a responder (spec §4.1, §4.2): it asks
 * machine L to `initiate` a seeding with a peer, and machine P to `respond` to it, with the
 * caller's credentials (a bearer token, or any headers such as a session cookie).
 *
 * Errors: transport failures keep their codes (`network_error`, `timeout`, …). A `409
 * fingerprint_mismatch` answer becomes the SDK's `fingerprint_mismatch` carrying both
 * fingerprints; every other error status is `http_error` with `status` and `responseCode`. A
 * success body is validated field by field (`malformed_response`), and `initiate` checks that the
 * responder names the fingerprint it was asked to require (`response_mismatch`).
 *
 * Security caveats: the token is sent only to `origin`; redirects are not followed, so it is never
 * replayed to another host. Responses never carry a seed, only its commitment: compare the two
 * commitments to confirm that both machines derived the same seed.
 * @module
 */
import { ALG, ALG_SIZES, ROUTES, type Alg } from '../core/constants.js';
import { base64Decode, base64Encode, joinChunks } from '../core/encoding.js';
import { ZeqKeyExError, isZeqKeyExError } from '../core/errors.js';
import { parsePin } from '../core/fingerprint.js';
import { assertMachineId, assertSlug, isFingerprint, isMachineId } from '../core/identifiers.js';
import { type FetchFunction, refuseRedirects } from '../responder/modeb-peer.js';
import { assertAdminToken } from '../responder/admin.js';
import { type Transport, createTransport } from './transport.js';

/** Options of {@link createModeBAdminClient}. */
export interface ModeBAdminClientOptions {
  /** The responder's origin, optionally with a base path (`https://edge.example/zeq`). */
  origin: string | URL;
  /** An admin bearer token, sent as `authorization: Bearer <token>`. */
  token?: string;
  /** Other credentials or headers, e.g. `{ cookie: 'session=…' }` (Node) — sent with every call. */
  headers?: HeadersInit;
  /** A `fetch` to use instead of the global one (e.g. a responder's handler, for tests). */
  fetch?: FetchFunction;
  /**
   * Time limit per call. `initiate` waits for the responder's own fetch of the peer's key, so keep
   * this above the responder's `peerTimeoutMs`.
   * @defaultValue 30_000
   */
  timeoutMs?: number;
  /** Aborts every call of this client. */
  signal?: AbortSignal;
}

/** What `initiate` asks of machine L (spec §4.1). */
export interface ModeBInitiateRequest {
  /** L's slug on the responder being called. */
  localMachine: string;
  /** The peer responder's origin (https, unless that responder allows plain http for the host). */
  peerOrigin: string;
  /** The peer machine's slug on the peer responder. */
  peerMachine: string;
  /** The fingerprint the peer's key must have, as given out of band (any `parsePin` form). */
  expectedFingerprint: string;
}

/** The answer of `initiate` (spec §4.1). */
export interface ModeBInitiateResult {
  /** The ciphertext for the peer, canonical base64 (1088 bytes): pass it to `respond`. */
  cipherText: string;
  /** The seed commitment on L, 64 lowercase hex characters. */
  seedCommitment: string;
  /** The peer's (P's) machine_id, as its key document states it. */
  peerMachineId: string;
  /** The fingerprint of the peer key the seed was encapsulated to. */
  peerFingerprint: string;
  /** L's machine_id: `respond` on the peer takes it as `peerMachineId`. */
  localMachineId: string;
  alg: Alg;
}

/** What `respond` asks of machine P (spec §4.2). */
export interface ModeBRespondRequest {
  /** P's slug on the responder being called. */
  localMachine: string;
  /** The initiator's (L's) machine_id: `localMachineId` of the initiate result. */
  peerMachineId: string;
  /** The initiator's ciphertext: base64 as `initiate` returned it, or the 1088 bytes. */
  cipherText: string | Uint8Array;
}

/** The answer of `respond` (spec §4.2). */
export interface ModeBRespondResult {
  /** The seed commitment on P: equal to L's when both hold the same seed. */
  seedCommitment: string;
  /** P's machine_id. */
  localMachineId: string;
  /** The fingerprint of P's key. */
  fingerprint: string;
  alg: Alg;
}

/** Per-call options. */
export interface ModeBAdminCallOptions {
  signal?: AbortSignal;
}

/** The Mode-B admin client. */
export interface ModeBAdminClient {
  /** The normalised origin (with base path, no trailing slash). */
  readonly origin: string;
  /**
   * `POST /api/ssl/peer-seed/keyex/initiate` on this responder (machine L).
   * @throws {ZeqKeyExError} `fingerprint_mismatch` (with `expectedFingerprint`, `actualFingerprint`),
   *   `http_error` (`status`, `responseCode`: `unauthorized`, `forbidden`, `peer_unreachable`,
   *   `peer_invalid_response`, …), `response_mismatch`, `malformed_response` and transport codes.
   */
  initiate(request: ModeBInitiateRequest, options?: ModeBAdminCallOptions): Promise<ModeBInitiateResult>;
  /**
   * `POST /api/ssl/peer-seed/keyex/respond` on this responder (machine P).
   * @throws {ZeqKeyExError} `invalid_encoding` for a cipher text that is not canonical base64 of
   *   1088 bytes (`invalid_cipher_text` for bytes of another length), `http_error`,
   *   `malformed_response` and transport codes.
   */
  respond(request: ModeBRespondRequest, options?: ModeBAdminCallOptions): Promise<ModeBRespondResult>;
}

/** Default time limit of an admin call. */
export const DEFAULT_ADMIN_TIMEOUT_MS = 30_000;
/** The most of an error body read to find the fingerprints of a mismatch. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

function normaliseOrigin(origin: string | URL, name: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new TypeError(`${name} must be an absolute http(s) URL`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new TypeError(`${name} must be an http(s) URL without query, fragment or credentials`);
  }
  return (url.origin + url.pathname).replace(/\/+$/, '');
}

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ZeqKeyExError('malformed_response', 'the response is not a JSON object');
  return body as Record<string, unknown>;
}

function text(body: Record<string, unknown>, name: string, valid: (value: string) => boolean): string {
  const value = Object.hasOwn(body, name) ? body[name] : undefined;
  if (typeof value !== 'string' || !valid(value)) throw new ZeqKeyExError('malformed_response', `the response has no valid "${name}"`);
  return value;
}

const isAlg = (value: string): boolean => value === ALG;
const isCipherText = (value: string): boolean => {
  try {
    base64Decode(value, ALG_SIZES[ALG].cipherText);
    return true;
  } catch {
    return false;
  }
};

/** Reads at most `limit` bytes of a body (then gives up on it), honouring an abort signal. */
async function readCapped(body: ReadableStream<Uint8Array>, limit: number, signal: AbortSignal | null): Promise<Uint8Array | undefined> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const aborted = new Promise<never>((_, reject) => {
    if (signal?.aborted === true) reject(signal.reason);
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => undefined);
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), aborted]);
      if (done) break;
      total += value.length;
      if (total > limit) return undefined;
      chunks.push(value);
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return joinChunks(chunks);
}

/**
 * Creates a Mode-B admin client for one responder.
 * @param options - origin, credentials and HTTP options.
 * @returns the client.
 * @throws {TypeError} for an origin that is not an http(s) URL or a malformed token.
 * @throws {RangeError} for a non-positive timeout.
 * @example
 * ```ts
 * const edge = createModeBAdminClient({ origin: 'https://edge.example', token: process.env.EDGE_ADMIN_TOKEN });
 * const core = createModeBAdminClient({ origin: 'https://core.example', token: process.env.CORE_ADMIN_TOKEN });
 * const l = await edge.initiate({ localMachine: 'edge-01', peerOrigin: 'https://core.example', peerMachine: 'core-01', expectedFingerprint: pin });
 * const p = await core.respond({ localMachine: 'core-01', peerMachineId: l.localMachineId, cipherText: l.cipherText });
 * if (l.seedCommitment !== p.seedCommitment) throw new Error('Mode-B seeds differ');
 * ```
 */
export function createModeBAdminClient(options: ModeBAdminClientOptions): ModeBAdminClient {
  if (typeof options !== 'object' || options === null) throw new TypeError('createModeBAdminClient expects an options object');
  const origin = normaliseOrigin(options.origin, 'origin');
  if (options.token !== undefined) assertAdminToken(options.token);
  const headers = new Headers(options.headers);
  if (options.token !== undefined) headers.set('authorization', `Bearer ${options.token}`);
  const timeoutMs = options.timeoutMs ?? DEFAULT_ADMIN_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be a positive number');
  if (options.fetch !== undefined && typeof options.fetch !== 'function') throw new TypeError('fetch must be a function');
  const baseFetch = refuseRedirects(options.fetch);

  /**
   * One transport per call, whose fetch reads a 409 body itself (the transport keeps only the wire
   * code of an error) and hands the response on unchanged.
   */
  async function post(path: string, body: unknown, call: ModeBAdminCallOptions): Promise<unknown> {
    let mismatch: { expected: string; actual: string } | undefined;
    const fetchImpl: FetchFunction = async (input, init) => {
      const response = await baseFetch(input, init);
      if (response.status !== 409 || response.body === null) return response;
      const bytes = await readCapped(response.body, MAX_ERROR_BODY_BYTES, input.signal);
      if (bytes !== undefined) {
        try {
          const parsed = asObject(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
          const expected = parsed['expected_fingerprint'];
          const actual = parsed['actual_fingerprint'];
          if (parsed['error'] === 'fingerprint_mismatch' && isFingerprint(expected) && isFingerprint(actual)) mismatch = { expected, actual };
        } catch {
          // Not the §4.1 mismatch body: the transport reports the status as it is.
        }
      }
      return new Response(bytes === undefined ? null : (bytes as BodyInit), { status: response.status, statusText: response.statusText, headers: response.headers });
    };
    const transport: Transport = createTransport({
      fetch: fetchImpl,
      headers,
      timeoutMs,
      retry: 0,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    try {
      return (await transport.postJson(origin + path, body, call.signal === undefined ? {} : { signal: call.signal })).body;
    } catch (error) {
      if (isZeqKeyExError(error, 'http_error') && error.responseCode === 'fingerprint_mismatch' && mismatch !== undefined) {
        throw new ZeqKeyExError('fingerprint_mismatch', 'the peer presented another fingerprint than expected', {
          status: error.status ?? 409,
          responseCode: 'fingerprint_mismatch',
          expectedFingerprint: mismatch.expected,
          actualFingerprint: mismatch.actual,
          cause: error,
        });
      }
      throw error;
    }
  }

  return Object.freeze({
    origin,
    async initiate(request: ModeBInitiateRequest, call: ModeBAdminCallOptions = {}): Promise<ModeBInitiateResult> {
      assertSlug(request.localMachine);
      assertSlug(request.peerMachine);
      const peerOrigin = normaliseOrigin(request.peerOrigin, 'peerOrigin');
      const expected = parsePin(request.expectedFingerprint);
      const body = asObject(
        await post(
          ROUTES.modeBInitiate,
          { local_machine: request.localMachine, peer_origin: peerOrigin, peer_machine: request.peerMachine, expected_fingerprint: expected },
          call,
        ),
      );
      const result: ModeBInitiateResult = {
        cipherText: text(body, 'cipher_text', isCipherText),
        seedCommitment: text(body, 'seed_commitment', isFingerprint),
        peerMachineId: text(body, 'peer_machine_id', isMachineId),
        peerFingerprint: text(body, 'peer_fingerprint', isFingerprint),
        localMachineId: text(body, 'local_machine_id', isMachineId),
        alg: text(body, 'alg', isAlg) as Alg,
      };
      if (result.peerFingerprint !== expected) throw new ZeqKeyExError('response_mismatch', 'the responder encapsulated to another key than the expected one');
      return result;
    },
    async respond(request: ModeBRespondRequest, call: ModeBAdminCallOptions = {}): Promise<ModeBRespondResult> {
      assertSlug(request.localMachine);
      assertMachineId(request.peerMachineId);
      if (request.cipherText instanceof Uint8Array && request.cipherText.length !== ALG_SIZES[ALG].cipherText) throw new ZeqKeyExError('invalid_cipher_text');
      // Canonical base64 of exactly 1088 bytes, checked before anything is sent.
      const cipherText = base64Encode(
        request.cipherText instanceof Uint8Array ? request.cipherText : base64Decode(request.cipherText, ALG_SIZES[ALG].cipherText, 'cipher_text'),
      );
      const body = asObject(
        await post(ROUTES.modeBRespond, { local_machine: request.localMachine, peer_machine_id: request.peerMachineId, cipher_text: cipherText }, call),
      );
      return {
        seedCommitment: text(body, 'seed_commitment', isFingerprint),
        localMachineId: text(body, 'local_machine_id', isMachineId),
        fingerprint: text(body, 'fingerprint', isFingerprint),
        alg: text(body, 'alg', isAlg) as Alg,
      };
    },
  });
}
