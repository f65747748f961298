/**
 * The responder's handshake route, spec §2.3: `POST /api/keyex/{slug}/handshake` takes
 * `{ cipher_text, fingerprint? }`, decapsulates with the machine's key, derives the record key
 * (§2.2), stores a session and answers `{ session_id, key_confirmation, machine_id, fingerprint,
 * alg, expires_at }`.
 *
 * Checks, in an order that keeps a refused request from changing anything: slug grammar and
 * machine, content-type, body size (declared, then read; 8 KiB), JSON shape, field encodings, and
 * only then the machine's key. A handshake never generates a key: a ciphertext cannot have been
 * made for a key that does not exist yet, so that is `409 key_mismatch`.
 *
 * Security caveats:
 * - ML-KEM decapsulation never fails: a ciphertext made for another key yields an unrelated
 *   secret, and the initiator notices when the key confirmation does not open. The responder cannot
 *   tell, so a `200` to a handshake is not proof that anyone holds the same record key.
 * - The shared secret is wiped as soon as the record key is derived; the record key is wiped once
 *   the session store holds its own copy. No secret appears in a response or a log line.
 * - A handshake's replay tag is `(fingerprint, SHA-256(cipher_text))`: the same ciphertext is
 *   refused while a session derived from it can be live (`409 replayed_handshake`).
 * @module
 */
import {
  AEAD_NONCE_BYTES,
  ALG,
  ALG_SIZES,
  MAX_HANDSHAKE_REQUEST_BYTES,
} from '../core/constants.js';
import { sealKeyConfirmationWithNonce } from '../core/confirmation.js';
import { base64Decode } from '../core/encoding.js';
import { ZeqKeyExError, callStore } from '../core/errors.js';
import { isFingerprint } from '../core/identifiers.js';
import { jsonField, jsonString } from '../core/json.js';
import { sha256, wipe } from '../core/primitives.js';
import { deriveRecordKey, firstContactTranscript } from '../core/transcript.js';
import { HttpError, isMediaType, jsonResponse, parseJsonObject, readBody } from './http.js';
import type { KeyManager, MachineKey } from './key-manager.js';
import type { Logger } from './logger.js';
import { SESSION_ID_BYTES, encodeSessionId } from './public-random.js';
import type { RecordSessions } from './record-sessions.js';
import type { RequestContext, RouteHandler } from './router.js';
import type { SessionStore } from './stores.js';

/** What the route needs from the responder. */
export interface HandshakeRouteDeps {
  /** Resolves a slug to its machine id, throwing `invalid_slug` / `unknown_machine` as HTTP errors. */
  readonly machineFor: (slug: string) => Promise<string>;
  readonly keys: KeyManager;
  readonly sessionStore: SessionStore;
  /** Told of each new session, so that its records can be served (§3). */
  readonly recordSessions: RecordSessions;
  /** Public random bytes, for session ids and confirmation nonces (`public-random.ts`). */
  readonly publicRandom: (length: number) => Uint8Array;
  readonly sessionTtlMs: number;
  readonly now: () => number;
  readonly logger: Logger;
}

/** A handshake request's fields, checked. */
interface HandshakeRequest {
  readonly cipherText: Uint8Array;
  /** The fingerprint the initiator expects, when it named one. */
  readonly fingerprint: string | undefined;
}

const CIPHER_TEXT_BYTES = ALG_SIZES[ALG].cipherText;

/** Reads and checks the body: content-type, size, JSON shape, then field encodings. */
async function readHandshakeRequest(request: Request): Promise<HandshakeRequest> {
  if (!isMediaType(request.headers.get('content-type'), 'application/json'))
    throw new HttpError('unsupported_media_type');
  const body = parseJsonObject(await readBody(request, MAX_HANDSHAKE_REQUEST_BYTES));
  const cipherTextField = jsonString(body, 'cipher_text');
  const fingerprint = jsonField(body, 'fingerprint');
  if (cipherTextField === undefined) throw new HttpError('invalid_request');
  if (fingerprint !== undefined && !isFingerprint(fingerprint))
    throw new HttpError('invalid_request');
  try {
    return {
      cipherText: base64Decode(cipherTextField, CIPHER_TEXT_BYTES, 'cipher_text'),
      fingerprint,
    };
  } catch {
    throw new HttpError('invalid_cipher_text');
  }
}

