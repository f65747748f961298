/**
 * The initiator's records (spec §3) over a confirmed {@link ClientSession}: the calls of a
 * {@link RecordChannel} for apps that carry records themselves, and `request` over the responder's
 * records endpoint (§3.1).
 *
 * A separate function rather than methods of the session, so that an app that only does first
 * contact does not ship the record layer. A session has exactly one channel — every call of
 * {@link sessionRecords} for it gives the same object — because two senders on one key would
 * reuse nonces. The ratchet is made on the channel's first record, not at the handshake, and
 * `session.wipe()` wipes it.
 * @module
 */
import { MAX_RECORD_REQUEST_BYTES } from '../core/constants.js';
import { ZeqKeyExError } from '../core/errors.js';
import { type RecordChannel, createRecordChannel, recordCallsVia } from '../core/record-channel.js';
import { type ClientSession, sessionState } from './session.js';

/** Options of {@link SessionRecords.request}. */
export interface RecordRequestOptions {
  /** Application associated data of the request and its reply. @defaultValue empty */
  aad?: Uint8Array;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/**
 * The records of one initiator session: the calls of a {@link RecordChannel} (sealing initiator →
 * responder records, opening responder → initiator ones; `session_closed` after `session.wipe()`),
 * and {@link SessionRecords.request}.
 */
export interface SessionRecords extends Omit<RecordChannel, 'wipe'> {
  /**
   * Seals `plaintext` (as {@link RecordChannel.sealAsync} does), posts it to the responder's
   * records endpoint (spec §3.1) and opens the reply (as {@link RecordChannel.openAsync} does).
   * Never retried: a record is sent once. Concurrent requests on one session are fine.
   * @param plaintext - the request.
   * @param options - `aad` (used for both the request and the reply record) and an abort `signal`.
   * @returns the opened reply.
   * @throws {ZeqKeyExError} the codes of {@link RecordChannel.seal} and {@link RecordChannel.open};
   *   transport codes; `http_error` with `responseCode` `unknown_session`, `session_expired`,
   *   `invalid_record` or `replayed_record` when the responder refuses the record.
   * @throws {TypeError} for a session made without a records endpoint.
   */
  request(plaintext: Uint8Array, options?: RecordRequestOptions): Promise<Uint8Array>;
}

/**
 * The record channel of a session from `client.handshake()`.
 * @param session - the session.
 * @returns its channel; the same object on every call for the same session.
 * @throws {TypeError} for an object that is not a session of this SDK. (After `session.wipe()`
 *   the channel's methods throw `session_closed`.)
 * @example
 * ```ts
 * const session = await client.handshake('edge-01');
 * const records = sessionRecords(session);
 * const reply = await records.request(new TextEncoder().encode('{"op":"status"}'));
 * ```
 */
export function sessionRecords(session: ClientSession): SessionRecords {
  const state = sessionState(session);
  if (state.channel !== undefined) return state.channel;
  let ratchet: RecordChannel | undefined;
  function live(): RecordChannel {
    if (!state.open) throw new ZeqKeyExError('session_closed');
    return (ratchet ??= createRecordChannel(
      state.key,
      state.sessionId,
      'initiator',
      state.ratchet,
    ));
  }
  const channel = Object.freeze({
    ...recordCallsVia(live),
    async request(plaintext: Uint8Array, options: RecordRequestOptions = {}): Promise<Uint8Array> {
      const endpoint = state.endpoint;
      if (endpoint === undefined) throw new TypeError('this session has no records endpoint');
      const record = await live().sealAsync(plaintext, options.aad);
      const reply = await endpoint.transport.postBytes(endpoint.url, record, {
        maxResponseBytes: endpoint.maxResponseBytes ?? MAX_RECORD_REQUEST_BYTES,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      // The session may have been wiped while the request was in flight: that is session_closed.
      return live().openAsync(reply.body, options.aad);
    },
    wipe(): void {
      ratchet?.wipe();
    },
  });
  state.channel = channel;
  return channel;
}
