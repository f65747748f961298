/**
 * The SDK's admin client for the ZeqSSL Mode-B endpoints of a responder (spec §4.1, §4.2): it asks
 * machine L to `initiate` a seeding with a peer, and machine P to `respond` to it, with the
 * caller's credentials (a bearer token, or any headers such as a session cookie).
 *
 * Requests go through the initiator's transport (`transport.ts`: time limit, 64 KiB body limit,
 * error mapping), so transport failures keep their codes (`network_error`, `timeout`, …). A `409
 * fingerprint_mismatch` answer becomes the SDK's `fingerprint_mismatch` carrying both
 * fingerprints; every other error status is `http_error` with `status` and `responseCode`. A
 * success body is validated field by field (`malformed_response`), and `initiate` checks that the
 * responder names the fingerprint it was asked to require (`response_mismatch`).
 *
 * A `409 seed_conflict` (spec §4.1, revision 2: a seed for that peer machine_id is stored under
 * another peer fingerprint) is `http_error` with `responseCode: 'seed_conflict'`,
 * `expectedFingerprint` the stored one and `actualFingerprint` the one the peer presented now.
 *
 * Security caveats: the token is sent only to `origin`; redirects are not followed, so it is never
 * replayed to another host. Credentials (the token, or any `headers`) are never sent over plain
 * http except to a loopback host or a host the caller names in `allowInsecureHosts`: creating
 * such a client is a `TypeError`. Responses never carry a seed, only its commitment: compare the
 * two commitments to confirm that both machines derived the same seed.
 * @module
 */
import {
  ALGS,
  ALG_SIZES,
  MAX_ATTESTATION_VALIDITY_S,
  MAX_RESPONSE_BYTES,
  ROUTES,
  type Alg,
} from '../core/constants.js';
import { base64Decode, base64Encode } from '../core/encoding.js';
import { ZeqKeyExError, isZeqKeyExError } from '../core/errors.js';
import { parsePin } from '../core/fingerprint.js';
import { assertMachineId, assertSlug, isFingerprint, isMachineId } from '../core/identifiers.js';
import { isJsonObject, jsonString } from '../core/json.js';
import { normaliseOrigin } from '../core/origin.js';
import { assertAdminToken } from '../core/admin-token.js';
import { readCapped } from '../core/read-capped.js';
import { isLoopbackHost, parseHostList } from '../core/host.js';
import {
  type FetchFunction,
  type Transport,
  createTransport,
  refuseRedirects,
} from './transport.js';

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
  /**
   * Hosts (names or IP addresses, no port) to which credentials may go over plain http. Without
   * a name here, a client for an `http://` origin that carries a token or `headers` is refused
   * unless the host is loopback (`127.0.0.0/8`, `::1`, `localhost`).
   * @defaultValue `[]`
   */
  allowInsecureHosts?: readonly string[];
}

/** What `initiate` asks of machine L (spec §4.1). */
export interface ModeBInitiateRequest {
  /** L's slug on the responder being called. */
  localMachine: string;
  /** The peer responder's origin (https, unless that responder allows plain http for the host). */
  peerOrigin: string;
  /** The peer machine's slug on the peer responder. */
  peerMachine: string;
  /**
   * The fingerprint the peer's key must have, as given out of band (any `parsePin` form). Exactly
   * one of `expectedFingerprint` and `expectedIdentity` is given.
   */
  expectedFingerprint?: string;
  /**
   * The identity that must have signed the peer's key document (spec §4.1 with §8: sent as
   * `expected_identity` in place of `expected_fingerprint`; any `parsePin` form). L then answers
   * `409 identity_mismatch` (the SDK's `identity_mismatch`) or `502 peer_invalid_response`.
   */
  expectedIdentity?: string;
  /**
   * Replace a seed stored for the peer's machine_id under another peer fingerprint (an operator
   * re-seeding after the peer's key rotation). Without it such a seed is kept and the call fails
   * with `http_error` / `responseCode: 'seed_conflict'`.
   * @defaultValue false
   */
  replace?: boolean;
}

