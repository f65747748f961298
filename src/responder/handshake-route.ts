/**
 * The responder's handshake route, spec §2.3: `POST /api/keyex/{slug}/handshake` takes
 * `{ cipher_text, fingerprint? }`, decapsulates with the machine's key, derives the record key
 * (§2.2), stores a session and answers `{ session_id, key_confirmation, machine_id, fingerprint,
 * alg, expires_at }`.
 *
 * Checks, in an order that keeps a refused request from changing anything: slug grammar and
 * machine, the client's handshake bucket (`429 rate_limited`), room for one more decapsulation in
 * flight (`503 unavailable`, checked again when it starts: nothing queues), content-type, body
 * size (declared, then read; 8 KiB), JSON shape, field encodings, and only then the machine's key. A handshake never generates a key: a ciphertext cannot have been
 * made for a key that does not exist yet, so that is `409 key_mismatch`. A handshake naming the
 * previous key of a rotation is answered with it while its grace period lasts (`key-rotation.ts`).
 *
 * Security caveats:
 * - ML-KEM decapsulation never fails: a ciphertext made for another key yields an unrelated
 *   secret, and the initiator notices when the key confirmation does not open. The responder cannot
 *   tell, so a `200` to a handshake is not proof that anyone holds the same record key.
 * - The shared secret is wiped as soon as the record key is derived; the record key is wiped once
 *   the session store holds its own copy. No secret appears in a response or a log line.
 * - A handshake's replay tag is `(fingerprint, SHA-256(cipher_text))`. It is remembered in the
 *   replay memory (`stores.ts`), before decapsulation and apart from the session store, until the
 *   session would have expired whatever becomes of the session: the same ciphertext is refused
 *   (`409 replayed_handshake`) however many sessions are evicted meanwhile. A full replay memory
 *   refuses new handshakes (`429 rate_limited` with `Retry-After`) rather than forget a tag
 *   (spec §2.3, revision 2).
 * - A handshake that fails after its tag was remembered (the session store failed: `503`) forgets
 *   the tag, so that it changes no state. When the store did not answer in time, the outcome is
 *   unknown: the tag is kept until the store answers, a session it made then is deleted, and
 *   only then is the tag forgotten.
 * @module
 */
import {
  AEAD_NONCE_BYTES,
  ALGS,
  ALG_SIZES,
  MAX_HANDSHAKE_REQUEST_BYTES,
} from '../core/constants.js';
import { sealKeyConfirmationWithNonce } from '../core/confirmation.js';
import { base64Decode } from '../core/encoding.js';
import { ZeqKeyExError, callStore, isZeqKeyExError } from '../core/errors.js';
import { isFingerprint } from '../core/identifiers.js';
import { jsonField, jsonString } from '../core/json.js';
import { sha256, wipe } from '../core/primitives.js';
import { deriveRecordKey, firstContactTranscriptOf } from '../core/transcript.js';
import { HttpError, isMediaType, jsonResponse, parseJsonObject, readBody } from './http.js';
import type { Admission } from './admission.js';
import type { KeyManager, MachineKey } from './key-manager.js';
import type { Logger } from './logger.js';
import { SESSION_ID_BYTES, encodeSessionId } from './public-random.js';
import type { RecordSessions } from './record-sessions.js';
import type { RequestContext, RouteHandler } from './router.js';
import { type ReplayTag, type SessionStore } from './stores.js';
import { type ReplayMemory } from './replay-memory.js';
import { requestHeader } from './request-body.js';
import { callStoreWithin, isStoreTimeout } from './store-timeouts.js';

/** What the route needs from the responder. */
export interface HandshakeRouteDeps {
  /** Resolves a slug to its machine id, throwing `invalid_slug` / `unknown_machine` as HTTP errors. */
  readonly machineFor: (slug: string) => Promise<string>;
  readonly keys: KeyManager;
  readonly sessionStore: SessionStore;
  /** Where replay tags are kept until their sessions' expiry (§2.3, revision 2). */
  readonly replayMemory: ReplayMemory;
  /**
   * The time limit of the session store's `create` (the responder's `storeTimeoutMs`); `undefined`
   * for the responder's own memory store, which answers at once.
   */
  readonly storeTimeoutMs: number | undefined;
  /** Told of each new session, so that its records can be served (§3). */
  readonly recordSessions: RecordSessions;
  /** Public random bytes, for session ids and confirmation nonces (`public-random.ts`). */
  readonly publicRandom: (length: number) => Uint8Array;
  readonly sessionTtlMs: number;
  readonly now: () => number;
  readonly logger: Logger;
  /** Per-client handshake buckets and the cap on decapsulations in flight (`admission.ts`). */
  readonly admission: Admission;
  /** A rotated machine's previous key, named by fingerprint, while its grace lasts (§8.3). */
  readonly retiredKey?: (
    slug: string,
    machineId: string,
    fingerprint: string,
  ) => Promise<MachineKey | undefined>;
}

