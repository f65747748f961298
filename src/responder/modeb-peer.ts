/**
 * The Mode-B initiator's side that reaches its peer (spec §4.1, §8): which peer origins it may
 * fetch (https, or plain http for hosts the deployment names; no loopback, private or link-local
 * host unless named), the fetch of the peer's key document — the SDK's own client code: the
 * transport (time limit, 64 KiB size limit, error mapping) and {@link parseKeyDocument} (the checks
 * of §2.1), with no retries and no redirects — and the check of its attestation against an
 * expected identity. A peer that fails is a `502`, logged with its reason (`modeb-route.ts` runs
 * the rest of the endpoint: admin check, seeds, conflicts).
 *
 * Security caveats: nothing of the incoming admin request (its credentials in particular) is sent
 * to the peer; the request carries only `accept: application/json`. Redirects are not followed: a
 * peer that answers with one has not answered with a key document, and following it could move
 * the fetch to another host or from https to plain http. The private-host check reads hosts as
 * written: a DNS name that resolves to a private address needs an egress rule (docs/security.md).
 * @module
 */
import { ALGS, ROUTES, WIRE_ERRORS } from '../core/constants.js';
import { type KeyDocument, parseKeyDocument } from '../core/document.js';
import { isZeqKeyExError } from '../core/errors.js';
import { isPrivatePeerHost, parseHostList } from '../core/host.js';
import { assertDurationMs } from '../core/limits.js';
import { parseOrigin } from '../core/origin.js';
import { type FetchFunction, createTransport, refuseRedirects } from '../initiator/transport.js';
import { HttpError, jsonResponse } from './http.js';
import type { Logger } from './logger.js';

/** Options of the Mode-B endpoints (the responder's `modeB` option). */
export interface ModeBOptions {
  /**
   * Hosts (names or IP addresses, no port) whose key documents may be fetched over plain http, e.g.
   * `['127.0.0.1']` for two responders on one machine. Every other peer must be https.
   * @defaultValue `[]`
   */
  allowHttpHosts?: readonly string[];
  /**
   * Hosts (names or IP addresses, no port) that `initiate` may fetch although they are loopback,
   * private or link-local IP literals or `localhost` (see `isPrivatePeerHost`), e.g.
   * `['127.0.0.1']` for two responders on one machine. Such a host over plain http must also be in
   * `allowHttpHosts`. Every other such peer is refused (`400 invalid_request`).
   * @defaultValue `[]`
   */
  allowPrivatePeerHosts?: readonly string[];
  /**
   * Time limit of the peer key-document fetch, headers and body included.
   * @defaultValue 10_000
   */
  peerTimeoutMs?: number;
  /** The `fetch` used to reach peers (the global one by default; a peer's handler in tests). */
  fetch?: FetchFunction;
}

/** The clock skew allowed around a peer attestation's validity (§8.2's, as in the vectors). */
const MODE_B_CLOCK_SKEW_S = 60;

/** Default time limit of the peer key-document fetch. */
export const DEFAULT_PEER_TIMEOUT_MS = 10_000;

/** Transport and §2.1 failures that mean the peer was reached but answered no valid key document. */
const PEER_INVALID = new Set([
  'http_error',
  'response_too_large',
  'malformed_response',
  'unsupported_alg',
  'invalid_public_key',
  'invalid_encoding',
  'fingerprint_inconsistent',
]);
/** Transport failures that mean the peer was not reached in time. */
const PEER_UNREACHABLE = new Set(['network_error', 'timeout', 'aborted']);

/** What a failed peer fetch is answered with, and the line logged for it. */
interface PeerFailure {
  readonly code: 'peer_unreachable' | 'peer_invalid_response';
  readonly log: string;
}

/**
 * The answer to a peer fetch that failed with an SDK code: `502 peer_unreachable` or
 * `502 peer_invalid_response`; `undefined` for any other code (the responder's own failure, a
 * `500`).
 */
