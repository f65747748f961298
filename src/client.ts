/**
 * The initiator client of ZeqKeyEx first contact (spec §2): fetch a responder's key document,
 * check it and its fingerprint against the caller's trust choice, encapsulate, derive the record
 * key, post the ciphertext and verify the responder's key confirmation.
 *
 * Security caveats:
 * - Trust is an explicit choice (spec §6): a pin per slug, a trust-on-first-use store, or an
 *   unauthenticated mode chosen by name. With none, nothing is sent (`pin_required`).
 * - The checks of §2.1 run, in order, before anything is posted; a failure at any step after
 *   encapsulation wipes the shared secret and record key before the error is thrown.
 * @module
 */
import { ALG, MAX_RECORD_REQUEST_BYTES, ROUTES, type Alg } from './constants.js';
import { ZeqKeyExError, isZeqKeyExError } from './errors.js';
import { base64Encode } from './encoding.js';
import { fingerprintMatches, parsePins } from './fingerprint.js';
import { assertSlug, isFingerprint } from './identifiers.js';
import { type KemChoice, kemLoader } from './kem-backend.js';
import { openKeyConfirmation } from './confirmation.js';
import { type KeyDocument, createCheckedKeys, parseHandshakeResponse, parseKeyDocumentChecked } from './document.js';
import { wipe } from './primitives.js';
import { type RatchetOptions, assertRatchetOptions } from './ratchet.js';
import { type ClientSession, type TrustMode, createClientSession } from './session.js';
import { deriveRecordKey, firstContactTranscript } from './transcript.js';
import { type Transport, type TransportOptions, createTransport } from './transport.js';
import type { TrustStore } from './trust.js';

/** Options of {@link createClient}. */
export interface ClientOptions extends TransportOptions {
  /** The responder's origin, optionally with a base path (`https://edge.example/zeq`). */
  origin: string | URL;
  /** Pins per slug: one fingerprint, or several during a key rotation. */
  pins?: Readonly<Record<string, string | readonly string[]>>;
  /** Trust on first use for slugs without a pin: remembers the first fingerprint seen. */
  tofu?: TrustStore;
  /**
   * Accept an unauthenticated first contact for slugs with neither a pin nor a TOFU store.
   * Sessions made this way say `authenticated: false`. Stops a passive recorder only.
   * @defaultValue false
   */
  insecureUnpinned?: boolean;
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
   * The largest reply record `session.request()` accepts.
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
   * @throws {ZeqKeyExError} `pin_required`, `fingerprint_mismatch`, `tofu_key_changed`,
   *   `response_mismatch`, `confirmation_failed`, `kem_unavailable` (option `kem: 'native'`), and
   *   the codes of {@link Client.fetchKeyDocument}.
   */
  handshake(slug: string, options?: CallOptions): Promise<ClientSession>;
}

type TrustDecision = { mode: 'pinned'; pins: readonly string[] } | { mode: 'tofu'; store: TrustStore } | { mode: 'unauthenticated' };