/** A handshake request's fields, checked. */
interface HandshakeRequest {
  readonly cipherText: Uint8Array;
  /** The fingerprint the initiator expects, when it named one. */
  readonly fingerprint: string | undefined;
}

/** The ciphertext lengths of the algs a machine may have (§1, §9); the machine's own is checked once its key is known. */
const CIPHER_TEXT_BYTES: readonly number[] = ALGS.map((alg) => ALG_SIZES[alg].cipherText);

/** Reads and checks the body: content-type, size, JSON shape, then field encodings. */
async function readHandshakeRequest(request: Request): Promise<HandshakeRequest> {
  if (!isMediaType(requestHeader(request, 'content-type'), 'application/json'))
    throw new HttpError('unsupported_media_type');
  const body = parseJsonObject(await readBody(request, MAX_HANDSHAKE_REQUEST_BYTES));
  const cipherTextField = jsonString(body, 'cipher_text');
  const fingerprint = jsonField(body, 'fingerprint');
  if (cipherTextField === undefined) throw new HttpError('invalid_request');
  if (fingerprint !== undefined && !isFingerprint(fingerprint))
    throw new HttpError('invalid_request');
  let cipherText: Uint8Array;
  try {
    cipherText = base64Decode(cipherTextField, undefined, 'cipher_text');
  } catch {
    throw new HttpError('invalid_cipher_text');
  }
  if (!CIPHER_TEXT_BYTES.includes(cipherText.length)) throw new HttpError('invalid_cipher_text');
  return { cipherText, fingerprint };
}

