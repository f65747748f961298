/**
 * The initiator client of ZeqKeyEx first contact (spec §2): fetch a responder's key document,
 * check it and its fingerprint against the caller's trust choice, encapsulate, derive the record
 * key, post the ciphertext and verify the responder's key confirmation.
 *
 * A handshake runs the steps of §2.1–§2.3 in order, one line each in {@link createClient}'s
 * `handshake`: the trust choice, the key document (checks 1–2), the trust decision (check 3,
 * `trust.ts`), encapsulation and the key schedule (§2.2), the handshake request and its checks
 * (§2.3), the key confirmation, and only then a TOFU first use is remembered.
 *
 * One round trip (spec §8.2): a key document trusted by an identity pin (until its `not_after`) or
 * by a KEM-key pin (while the pin holds its key) is kept per slug after a confirmed handshake, and
 * later handshakes go straight to `POST handshake`. A `409 key_mismatch` on a kept document (the
 * responder rotated its key) fetches the document again, once, and retries; any other failure
 * drops the kept document too. Option `cacheKeyDocuments: false` turns this off.
 *
 * Security caveats:
 * - Trust is an explicit choice (spec §6): an identity pin, a pin per slug, a trust-on-first-use
 *   store, or an unauthenticated mode chosen by name. With none, nothing is sent (`pin_required`).
 * - The checks of §2.1 run, in order, before anything is posted; a failure at any step after
 *   encapsulation wipes the shared secret and record key before the error is thrown.
 * @module
 */
import {
  ALG,
  MAX_RECORD_REQUEST_BYTES,
  machineRoute,
  recordsRoute,
  type Alg,
} from '../core/constants.js';
import { ZeqKeyExError, isZeqKeyExError } from '../core/errors.js';
import { base64Encode } from '../core/encoding.js';
import { assertSlug } from '../core/identifiers.js';
import { type KemChoice, encapsulatorLoader } from '../backends/kem-backend.js';
import { openKeyConfirmation } from '../core/confirmation.js';
import {
  type HandshakeResponse,
  type KeyDocument,
  parseHandshakeResponse,
  parseKeyDocument,
} from '../core/document.js';
import { normaliseOrigin } from '../core/origin.js';
import { wipe } from '../core/primitives.js';
import { type RatchetOptions, assertRatchetOptions } from '../core/record-channel.js';
import { type ClientSession, createClientSession } from './session.js';
import { deriveRecordKey, firstContactTranscript } from '../core/transcript.js';
import { type Transport, type TransportOptions, createTransport } from './transport.js';
import { type TrustDecision, type TrustOptions, createTrustPolicy } from './trust.js';
import type { KemEncapsulator } from '../backends/kem-backend.js';

/** The most key documents a client keeps for one round trip (the oldest is dropped first). */
const MAX_CACHED_DOCUMENTS = 64;

/** A key document kept after a confirmed handshake, with the trust it earned. */
interface CachedDocument {
  readonly doc: KeyDocument;
  readonly decision: TrustDecision;
}

/** Options of {@link createClient}. */
export interface ClientOptions extends TransportOptions, TrustOptions {
  /** The responder's origin, optionally with a base path (`https://edge.example/zeq`). */
  origin: string | URL;
  /** The `alg` values accepted. @defaultValue ['ML-KEM-768'] */
  algs?: readonly Alg[];
  /**
   * How long a record epoch lasts before the session's sender ratchets (spec §3); also the grace
   * window in which the previous epoch's replies are still accepted.
   * @defaultValue 777
   */
  rekeyIntervalMs?: number;
  /**
   * The clock of the record ratchet, in milliseconds.
   * @defaultValue `Date.now`
   */
  now?: () => number;
  /**
   * The largest reply record `sessionRecords(session).request()` accepts.
   * @defaultValue 1048576 (the request limit of spec §3.1)
   */
  maxRecordBytes?: number;
  /**
   * The ML-KEM-768 backend: `'auto'` uses the runtime's native one (`node:crypto` on Node ≥ 24.7,
   * WebCrypto in Chromium, Deno and Bun) when it passes a probe against noble, and noble otherwise;
   * `'native'` fails the handshake with `kem_unavailable` when there is none; `'noble'` never
   * tries. The results are the same byte for byte; `session.kemBackend` says which was used.
   * @defaultValue 'auto'
   */
  kem?: KemChoice;
  /**
   * Keep key documents trusted by an identity pin (until `not_after`) or a KEM-key pin, and go
   * straight to `POST handshake` on later handshakes: one round trip instead of two (spec §8.2).
   * `session.documentCached` says which handshakes used a kept document.
   * @defaultValue true
   */
  cacheKeyDocuments?: boolean;
}

