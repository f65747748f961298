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
 * a KEM-key pin is kept per slug, and later handshakes go straight to `POST handshake`. A `409 key_mismatch` on a kept document (the
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
  ALGS,
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

/** The most key documents a client keeps for one round trip. */
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
  /**
   * The `alg` values accepted (spec §1, §9): a key document of any other alg is refused
   * (`unsupported_alg`) before anything is sent. Add `'X-Wing'` to accept the hybrid alg; its code
   * is loaded then, on the first handshake, and never by a client that does not accept it. A pin
   * fixes the key, and so the alg (the algs' keys differ in length); the session reports it.
   * @defaultValue ['ML-KEM-768']
   */
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
   * The KEM backend (for X-Wing: of both its parts): `'auto'` uses the runtime's native one (`node:crypto` on Node ≥ 24.7,
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
  const algs = [...(options.algs ?? [ALG])];
  if (algs.length === 0 || !algs.every((a) => ALGS.includes(a)))
    throw new TypeError(`algs must list one or more of ${ALGS.join(', ')}`);
  const transport: Transport = createTransport(options);
  const ratchet: RatchetOptions = assertRatchetOptions(options);
  const maxRecordBytes = options.maxRecordBytes ?? MAX_RECORD_REQUEST_BYTES;
  if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes <= 0)
    throw new RangeError('maxRecordBytes must be an integer > 0');
  const kem = encapsulatorLoader(options.kem);
  // Kept key documents by slug (one round trip, §8.2); never filled with the option off.
  const documents = new Map<string, CachedDocument>();
  const cacheDocuments = options.cacheKeyDocuments !== false;

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

  /**
   * Keeps the document of a session authenticated by a pin (identity or KEM key; a TOFU store's
   * changed key must be refused before anything is posted): at most `MAX_CACHED_DOCUMENTS`, all
   * dropped when full.
   */
  function keep(slug: string, kept: CachedDocument, session: ClientSession): ClientSession {
    if (cacheDocuments && (session.trust === 'identity' || session.trust === 'pinned')) {
      // Full: dropped for a new slug only (one already kept is replaced in place).
      if (documents.size >= MAX_CACHED_DOCUMENTS && !documents.has(slug)) documents.clear();
      documents.set(slug, kept);
    }
    return session;
  }

  /** §2.2–§2.3 for a trusted document: encapsulate, post, open the confirmation, make the session. */
  async function exchange(
    slug: string,
    { doc, decision }: CachedDocument,
    call: CallOptions,
    documentCached = false,
  ): Promise<ClientSession> {
    // §2.2, through the backend of the document's alg (one of `algs`, checked when it was parsed).
    const backend = await kem(doc.alg);
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
        ...doc,
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
    // Before any request: a `kem: 'native'` this runtime cannot honour, for any accepted alg,
    // sends nothing. Each alg's backend is loaded once.
    await Promise.all(algs.map((alg) => kem(alg)));
    const cached = documents.get(slug);
    if (cached !== undefined && cached.decision.stillValid?.() !== false) {
      try {
        return keep(slug, cached, await exchange(slug, cached, call, true));
      } catch (error) {
        documents.delete(slug);
        // §8.2: the responder holds another key (a rotation): fetch the document again, once.
        if (!isZeqKeyExError(error, 'http_error') || error.responseCode !== 'key_mismatch')
          throw error;
      }
    }
    const doc = await fetchKeyDocument(slug, call); // §2.1 checks 1–2
    const fresh = { doc, decision: await trust.check(origin, slug, doc) }; // §2.1 check 3, or §8.2
    return keep(slug, fresh, await exchange(slug, fresh, call));
  }

  return Object.freeze({ origin, fetchKeyDocument, handshake });
}