/** The answer of `initiate` (spec §4.1). */
export interface ModeBInitiateResult {
  /** The ciphertext for the peer, canonical base64 (1088 bytes; 1120 for X-Wing): pass it to `respond`. */
  cipherText: string;
  /** The seed commitment on L, 64 lowercase hex characters. */
  seedCommitment: string;
  /** The peer's (P's) machine_id, as its key document states it. */
  peerMachineId: string;
  /** The fingerprint of the peer key the seed was encapsulated to. */
  peerFingerprint: string;
  /** L's machine_id: `respond` on the peer takes it as `peerMachineId`. */
  localMachineId: string;
  /** The KEM algorithm of the exchange (wire `alg`, spec §4.1): `'ML-KEM-768'`. */
  alg: Alg;
}

/** What `respond` asks of machine P (spec §4.2). */
export interface ModeBRespondRequest {
  /** P's slug on the responder being called. */
  localMachine: string;
  /** The initiator's (L's) machine_id: `localMachineId` of the initiate result. */
  peerMachineId: string;
  /** The initiator's ciphertext: base64 as `initiate` returned it, or the bytes (1088; 1120 for X-Wing). */
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
  /** The KEM algorithm of the exchange (wire `alg`, spec §4.2): `'ML-KEM-768'`. */
  alg: Alg;
}

/** What `rotateKey` asks of a responder (spec §8.3; the endpoint is this SDK's). */
export interface KeyRotateRequest {
  /** The slug of the machine whose KEM key is replaced. */
  machine: string;
  /**
   * How long the previous key keeps answering handshakes that name it, in seconds (0: its secret
   * is deleted at once, for a key that may be compromised); at most 30 days.
   * @defaultValue the responder's `rotationGraceSeconds`
   */
  graceSeconds?: number;
}

/** The answer of `rotateKey`. */
export interface KeyRotateResult {
  /** The machine's machine_id. */
  machineId: string;
  /** The new key's fingerprint, served from now on. */
  fingerprint: string;
  /** The previous key's fingerprint, answered until `retiredUntil`. */
  previousFingerprint: string;
  /** The end of the previous key's grace period, RFC 3339 UTC. */
  retiredUntil: string;
}

/** Per-call options. */
export interface ModeBAdminCallOptions {
  /** Aborts this call (`aborted`), in addition to the client's own `signal`. */
  signal?: AbortSignal;
}

/** The Mode-B admin client. */
export interface ModeBAdminClient {
  /** The normalised origin (with base path, no trailing slash). */
  readonly origin: string;
  /**
   * `POST /api/ssl/peer-seed/keyex/initiate` on this responder (machine L).
   * @throws {ZeqKeyExError} `fingerprint_mismatch` (with `expectedFingerprint`, `actualFingerprint`),
   *   `identity_mismatch` (`expectedIdentity` given), `http_error` (`status`, `responseCode`: `unauthorized`, `forbidden`, `peer_unreachable`,
   *   `peer_invalid_response`, `seed_conflict` with `expectedFingerprint` the stored peer
   *   fingerprint and `actualFingerprint` the presented one, …), `response_mismatch`,
   *   `malformed_response` and transport codes.
   * @throws {TypeError} for a malformed slug, origin, pin or identity, neither or both of
   *   `expectedFingerprint` and `expectedIdentity`, or a `replace` that is not a boolean.
   */
  initiate(
    request: ModeBInitiateRequest,
    options?: ModeBAdminCallOptions,
  ): Promise<ModeBInitiateResult>;
  /**
   * `POST /api/ssl/peer-seed/keyex/respond` on this responder (machine P).
   * @throws {ZeqKeyExError} `invalid_encoding` for a cipher text that is not canonical base64 of
   *   1088 or 1120 bytes (`invalid_cipher_text` for bytes of another length), `http_error`,
   *   `malformed_response` and transport codes.
   */
  respond(
    request: ModeBRespondRequest,
    options?: ModeBAdminCallOptions,
  ): Promise<ModeBRespondResult>;
  /**
   * `POST /api/keyex/{slug}/rotate` on this responder: replaces the machine's KEM key (spec §8.3).
   * Pins on the previous key break; identity pins do not.
   * @throws {ZeqKeyExError} `http_error` (`unauthorized`, `forbidden`, `unknown_machine`,
   *   `key_mismatch` for a machine without a key yet, `unavailable`, …), `malformed_response`
   *   and transport codes.
   * @throws {TypeError} for a malformed slug; RangeError for a grace out of [0, 30 days].
   */
  rotateKey(request: KeyRotateRequest, options?: ModeBAdminCallOptions): Promise<KeyRotateResult>;
}