function peerFailure(reason: string): PeerFailure | undefined {
  if (PEER_UNREACHABLE.has(reason))
    return { code: 'peer_unreachable', log: 'mode-b initiate failed: peer unreachable' };
  if (PEER_INVALID.has(reason))
    return { code: 'peer_invalid_response', log: 'mode-b initiate failed: invalid peer response' };
  return undefined;
}

/** Options of {@link fetchPeerKeyDocument}. */
export interface PeerFetchOptions {
  /** The fetch to use (the global one by default). */
  fetch?: FetchFunction;
  /** Time limit, headers and body included. */
  timeoutMs: number;
  /** Aborts the fetch (e.g. when the admin request is abandoned). */
  signal?: AbortSignal;
}

/**
 * Fetches and validates `{peerOrigin}/api/keyex/{peerSlug}/pubkey`.
 * @param peerOrigin - the peer's origin (with optional base path, no trailing slash), already
 *   checked against the deployment's scheme policy.
 * @param peerSlug - the peer machine's slug, already validated.
 * @param options - fetch, time limit, signal.
 * @returns the validated document.
 * @throws {ZeqKeyExError} transport codes (`network_error`, `timeout`, `aborted`, `http_error`,
 *   `response_too_large`, `malformed_response`) and the §2.1 codes of {@link parseKeyDocument}.
 */
export async function fetchPeerKeyDocument(
  peerOrigin: string,
  peerSlug: string,
  options: PeerFetchOptions,
): Promise<KeyDocument> {
  const transport = createTransport({
    fetch: refuseRedirects(options.fetch),
    timeoutMs: options.timeoutMs,
    retry: 0,
  });
  const { body } = await transport.getJson(
    peerOrigin + ROUTES.pubkey(peerSlug),
    options.signal === undefined ? {} : { signal: options.signal },
  );
  // Either alg (§9): the expected fingerprint fixes the key, and so the alg.
  return parseKeyDocument(body, ALGS);
}

/** Reaching the peers of one responder's Mode-B endpoints, with its options checked once. */
export interface ModeBPeers {
  /**
   * The peer origin of an initiate request: an origin (`core/origin.ts`), then the scheme policy,
   * then the private-host policy.
   * @throws {HttpError} `invalid_request` for a malformed or refused origin.
   */
  parseOrigin(text: string): string;
  /**
   * The peer's key document (§2.1 checks 1–2).
   * @throws {HttpError} `502` `peer_unreachable` / `peer_invalid_response` for a peer that fails.
   */
  fetchDocument(peerOrigin: string, peerSlug: string, signal: AbortSignal): Promise<KeyDocument>;
  /**
   * §4.1 with §8: the peer's document must carry a valid attestation by the expected identity
   * (checks 1–6 of §8.2, with the responder's clock and a 60 s skew). Another identity is
   * `409 identity_mismatch`; no attestation, or one that is malformed, badly signed or expired,
   * is `502 peer_invalid_response`. Mode-B keeps no serials: an older document that is still
   * valid only makes L seed with a key the peer may no longer hold, which the commitments show.
   * @returns the refusal, or `undefined` when the peer's key is attested.
   */
  checkIdentity(
    peer: KeyDocument,
    peerSlug: string,
    expectedIdentity: string,
    localSlug: string,
  ): Promise<Response | undefined>;
}

/**
 * Checks the peer options of the responder's `modeB` option and gives what reaches the peers.
 * @param modeB - the options (already known to be an object).
 * @param logger - where refusals and failures are logged.
 * @param now - the responder's clock, for attestations.
 * @returns the peer side.
 * @throws {TypeError} for a malformed fetch or host list.
 * @throws {RangeError} for a peer timeout out of range.
 */
