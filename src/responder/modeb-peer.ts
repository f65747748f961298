/**
 * The Mode-B initiator's fetch of its peer's key document (spec §4.1): the SDK's own client code —
 * the transport (time limit, 64 KiB size limit, error mapping) and {@link parseKeyDocument} (the
 * checks of §2.1) — with no retries and no redirects.
 *
 * Security caveats: nothing of the incoming admin request (its credentials in particular) is sent
 * to the peer; the request carries only `accept: application/json`. Redirects are not followed: a
 * peer that answers with one has not answered with a key document, and following it could move
 * the fetch to another host or from https to plain http.
 * @module
 */
import { ALGS, ROUTES } from '../core/constants.js';
import { type KeyDocument, parseKeyDocument } from '../core/document.js';
import { type FetchFunction, createTransport, refuseRedirects } from '../initiator/transport.js';

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