/** The §2.2 record key of a ciphertext under a machine's key; the shared secret is wiped. */
async function recordKeyOf(
  key: MachineKey,
  cipherText: Uint8Array,
  transcript: Uint8Array,
): Promise<Uint8Array> {
  let sharedSecret: Uint8Array;
  try {
    sharedSecret = await key.secretKey.decapsulate(cipherText);
  } catch (error) {
    // X-Wing refuses an X25519 part of low order (`core/xwing.ts`): the request's fault.
    if (isZeqKeyExError(error, 'invalid_cipher_text')) throw new HttpError('invalid_cipher_text');
    throw error;
  }
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
    replayMemory,
    storeTimeoutMs,
    recordSessions,
    publicRandom,
    sessionTtlMs,
    now,
    logger,
    admission,
    retiredKey,
  } = deps;

  /** Each key's transcript function, its fields before the ciphertext hashed once (§2.2). */
  const transcripts = new WeakMap<MachineKey, (cipherText: Uint8Array) => Uint8Array>();

  /** The §2.2 transcript of a ciphertext under `key`. */
  function transcriptOf(key: MachineKey, cipherText: Uint8Array): Uint8Array {
    let transcript = transcripts.get(key);
    if (transcript === undefined) {
      transcript = firstContactTranscriptOf(key);
      transcripts.set(key, transcript);
    }
    return transcript(cipherText);
  }

  /** Remembers the tag until `expiresAt`, or refuses the handshake (409, or 429 when full). */
  async function rememberTag(slug: string, tag: ReplayTag, expiresAt: number): Promise<void> {
    const result = await callStore(
      () => replayMemory.remember(tag, expiresAt),
      'the replay memory failed',
    );
    if (result.status === 'remembered') return;
    if (result.status === 'replayed') {
      logger.warn('handshake refused: replayed cipher_text', { code: 'replayed_handshake', slug });
      throw new HttpError('replayed_handshake');
    }
    if (result.status === 'full' && Number.isFinite(result.retryAt)) {
      const seconds = Math.max(1, Math.ceil((result.retryAt - now()) / 1_000));
      logger.warn('handshake refused: the replay memory is full', { code: 'rate_limited', slug });
      throw new HttpError('rate_limited', { 'retry-after': String(seconds) });
    }
    throw new ZeqKeyExError('store_error', 'the replay memory answered an unknown status');
  }

  /** Forgets a tag no session was made from; a failure to forget only keeps refusing it. */
  function forgetTag(tag: ReplayTag): Promise<void> {
    return callStore(() => replayMemory.forget(tag)).catch(() => undefined);
  }

  /**
   * Undoes a `create` that settled after its time limit (the handshake was answered `503`): a
   * session it made is deleted, then its tag forgotten; a tag the store called replayed is kept.
   */
  function undoLateCreate(
    sessionId: string,
    tag: ReplayTag,
    outcome: PromiseSettledResult<unknown>,
  ): void {
    if (outcome.status === 'fulfilled' && outcome.value === 'replayed') return;
    const deleted =
      outcome.status === 'fulfilled' && outcome.value === 'created'
        ? callStore(() => sessionStore.delete(sessionId))
        : Promise.resolve();
    deleted.then(
      () => forgetTag(tag),
      () => undefined, // the session may still be stored: keep refusing its ciphertext
    );
  }

  /** Stores the session; `false` when the store says its ciphertext was already accepted. */
  async function storeSession(
    key: MachineKey,
    sessionId: string,
    recordKey: Uint8Array,
    tag: ReplayTag,
    expiresAt: number,
  ): Promise<boolean> {
    const create = (): Promise<string> =>
      sessionStore.create(
        { sessionId, slug: key.slug, machineId: key.machineId, recordKey, expiresAt },
        tag,
      );
    const created: string = await (storeTimeoutMs === undefined
      ? callStore(create, 'the session store failed')
      : callStoreWithin(create, storeTimeoutMs, 'the session store failed', (outcome) => {
          undoLateCreate(sessionId, tag, outcome);
        }));
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
    tag: ReplayTag,
    expiresAt: number,
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
    const expiresIso = new Date(expiresAt).toISOString();
    if (!(await storeSession(key, sessionId, recordKey, tag, expiresAt))) {
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
    // Admission before any work: the client's bucket, then room for one more decapsulation.
    await admission.take('handshake', request);
    admission.assertDecapsulationRoom();
    const { cipherText, fingerprint } = await readHandshakeRequest(request);
    let key = await keys.find(slug, machineId);
    // §8.3: a handshake naming the previous key of a rotation, within its grace period.
    if (key !== undefined && fingerprint !== undefined && fingerprint !== key.fingerprint)
      key = (await retiredKey?.(slug, machineId, fingerprint)) ?? key;
    if (key === undefined || (fingerprint !== undefined && fingerprint !== key.fingerprint)) {
      logger.warn('handshake refused: key mismatch', {
        code: 'key_mismatch',
        slug,
        hasKey: key !== undefined,
      });
      throw new HttpError('key_mismatch');
    }
    // §1, §9: the length of the machine's alg (a ciphertext of the other alg is refused here).
    if (cipherText.length !== ALG_SIZES[key.alg].cipherText)
      throw new HttpError('invalid_cipher_text');
    const transcript = transcriptOf(key, cipherText);
    const tag: ReplayTag = { fingerprint: key.fingerprint, cipherTextHash: sha256(cipherText) };
    const expiresAt = now() + sessionTtlMs;
    await rememberTag(slug, tag, expiresAt);
    let recordKey: Uint8Array | undefined;
    try {
      recordKey = await admission.decapsulate(() => recordKeyOf(key, cipherText, transcript));
      return await openSession(key, tag, expiresAt, transcript, recordKey);
    } catch (error) {
      // No session was made from the tag: forget it, so that a failed request changes no state.
      // A refusal by the session store itself (`replayed`) means the tag was known there already;
      // after a timeout the tag is kept until the late answer is undone (`undoLateCreate`).
      // A decapsulation refused for want of a slot (`503 unavailable`) made nothing either.
      const madeNothing =
        !(error instanceof HttpError) ||
        error.code === 'unavailable' ||
        error.code === 'invalid_cipher_text';
      if (madeNothing && !isStoreTimeout(error)) await forgetTag(tag);
      throw error;
    } finally {
      if (recordKey !== undefined) wipe(recordKey);
    }
  };
}
