/**
 * The responder's records endpoint, spec §3.1: `POST /api/keyex/{slug}/sessions/{session_id}/records`
 * takes one i2r record (`application/octet-stream`, at most 1 MiB), opens it, hands the plaintext
 * to the application's callback and answers `200` with the reply sealed as one r2i record.
 *
 * Checks, in an order that keeps a refused request from changing anything: slug grammar and
 * machine, the client's record bucket (`429 rate_limited`, `admission.ts`), session id grammar,
 * content-type, the declared body size, the session (unknown, expired, or not served by this
 * instance), then the body within 1 MiB, the session's expiry once more (a body may arrive
 * slowly), and the record itself. Only a record that opens moves the receiver's state. Replies are sealed synchronously once the callback resolves, so concurrent
 * requests on one session each get their own sequence number.
 *
 * Security caveats:
 * - No body byte is buffered before the session is known to be live here: a flood of uploads to
 *   sessions that do not exist costs no memory (spec revision 2), and their bodies are cancelled
 *   unread. Only a live session's record is read, within the 1 MiB limit.
 * - Refusals say only which wire code applies: every record that does not open (tampered, another
 *   session or direction, an epoch too old or too far ahead, a bad version byte) is
 *   `400 invalid_record`; an already accepted one is `409 replayed_record`.
 * - A record that opened is consumed even when the callback then fails (`500 internal`): sending
 *   it again is a replay.
 * - The callback's errors are logged by code only; its exception text never reaches a response.
 * @module
 */
import { MAX_RECORD_REQUEST_BYTES } from '../core/constants.js';
import { isZeqKeyExError } from '../core/errors.js';
import type { Admission } from './admission.js';
import { HttpError, isMediaType, readBody } from './http.js';
import { isSessionId } from '../core/identifiers.js';
import type { Logger } from './logger.js';
import { type RecordSessions, findRecordSession } from './record-sessions.js';
import type { RequestContext, RouteHandler } from './router.js';
import type { SessionStore } from './stores.js';

/** What the application's record callback learns about a record besides its plaintext. */
export interface RecordContext {
  /** The slug the session was made with. */
  readonly slug: string;
  /** That machine's id. */
  readonly machineId: string;
  /** The session id. */
  readonly sessionId: string;
  /** The application associated data the record was opened with (and the reply is sealed with). */
  readonly aad: Uint8Array;
}

/**
 * The application's answer to one record: the reply plaintext, sealed by the responder.
 * Throwing (or returning anything but a `Uint8Array`) answers `500 internal`.
 */
export type RecordHandler = (
  plaintext: Uint8Array,
  context: RecordContext,
) => Uint8Array | Promise<Uint8Array>;

/** What the route needs from the responder. */
export interface RecordsRouteDeps {
  /** Resolves a slug to its machine id, throwing `invalid_slug` / `unknown_machine` as HTTP errors. */
  machineFor(slug: string): Promise<string>;
  readonly sessionStore: SessionStore;
  readonly sessions: RecordSessions;
  readonly onRecord: RecordHandler;
  /** The application associated data of every record on this endpoint. */
  readonly aad: Uint8Array;
  readonly now: () => number;
  readonly logger: Logger;
  /** Per-client record buckets (`admission.ts`). */
  readonly admission: Admission;
}

/**
 * Refuses a declared `content-length` above `maxBytes` (or malformed) before anything else is
 * done for the request; `readBody` keeps the limit for a body that declares nothing.
 * @throws {HttpError} `payload_too_large`, `invalid_request`.
 */
function assertDeclaredLength(request: Request, maxBytes: number): void {
  const declared = request.headers.get('content-length');
  if (declared === null) return;
  if (!/^[0-9]+$/.test(declared.trim())) throw new HttpError('invalid_request');
  if (Number(declared.trim()) > maxBytes) throw new HttpError('payload_too_large');
}

const RECORD_HEADERS = {
  'content-type': 'application/octet-stream',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

/**
 * Builds the §3.1 route handler.
 * @param deps - the responder's machine resolution, stores, callback, AAD, clock and logger.
 * @returns the handler for `POST`.
 */
export function createRecordsRoute(deps: RecordsRouteDeps): RouteHandler<RequestContext> {
  const { sessionStore, sessions, onRecord, aad, now, logger } = deps;

  return async function serveRecord({ request, params }: RequestContext): Promise<Response> {
    const slug = params.get('slug') ?? '';
    const machineId = await deps.machineFor(slug);
    await deps.admission.take('records', request);
    const sessionId = params.get('session_id') ?? '';
    // A malformed id names no session that could exist.
    if (!isSessionId(sessionId)) throw new HttpError('unknown_session');
    if (!isMediaType(request.headers.get('content-type'), 'application/octet-stream'))
      throw new HttpError('unsupported_media_type');
    assertDeclaredLength(request, MAX_RECORD_REQUEST_BYTES);

    // The session before the body: a refused request is answered with its body unread.
    const found = await findRecordSession(sessionStore, sessions, sessionId, now());
    if (found.status === 'expired') throw new HttpError('session_expired');
    if (
      found.status === 'unknown' ||
      found.session.slug !== slug ||
      found.session.machineId !== machineId
    ) {
      throw new HttpError('unknown_session');
    }
    const { channel } = found;
    const record = await readBody(request, MAX_RECORD_REQUEST_BYTES);
    // The body may have taken its time: a session that expired meanwhile carries no more records.
    if (found.session.expiresAt <= now()) {
      sessions.forget(sessionId);
      throw new HttpError('session_expired');
    }

    let plaintext: Uint8Array;
    try {
      plaintext = await channel.openAsync(record, aad);
    } catch (error) {
      if (isZeqKeyExError(error, 'record_replayed')) {
        logger.warn('record refused: replayed', { code: 'replayed_record', slug });
        throw new HttpError('replayed_record');
      }
      if (isZeqKeyExError(error, 'session_closed')) throw new HttpError('unknown_session');
      if (isZeqKeyExError(error) && error.code.startsWith('record_')) {
        logger.warn('record refused', { code: error.code, slug });
        throw new HttpError('invalid_record');
      }
      throw error;
    }

    const context: RecordContext = Object.freeze({ slug, machineId, sessionId, aad: aad.slice() });
    const reply: unknown = await onRecord(plaintext, context);
    if (!(reply instanceof Uint8Array)) {
      logger.error('record callback returned no Uint8Array', { code: 'invalid_reply', slug });
      throw new HttpError('internal');
    }
    let sealed: Uint8Array;
    try {
      sealed = await channel.sealAsync(reply, aad);
    } catch (error) {
      // The session ended while the callback ran: expired and wiped, or its last epoch used up.
      if (isZeqKeyExError(error, 'session_closed')) throw new HttpError('unknown_session');
      if (isZeqKeyExError(error, 'session_exhausted')) throw new HttpError('session_expired');
      throw error;
    }
    return new Response(sealed as BodyInit, { status: 200, headers: RECORD_HEADERS });
  };
}