/** Per-call options. */
export interface CallOptions {
  /** Aborts this call. */
  signal?: AbortSignal;
}

/** The initiator client. */
export interface Client {
  /** The normalised origin (with base path, no trailing slash). */
  readonly origin: string;
  /**
   * Fetches and validates a key document (spec §2.1 checks 1–2) without checking trust: the way
   * to discover the fingerprint to pin. Compare it out of band before pinning it.
   * @throws {ZeqKeyExError} transport codes, `malformed_response`, `unsupported_alg`,
   *   `invalid_public_key`, `fingerprint_inconsistent`.
   */
  fetchKeyDocument(slug: string, options?: CallOptions): Promise<KeyDocument>;
  /**
   * Performs first contact with the machine `slug` and returns the confirmed session.
   * @throws {ZeqKeyExError} `pin_required`, `fingerprint_mismatch`, `tofu_key_changed`, `store_error`,
   *   `attestation_required`, `attestation_invalid`, `identity_mismatch`, `attestation_expired`,
   *   `attestation_rollback` (identity pins), `response_mismatch`, `confirmation_failed`, `kem_unavailable` (option `kem: 'native'`), and
   *   the codes of {@link Client.fetchKeyDocument}.
   */
  handshake(slug: string, options?: CallOptions): Promise<ClientSession>;
}

/**
 * Creates an initiator client.
 * @param options - origin, trust settings and HTTP options.
 * @returns the client.
 * @throws {TypeError} for an origin that is not an http(s) URL, a malformed pin or slug in `pins`,
 *   a `tofu` that is not a `TrustStore`, an unknown `kem`.
 * @throws {RangeError} for invalid HTTP or record options.
 * @example
 * ```ts
 * const client = createClient({
 *   origin: 'https://edge.example',
 *   pins: { 'edge-01': '8522cf61b77ef6900bcfec9bb38548c226df25087bb8bfc422e1d4a6780ecaad' },
 * });
 * const session = await client.handshake('edge-01');
 * ```
 */
