/**
 * Records that survive the end of their session: {@link recoveringRecords} keeps one session with
 * a machine, makes a new one by a fresh handshake (spec §2) shortly before the current one expires
 * (`expires_at`, §2.3), and, when the responder no longer knows the session (a restart, another
 * instance, an expiry the clocks disagreed on: `unknown_session` or `session_expired`, §3.1),
 * makes a new one and sends the record again, once.
 *
 * Why sending again is safe: the responder answers `unknown_session` and `session_expired` before
 * it opens the record (`records-route.ts`), so the app's `onRecord` never saw it; the record is
 * sealed afresh under the new session's keys, never replayed. Any other failure is thrown as it is.
 *
 * Security caveats: each new session is a full first contact with the client's own trust settings
 * (pins, TOFU), so a responder whose key changed is refused exactly as at the first handshake. A
 * replaced session is wiped once no request uses it any more.
 * @module
 */
import { ZeqKeyExError, isZeqKeyExError } from '../core/errors.js';
import { assertDurationMs } from '../core/limits.js';
import type { Client } from './client.js';
import { type RecordRequestOptions, sessionRecords } from './records.js';
import type { ClientSession } from './session.js';

/** Options of {@link recoveringRecords}. */
export interface RecoveringRecordsOptions {
  /**
   * A new session is made when the current one has less than this left before `expiresAt`.
   * @defaultValue 10_000
   */
  renewBeforeMs?: number;
  /**
   * The clock, in milliseconds since the Unix epoch.
   * @defaultValue `Date.now`
   */
  now?: () => number;
}

/** Records to one machine over sessions made and replaced as needed. */
export interface RecoveringRecords {
  /**
   * Sends a record on the current session (made first when there is none or it is about to
   * expire) and returns the opened reply; on `unknown_session` or `session_expired` makes a new
   * session and sends it once more.
   * @param plaintext - the request.
   * @param options - `aad` and an abort `signal`, as `sessionRecords(session).request` takes.
   * @returns the opened reply.
   * @throws {ZeqKeyExError} the codes of `client.handshake` and of
   *   `sessionRecords(session).request`; `session_closed` after {@link RecoveringRecords.close}.
   */
  request(plaintext: Uint8Array, options?: RecordRequestOptions): Promise<Uint8Array>;
  /** The current session, or `undefined` before the first request or after `close()`. */
  readonly session: ClientSession | undefined;
  /** Wipes every session; later requests fail with `session_closed`. */
  close(): void;
}

/** The responder's codes of a session it cannot carry records on (§3.1). */
const LOST_SESSION: ReadonlySet<string> = new Set(['unknown_session', 'session_expired']);

const DEFAULT_RENEW_BEFORE_MS = 10_000;

/**
 * Records to `slug` that make and replace their sessions themselves.
 * @param client - the client whose handshakes make the sessions (its trust settings apply).
 * @param slug - the machine.
 * @param options - when to renew ahead of expiry, and the clock.
 * @returns the records.
 * @throws {RangeError} for a `renewBeforeMs` out of range.
 * @throws {TypeError} for a `now` that is not a function.
 * @example
 * ```ts
 * const records = recoveringRecords(client, 'edge-01');
 * const reply = await records.request(new TextEncoder().encode('{"op":"status"}'));
 * ```
 */
export function recoveringRecords(
  client: Client,
  slug: string,
  options: RecoveringRecordsOptions = {},
): RecoveringRecords {
  const renewBeforeMs = assertDurationMs(
    options.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS,
    'renewBeforeMs',
  );
  const now = options.now ?? Date.now;
  if (typeof now !== 'function')
    throw new TypeError('now must be a function returning milliseconds');
  let current: ClientSession | undefined;
  /** The handshake in flight, shared by every request that needs a new session meanwhile. */
  let pending: Promise<ClientSession> | undefined;
  let closed = false;
  const inFlight = new Map<ClientSession, number>();
  const retired = new Set<ClientSession>();

  function retire(session: ClientSession): void {
    if (current === session) current = undefined;
    if ((inFlight.get(session) ?? 0) === 0) session.wipe();
    else retired.add(session);
  }

  /** A new session replacing `stale` (unless another request replaced it already). */
  function renew(stale: ClientSession | undefined): Promise<ClientSession> {
    if (current !== undefined && current !== stale) return Promise.resolve(current);
    pending ??= client
      .handshake(slug)
      .then((session) => {
        if (closed) {
          session.wipe();
          throw sessionClosed();
        }
        if (stale !== undefined) retire(stale);
        current = session;
        return session;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  }

  async function usable(): Promise<ClientSession> {
    if (closed) throw sessionClosed();
    const session = current;
    if (session === undefined || session.expiresAt.getTime() - now() <= renewBeforeMs)
      return renew(session);
    return session;
  }

  async function send(
    session: ClientSession,
    plaintext: Uint8Array,
    options: RecordRequestOptions,
  ): Promise<Uint8Array> {
    inFlight.set(session, (inFlight.get(session) ?? 0) + 1);
    try {
      return await sessionRecords(session).request(plaintext, options);
    } finally {
      const left = (inFlight.get(session) ?? 1) - 1;
      if (left === 0) {
        inFlight.delete(session);
        if (retired.delete(session)) session.wipe();
      } else inFlight.set(session, left);
    }
  }

  return {
    async request(plaintext, requestOptions = {}) {
      const session = await usable();
      try {
        return await send(session, plaintext, requestOptions);
      } catch (error) {
        const lost =
          isZeqKeyExError(error, 'http_error') &&
          error.responseCode !== undefined &&
          LOST_SESSION.has(error.responseCode);
        if (!lost || closed) throw error;
        // Never opened by the responder: sealed again, under a new session's keys, once.
        return send(await renew(session), plaintext, requestOptions);
      }
    },
    get session() {
      return current;
    },
    close() {
      closed = true;
      if (current !== undefined) retire(current);
      for (const session of retired) if ((inFlight.get(session) ?? 0) === 0) session.wipe();
    },
  };
}

function sessionClosed(): ZeqKeyExError {
  return new ZeqKeyExError('session_closed');
}