/**
 * Creates an initiator client.
 * @param options - origin, trust settings and HTTP options.
 * @returns the client.
 * @throws {TypeError} for an origin that is not an http(s) URL, a malformed pin or slug in `pins`,
 *   an unknown `kem`.
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
  const origin = normaliseOrigin(options.origin);
  const pins = new Map<string, readonly string[]>();
  for (const [slug, value] of Object.entries(options.pins ?? {})) {
    assertSlug(slug);
    pins.set(slug, parsePins(value));
  }
  if (options.tofu !== undefined && (typeof options.tofu.get !== 'function' || typeof options.tofu.putIfAbsent !== 'function')) {
    throw new TypeError('tofu must be a TrustStore');
  }
  const algs = options.algs ?? [ALG];
  if (algs.length === 0 || !algs.every((a) => a === ALG)) throw new TypeError(`algs may only contain ${ALG}`);
  const transport: Transport = createTransport(options);
  const ratchet: RatchetOptions = {
    ...(options.rekeyIntervalMs === undefined ? {} : { rekeyIntervalMs: options.rekeyIntervalMs }),
    ...(options.now === undefined ? {} : { now: options.now }),
  };
  assertRatchetOptions(ratchet);
  const maxRecordBytes = options.maxRecordBytes ?? MAX_RECORD_REQUEST_BYTES;
  if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes <= 0) throw new RangeError('maxRecordBytes must be a positive integer');
  const kem = kemLoader(options.kem);
  // The modulus check of a key document runs once per distinct key (its fingerprint), not per fetch.
  const checkedKeys = createCheckedKeys();

  function trustFor(slug: string): TrustDecision {
    const pinned = pins.get(slug);
    if (pinned !== undefined) return { mode: 'pinned', pins: pinned };
    if (options.tofu !== undefined) return { mode: 'tofu', store: options.tofu };
    if (options.insecureUnpinned === true) return { mode: 'unauthenticated' };
    throw new ZeqKeyExError('pin_required', `no pin, trust-on-first-use store or insecureUnpinned is configured for "${slug}"`);
  }

  async function fetchKeyDocument(slug: string, call: CallOptions = {}): Promise<KeyDocument> {
    assertSlug(slug);
    const { body } = await transport.getJson(origin + ROUTES.pubkey(slug), call.signal === undefined ? {} : { signal: call.signal });
    return parseKeyDocumentChecked(body, algs, checkedKeys);
  }

  async function checkTrust(slug: string, trust: TrustDecision, doc: KeyDocument): Promise<TrustMode> {
    if (trust.mode === 'pinned') {
      if (!fingerprintMatches(doc.fingerprint, trust.pins)) {
        throw new ZeqKeyExError('fingerprint_mismatch', `the key of "${slug}" matches none of its pins`, {
          expectedFingerprint: trust.pins[0] as string,
          actualFingerprint: doc.fingerprint,
        });
      }
      return 'pinned';
    }
    if (trust.mode === 'tofu') {
      const known = await storeCall(() => trust.store.get(tofuKey(origin, slug)));
      if (known === undefined) return 'tofu-first-use';
      if (!fingerprintMatches(doc.fingerprint, known)) {
        throw new ZeqKeyExError('tofu_key_changed', `the key of "${slug}" differs from the one first seen`, {
          expectedFingerprint: known,
          actualFingerprint: doc.fingerprint,
        });
      }
      return 'tofu-match';
    }
    return 'unauthenticated';
  }

  async function handshake(slug: string, call: CallOptions = {}): Promise<ClientSession> {
    assertSlug(slug);
    const trust = trustFor(slug);
    // Before any request: a `kem: 'native'` this runtime cannot honour sends nothing.
    const backend = await kem();
    const doc = await fetchKeyDocument(slug, call);
    const mode = await checkTrust(slug, trust, doc);

    // Every backend speaks ML-KEM-768, the only alg `algs` may hold.
    const { cipherText, sharedSecret } = await backend.encapsulate(doc.publicKey);
    const transcript = firstContactTranscript({ alg: doc.alg, slug, machineId: doc.machineId, publicKey: doc.publicKey, cipherText });
    const recordKey = deriveRecordKey(sharedSecret, transcript);
    wipe(sharedSecret);
    try {
      const { body } = await transport.postJson(
        origin + ROUTES.handshake(slug),
        { cipher_text: base64Encode(cipherText), fingerprint: doc.fingerprint },
        call.signal === undefined ? {} : { signal: call.signal },
      );
      const response = parseHandshakeResponse(body);
      if (response.machineId !== doc.machineId || response.fingerprint !== doc.fingerprint || response.alg !== doc.alg) {
        throw new ZeqKeyExError('response_mismatch');
      }
      openKeyConfirmation(recordKey, transcript, response.sessionId, response.keyConfirmation);
      if (mode === 'tofu-first-use' && trust.mode === 'tofu') {
        // Two first contacts may race; the store keeps one fingerprint and both must agree on it.
        const stored = await storeCall(() => trust.store.putIfAbsent(tofuKey(origin, slug), doc.fingerprint));
        if (stored === undefined) throw new ZeqKeyExError('store_error', 'the trust-on-first-use store did not keep the fingerprint');
        if (!fingerprintMatches(doc.fingerprint, stored)) {
          throw new ZeqKeyExError('tofu_key_changed', undefined, { expectedFingerprint: stored, actualFingerprint: doc.fingerprint });
        }
      }
      return createClientSession({
        sessionId: response.sessionId,
        slug,
        machineId: doc.machineId,
        fingerprint: doc.fingerprint,
        alg: doc.alg,
        expiresAt: response.expiresAt,
        trust: mode,
        kemBackend: backend.backend,
        recordKey,
        ratchet,
        records: { transport, url: origin + ROUTES.records(slug, response.sessionId), maxResponseBytes: maxRecordBytes },
      });
    } catch (error) {
      wipe(recordKey);
      throw error;
    }
  }

  return Object.freeze({ origin, fetchKeyDocument, handshake });
}

async function storeCall(call: () => Promise<string | undefined>): Promise<string | undefined> {
  let value: string | undefined;
  try {
    value = await call();
  } catch (cause) {
    if (isZeqKeyExError(cause)) throw cause;
    throw new ZeqKeyExError('store_error', 'the trust-on-first-use store failed', { cause });
  }
  // A store edited by hand must not turn into a TypeError (or a silent re-trust) here.
  if (value !== undefined && !isFingerprint(value)) throw new ZeqKeyExError('store_error', 'the trust-on-first-use store holds a malformed fingerprint');
  return value;
}

/** The key under which a TOFU store remembers a responder's fingerprint. */
export function tofuKey(origin: string, slug: string): string {
  return `${origin} ${slug}`;
}

function normaliseOrigin(origin: string | URL): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new TypeError('origin must be an absolute http(s) URL');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new TypeError('origin must be an http(s) URL without query, fragment or credentials');
  }
  return (url.origin + url.pathname).replace(/\/+$/, '');
}