/** Default time limit of an admin call. */
export const DEFAULT_ADMIN_TIMEOUT_MS = 30_000;
/** One field of a success body, checked by `valid`; anything else is `malformed_response`. */
function responseField(
  body: Readonly<Record<string, unknown>>,
  name: string,
  valid: (value: string) => boolean,
): string {
  const value = jsonString(body, name);
  if (value === undefined || !valid(value))
    throw new ZeqKeyExError('malformed_response', `the response has no valid "${name}"`);
  return value;
}

const isAlg = (value: string): boolean => ALGS.includes(value as Alg);
/** The ciphertext lengths of the algs (§1, §9): 1088 bytes for ML-KEM-768, 1120 for X-Wing. */
const CIPHER_TEXT_BYTES: readonly number[] = ALGS.map((alg) => ALG_SIZES[alg].cipherText);
const isCipherText = (value: string): boolean => {
  try {
    return CIPHER_TEXT_BYTES.includes(base64Decode(value).length);
  } catch {
    return false;
  }
};

/**
 * Reads the body of a `409` before the transport does, to keep the `stored_fingerprint` of a
 * `seed_conflict` (§4.1), which the transport does not carry over; hands on the same bytes.
 */
function keepConflict(
  base: FetchFunction,
  seen: { stored?: string; actual?: string },
): FetchFunction {
  return async (input, init) => {
    const response = await base(input, init);
    if (response.status !== 409) return response;
    const bytes = await readCapped(response.body, MAX_RESPONSE_BYTES, init?.signal ?? undefined);
    if (bytes === undefined) return new Response(null, { status: 409 });
    try {
      const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
      if (isJsonObject(value)) {
        const stored = jsonString(value, 'stored_fingerprint');
        const actual = jsonString(value, 'actual_fingerprint');
        if (isFingerprint(stored) && isFingerprint(actual)) Object.assign(seen, { stored, actual });
      }
    } catch {
      // Not JSON: the transport reports it by its status.
    }
    // The bytes are decoded already: their length and encoding headers no longer apply.
    const headers = new Headers(response.headers);
    headers.delete('content-encoding');
    headers.delete('content-length');
    return new Response(Uint8Array.from(bytes), { status: 409, headers });
  };
}

/**
 * A failed call's error as the admin client reports it: a §4.1 `409 fingerprint_mismatch` naming
 * both fingerprints (the transport keeps them on its `http_error`) becomes the SDK's
 * `fingerprint_mismatch`; a `409 seed_conflict` naming both fingerprints (kept by
 * {@link keepConflict}) is an `http_error` carrying them; a 409 whose body is too large to read is
 * reported by its status, as any other 409 (`http_error`). Everything else is unchanged.
 */