/** The §2.2 record key of a ciphertext under a machine's key; the shared secret is wiped. */
async function recordKeyOf(
  key: MachineKey,
  cipherText: Uint8Array,
  transcript: Uint8Array,
): Promise<Uint8Array> {
  const sharedSecret = await key.secretKey.decapsulate(cipherText);
  try {
    return deriveRecordKey(sharedSecret, transcript);
  } finally {
    wipe(sharedSecret);
  }
}

/**
 * Builds the §2.3 route handler.
 * @param deps - the responder's machine lookup, keys, stores, random source, lifetime, clock and logger.
 * @returns the handler for `POST`.
 */
export function createHandshakeRoute(deps: HandshakeRouteDeps): RouteHandler<RequestContext> {
  const {
    machineFor,
    keys,
    sessionStore,
    recordSessions,
    publicRandom,
    sessionTtlMs,
    now,
    logger,
  } = deps;

  /** Stores the session; `false` when its ciphertext was already accepted. */
  async function storeSession(
    key: MachineKey,
    sessionId: string,
    recordKey: Uint8Array,
    cipherText: Uint8Array,
    expiresAt: number,
  ): Promise<boolean> {
    const created: string = await callStore(
      () =>
        sessionStore.create(
          { sessionId, slug: key.slug, machineId: key.machineId, recordKey, expiresAt },
          { fingerprint: key.fingerprint, cipherTextHash: sha256(cipherText) },
        ),
      'the session store failed',
    );
    if (created !== 'created' && created !== 'replayed')
      throw new ZeqKeyExError(
        'store_error',
        'the session store answered neither created nor replayed',
      );
    return created === 'created';
  }

  /** Opens a session under `recordKey` and answers it; the caller wipes `recordKey`. */
  async function openSession(
    key: MachineKey,
    cipherText: Uint8Array,
    transcript: Uint8Array,
    recordKey: Uint8Array,
  ): Promise<Response> {
    const sessionId = encodeSessionId(publicRandom(SESSION_ID_BYTES));
    const keyConfirmation = sealKeyConfirmationWithNonce(
      recordKey,
      transcript,
      sessionId,
      publicRandom(AEAD_NONCE_BYTES),
    );
    const expiresAt = now() + sessionTtlMs;
    const expiresIso = new Date(expiresAt).toISOString();
    if (!(await storeSession(key, sessionId, recordKey, cipherText, expiresAt))) {
      logger.warn('handshake refused: replayed cipher_text', {
        code: 'replayed_handshake',
        slug: key.slug,
      });
      throw new HttpError('replayed_handshake');
    }
    recordSessions.register(sessionId, expiresAt);
    return jsonResponse(200, {
      session_id: sessionId,
      key_confirmation: keyConfirmation,
      machine_id: key.machineId,
      fingerprint: key.fingerprint,
      alg: key.alg,
      expires_at: expiresIso,
    });
  }

  return async function serveHandshake({ request, params }: RequestContext): Promise<Response> {
    const slug = params.get('slug') ?? '';
    const machineId = await machineFor(slug);
    const { cipherText, fingerprint } = await readHandshakeRequest(request);
    const key = await keys.find(slug, machineId);
    if (key === undefined || (fingerprint !== undefined && fingerprint !== key.fingerprint)) {
      logger.warn('handshake refused: key mismatch', {
        code: 'key_mismatch',
        slug,
        hasKey: key !== undefined,
      });
      throw new HttpError('key_mismatch');
    }
    const transcript = firstContactTranscript({
      alg: key.alg,
      slug: key.slug,
      machineId: key.machineId,
      publicKey: key.publicKey,
      cipherText,
    });
    const recordKey = await recordKeyOf(key, cipherText, transcript);
    try {
      return await openSession(key, cipherText, transcript, recordKey);
    } finally {
      wipe(recordKey);
    }
  };
}