export function createClient(options: ClientOptions): Client {
  // Long only as a closure: the options are validated once here, and each step below is short.
  const origin = normaliseOrigin(options.origin);
  const trust = createTrustPolicy(options);
  const algs = options.algs ?? [ALG];
  if (algs.length === 0 || !algs.every((a) => a === ALG))
    throw new TypeError(`algs may only contain ${ALG}`);
  const transport: Transport = createTransport(options);
  const ratchet: RatchetOptions = assertRatchetOptions(options);
  const maxRecordBytes = options.maxRecordBytes ?? MAX_RECORD_REQUEST_BYTES;
  if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes <= 0)
    throw new RangeError('maxRecordBytes must be an integer > 0');
  const kem = encapsulatorLoader(options.kem);
  const cacheDocuments = options.cacheKeyDocuments ?? true;
  if (typeof cacheDocuments !== 'boolean')
    throw new TypeError('cacheKeyDocuments must be a boolean');
  const documents = new Map<string, CachedDocument>();

  /** A kept document of `slug` that its trust still covers. */
  function cachedDocument(slug: string): CachedDocument | undefined {
    const cached = documents.get(slug);
    if (cached === undefined) return undefined;
    if (trust.stillTrusted(slug, cached.decision, cached.doc.fingerprint)) return cached;
    documents.delete(slug);
    return undefined;
  }

  function keepDocument(slug: string, doc: KeyDocument, decision: TrustDecision): void {
    if (!cacheDocuments || (decision.mode !== 'identity' && decision.mode !== 'pinned')) return;
    documents.delete(slug);
    if (documents.size >= MAX_CACHED_DOCUMENTS)
      documents.delete(documents.keys().next().value as string);
    documents.set(slug, { doc, decision });
  }

  async function fetchKeyDocument(slug: string, call: CallOptions = {}): Promise<KeyDocument> {
    assertSlug(slug);
    const { body } = await transport.getJson(origin + machineRoute(slug, 'pubkey'), {
      signal: call.signal,
    });
    return parseKeyDocument(body, algs);
  }

  /** §2.3: posts the ciphertext and checks that the response names the key it was made for. */
  async function postHandshake(
    slug: string,
    doc: KeyDocument,
    cipherText: Uint8Array,
    call: CallOptions,
  ): Promise<HandshakeResponse> {
    const { body } = await transport.postJson(
      origin + machineRoute(slug, 'handshake'),
      { cipher_text: base64Encode(cipherText), fingerprint: doc.fingerprint },
      { signal: call.signal },
    );
    const response = parseHandshakeResponse(body);
    if (
      response.machineId !== doc.machineId ||
      response.fingerprint !== doc.fingerprint ||
      response.alg !== doc.alg
    ) {
      throw new ZeqKeyExError('response_mismatch');
    }
    return response;
  }

  /** §2.2–§2.3 for a trusted document: encapsulate, post, open the confirmation, make the session. */
  async function exchange(
    slug: string,
    doc: KeyDocument,
    decision: TrustDecision,
    backend: KemEncapsulator,
    call: CallOptions,
    documentCached: boolean,
  ): Promise<ClientSession> {
    // §2.2. Every backend speaks ML-KEM-768, the only alg `algs` may hold.
    const { cipherText, sharedSecret } = await backend.encapsulate(doc.publicKey);
    const transcript = firstContactTranscript({ ...doc, slug, cipherText });
    const recordKey = deriveRecordKey(sharedSecret, transcript);
    wipe(sharedSecret);
    try {
      const response = await postHandshake(slug, doc, cipherText, call); // §2.3
      openKeyConfirmation(recordKey, transcript, response.sessionId, response.keyConfirmation);
      await decision.confirmed(); // a TOFU first use is remembered only now
      return createClientSession({
        ...response,
        alg: doc.alg,
        fingerprint: doc.fingerprint,
        machineId: doc.machineId,
        slug,
        trust: decision.mode,
        identity: decision.identity,
        serial: decision.serial,
        documentCached,
        kemBackend: backend.backend,
        recordKey,
        ratchet,
        records: {
          transport,
          url: origin + recordsRoute(slug, response.sessionId),
          maxResponseBytes: maxRecordBytes,
        },
      });
    } catch (error) {
      wipe(recordKey);
      throw error;
    }
  }

  async function handshake(slug: string, call: CallOptions = {}): Promise<ClientSession> {
    assertSlug(slug);
    trust.assertChoice(slug); // §6: no trust choice, nothing sent
    // Before any request: a `kem: 'native'` this runtime cannot honour sends nothing.
    const backend = await kem();
    const cached = cacheDocuments ? cachedDocument(slug) : undefined;
    if (cached !== undefined) {
      try {
        return await exchange(slug, cached.doc, cached.decision, backend, call, true);
      } catch (error) {
        if (documents.get(slug) === cached) documents.delete(slug);
        // §8.2: the responder holds another key (a rotation): fetch the document again, once.
        if (!isKeyMismatch(error)) throw error;
      }
    }
    const doc = await fetchKeyDocument(slug, call); // §2.1 checks 1–2
    const decision = await trust.check(origin, slug, doc); // §2.1 check 3, or §8.2
    const session = await exchange(slug, doc, decision, backend, call, false);
    keepDocument(slug, doc, decision);
    return session;
  }

  return Object.freeze({ origin, fetchKeyDocument, handshake });
}

/** Whether a handshake failed with `409 key_mismatch`: the responder holds another key. */
function isKeyMismatch(error: unknown): boolean {
  return (
    isZeqKeyExError(error, 'http_error') &&
    error.status === 409 &&
    error.responseCode === 'key_mismatch'
  );
}