function adminCallError(error: unknown, conflict: { stored?: string; actual?: string }): unknown {
  if (!isZeqKeyExError(error) || error.status !== 409) return error;
  const { expectedFingerprint, actualFingerprint } = error;
  if (
    error.code === 'http_error' &&
    error.responseCode === 'seed_conflict' &&
    conflict.stored !== undefined &&
    conflict.actual !== undefined
  ) {
    return new ZeqKeyExError(
      'http_error',
      'a seed for this peer machine is stored under another peer fingerprint',
      {
        status: 409,
        responseCode: 'seed_conflict',
        expectedFingerprint: conflict.stored,
        actualFingerprint: conflict.actual,
        cause: error,
      },
    );
  }
  if (
    error.code === 'http_error' &&
    error.responseCode === 'fingerprint_mismatch' &&
    expectedFingerprint !== undefined &&
    actualFingerprint !== undefined
  ) {
    return new ZeqKeyExError(
      'fingerprint_mismatch',
      'the peer presented another fingerprint than expected',
      {
        status: 409,
        responseCode: 'fingerprint_mismatch',
        expectedFingerprint,
        actualFingerprint,
        cause: error,
      },
    );
  }
  if (error.code === 'http_error' && error.responseCode === 'identity_mismatch')
    return new ZeqKeyExError(
      'identity_mismatch',
      'the peer key document is not attested by the expected identity',
      { status: 409, responseCode: 'identity_mismatch', cause: error },
    );
  if (error.code === 'response_too_large')
    return new ZeqKeyExError('http_error', 'HTTP 409', { status: 409, cause: error });
  return error;
}

/**
 * Refuses credentials that would cross the network in the clear: any header (the token's
 * `authorization`, a cookie, …) for an `http://` origin whose host is neither loopback nor named.
 * @throws {TypeError} naming the host.
 */
function assertCredentialsMayGo(
  origin: string,
  headers: Headers,
  allowInsecureHosts: ReadonlySet<string>,
): void {
  const url = new URL(origin);
  if (url.protocol !== 'http:' || [...headers.keys()].length === 0) return;
  if (isLoopbackHost(url.hostname) || allowInsecureHosts.has(url.hostname)) return;
  throw new TypeError(
    `credentials are not sent over plain http to ${url.hostname}: use https, or name the host in allowInsecureHosts`,
  );
}