export function createModeBPeers(
  modeB: ModeBOptions,
  logger: Logger,
  now: () => number,
): ModeBPeers {
  const allowHttpHosts = parseHostList(modeB.allowHttpHosts, 'modeB.allowHttpHosts');
  const allowPrivatePeerHosts = parseHostList(
    modeB.allowPrivatePeerHosts,
    'modeB.allowPrivatePeerHosts',
  );
  const peerTimeoutMs =
    modeB.peerTimeoutMs === undefined
      ? DEFAULT_PEER_TIMEOUT_MS
      : assertDurationMs(modeB.peerTimeoutMs, 'modeB.peerTimeoutMs');
  if (modeB.fetch !== undefined && typeof modeB.fetch !== 'function')
    throw new TypeError('modeB.fetch must be a function');
  const peerFetch = modeB.fetch;

  /** {@link ModeBPeers.parseOrigin}. */
  function parsePeerOrigin(text: string): string {
    const peerOrigin = parseOrigin(text);
    if (peerOrigin === undefined) throw new HttpError('invalid_request');
    const url = new URL(peerOrigin);
    if (url.protocol === 'http:' && !allowHttpHosts.has(url.hostname)) {
      logger.warn('mode-b initiate refused: plain http peer not allowed', {
        code: 'invalid_request',
        peerHost: url.hostname,
      });
      throw new HttpError('invalid_request');
    }
    // Not a way into the responder's own network: an admin token must not buy a fetch of
    // loopback, private or link-local addresses unless the operator named the host.
    if (isPrivatePeerHost(url.hostname) && !allowPrivatePeerHosts.has(url.hostname)) {
      logger.warn('mode-b initiate refused: private peer host not allowed', {
        code: 'invalid_request',
        peerHost: url.hostname,
      });
      throw new HttpError('invalid_request');
    }
    return peerOrigin;
  }

  /** {@link ModeBPeers.fetchDocument}. */
  async function fetchPeer(
    peerOrigin: string,
    peerSlug: string,
    signal: AbortSignal,
  ): Promise<KeyDocument> {
    try {
      return await fetchPeerKeyDocument(peerOrigin, peerSlug, {
        timeoutMs: peerTimeoutMs,
        signal,
        ...(peerFetch === undefined ? {} : { fetch: peerFetch }),
      });
    } catch (error) {
      const reason = isZeqKeyExError(error) ? error.code : undefined;
      const failure = reason === undefined ? undefined : peerFailure(reason);
      if (failure !== undefined) {
        logger.warn(failure.log, {
          code: failure.code,
          reason,
          peerHost: new URL(peerOrigin).hostname,
          peerMachine: peerSlug,
        });
        throw new HttpError(failure.code);
      }
      throw error;
    }
  }

  /** {@link ModeBPeers.checkIdentity}. */
  async function checkPeerIdentity(
    peer: KeyDocument,
    peerSlug: string,
    expectedIdentity: string,
    localSlug: string,
  ): Promise<Response | undefined> {
    const { checkAttestation } = await import('../core/attestation.js');
    try {
      await checkAttestation(peer.attestation, {
        document: {
          alg: peer.alg,
          slug: peerSlug,
          machineId: peer.machineId,
          publicKey: peer.publicKey,
        },
        identityPins: [expectedIdentity],
        nowSeconds: Math.floor(now() / 1_000),
        skewSeconds: MODE_B_CLOCK_SKEW_S,
      });
      return undefined;
    } catch (error) {
      if (!isZeqKeyExError(error)) throw error;
      if (error.code === 'identity_mismatch') {
        logger.warn('mode-b initiate refused: identity mismatch', {
          code: 'identity_mismatch',
          localMachine: localSlug,
          peerMachine: peerSlug,
          expectedIdentity,
        });
        return jsonResponse(409, {
          error: 'identity_mismatch',
          message: WIRE_ERRORS.identity_mismatch.message,
          expected_identity: expectedIdentity,
        });
      }
      logger.warn('mode-b initiate failed: invalid peer attestation', {
        code: 'peer_invalid_response',
        reason: error.code,
        peerMachine: peerSlug,
      });
      throw new HttpError('peer_invalid_response');
    }
  }

  return {
    parseOrigin: parsePeerOrigin,
    fetchDocument: fetchPeer,
    checkIdentity: checkPeerIdentity,
  };
}