/**
 * Creates a Mode-B admin client for one responder.
 * @param options - origin, credentials and HTTP options.
 * @returns the client.
 * @throws {TypeError} for an origin that is not an http(s) URL, a malformed token or host list,
 *   or credentials (a token or `headers`) for an `http://` origin that is neither loopback nor
 *   named in `allowInsecureHosts`.
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
  // Long only as a closure: the options are validated once here; each call below is short.
  if (typeof options !== 'object' || options === null)
    throw new TypeError('createModeBAdminClient expects an options object');
  const origin = normaliseOrigin(options.origin, 'origin');
  if (options.token !== undefined) assertAdminToken(options.token);
  const headers = new Headers(options.headers);
  if (options.token !== undefined) headers.set('authorization', `Bearer ${options.token}`);
  assertCredentialsMayGo(
    origin,
    headers,
    parseHostList(options.allowInsecureHosts, 'allowInsecureHosts'),
  );
  const timeoutMs = options.timeoutMs ?? DEFAULT_ADMIN_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new RangeError('timeoutMs must be a positive number');
  if (options.fetch !== undefined && typeof options.fetch !== 'function')
    throw new TypeError('fetch must be a function');
  const baseFetch = refuseRedirects(options.fetch);

  async function post(
    path: string,
    body: unknown,
    call: ModeBAdminCallOptions,
  ): Promise<Record<string, unknown>> {
    // One transport per call, so that what keepConflict saw belongs to this call only.
    const conflict: { stored?: string; actual?: string } = {};
    const transport: Transport = createTransport({
      fetch: keepConflict(baseFetch, conflict),
      headers,
      timeoutMs,
      retry: 0,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    try {
      return (
        await transport.postJson(
          origin + path,
          body,
          call.signal === undefined ? {} : { signal: call.signal },
        )
      ).body;
    } catch (error) {
      throw adminCallError(error, conflict);
    }
  }

  return Object.freeze({
    origin,
    async initiate(
      request: ModeBInitiateRequest,
      call: ModeBAdminCallOptions = {},
    ): Promise<ModeBInitiateResult> {
      assertSlug(request.localMachine);
      assertSlug(request.peerMachine);
      const peerOrigin = normaliseOrigin(request.peerOrigin, 'peerOrigin');
      if ((request.expectedFingerprint === undefined) === (request.expectedIdentity === undefined))
        throw new TypeError('give exactly one of expectedFingerprint and expectedIdentity');
      const expected =
        request.expectedFingerprint === undefined
          ? undefined
          : parsePin(request.expectedFingerprint);
      const expectedIdentity =
        request.expectedIdentity === undefined ? undefined : parsePin(request.expectedIdentity);
      if (request.replace !== undefined && typeof request.replace !== 'boolean')
        throw new TypeError('replace must be a boolean');
      const body = await post(
        ROUTES.modeBInitiate,
        {
          local_machine: request.localMachine,
          peer_origin: peerOrigin,
          peer_machine: request.peerMachine,
          ...(expected === undefined
            ? { expected_identity: expectedIdentity }
            : { expected_fingerprint: expected }),
          ...(request.replace === true ? { replace: true } : {}),
        },
        call,
      );
      const result: ModeBInitiateResult = {
        cipherText: responseField(body, 'cipher_text', isCipherText),
        seedCommitment: responseField(body, 'seed_commitment', isFingerprint),
        peerMachineId: responseField(body, 'peer_machine_id', isMachineId),
        peerFingerprint: responseField(body, 'peer_fingerprint', isFingerprint),
        localMachineId: responseField(body, 'local_machine_id', isMachineId),
        alg: responseField(body, 'alg', isAlg) as Alg,
      };
      // §9: the ciphertext's length is the alg's (an answer that mixes the two algs is malformed).
      if (base64Decode(result.cipherText).length !== ALG_SIZES[result.alg].cipherText)
        throw new ZeqKeyExError('malformed_response', 'the cipher_text is not of the alg');
      if (expected !== undefined && result.peerFingerprint !== expected)
        throw new ZeqKeyExError(
          'response_mismatch',
          'the responder encapsulated to another key than the expected one',
        );
      return result;
    },
    async respond(
      request: ModeBRespondRequest,
      call: ModeBAdminCallOptions = {},
    ): Promise<ModeBRespondResult> {
      assertSlug(request.localMachine);
      assertMachineId(request.peerMachineId);
      // Canonical base64 of a ciphertext of either alg (1088 or 1120 bytes), checked before
      // anything is sent; the peer checks it against its machine's alg.
      const bytes =
        request.cipherText instanceof Uint8Array
          ? request.cipherText
          : base64Decode(request.cipherText, undefined, 'cipher_text');
      if (!CIPHER_TEXT_BYTES.includes(bytes.length))
        throw new ZeqKeyExError(
          request.cipherText instanceof Uint8Array ? 'invalid_cipher_text' : 'invalid_encoding',
        );
      const cipherText = base64Encode(bytes);
      const body = await post(
        ROUTES.modeBRespond,
        {
          local_machine: request.localMachine,
          peer_machine_id: request.peerMachineId,
          cipher_text: cipherText,
        },
        call,
      );
      return {
        seedCommitment: responseField(body, 'seed_commitment', isFingerprint),
        localMachineId: responseField(body, 'local_machine_id', isMachineId),
        fingerprint: responseField(body, 'fingerprint', isFingerprint),
        alg: responseField(body, 'alg', isAlg) as Alg,
      };
    },
    async rotateKey(
      request: KeyRotateRequest,
      call: ModeBAdminCallOptions = {},
    ): Promise<KeyRotateResult> {
      assertSlug(request.machine);
      const grace = request.graceSeconds;
      if (
        grace !== undefined &&
        (!Number.isSafeInteger(grace) || grace < 0 || grace > MAX_ATTESTATION_VALIDITY_S)
      )
        throw new RangeError('graceSeconds must be an integer in [0, 2592000] (30 days)');
      const body = await post(
        ROUTES.rotateKey(request.machine),
        grace === undefined ? {} : { grace_seconds: grace },
        call,
      );
      return {
        machineId: responseField(body, 'machine_id', isMachineId),
        fingerprint: responseField(body, 'fingerprint', isFingerprint),
        previousFingerprint: responseField(body, 'previous_fingerprint', isFingerprint),
        retiredUntil: responseField(body, 'retired_until', (value) =>
          /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/.test(value),
        ),
      };
    },
  });
}
