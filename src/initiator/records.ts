/**
 * The initiator's records (spec §3) over a confirmed {@link ClientSession}: raw `seal`/`open` for
 * apps that carry records themselves, and `request` over the responder's records endpoint (§3.1).
 *
 * A separate function rather than methods of the session, so that an app that only does first
 * contact does not ship the record layer. A session has exactly one channel — every call of
 * {@link sessionRecords} for it gives the same object — because two senders on one key would
 * reuse nonces. The ratchet state is made on the first call, not at the handshake, and
 * `session.wipe()` wipes it.
 * @module
 */
import { MAX_RECORD_REQUEST_BYTES } from '../core/constants.js';
import { ZeqKeyExError } from '../core/errors.js';
import { type RecordChannel, createRecordChannel } from '../core/record-channel.js';
import { type ClientSession, sessionState } from './session.js';

/** Options of {@link SessionRecords.request}. */
export interface RecordRequestOptions {
  /** Application associated data of the request and its reply. @defaultValue empty */
  aad?: Uint8Array;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/** The record channel of one initiator session. */
export interface SessionRecords {
  /**
   * Seals one initiator → responder record (spec §3), ratcheting the epoch when it is due.
   * @param plaintext - the message.
   * @param aad - application associated data; the responder must open with the same bytes.
   * @returns the record, to carry to the responder by any means.
   * @throws {ZeqKeyExError} `session_closed` after `session.wipe()`; `session_exhausted`.
   */
  seal(plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  /**
   * Opens one responder → initiator record (spec §3).
   * @param record - the record.
   * @param aad - the application associated data it was sealed with.
   * @returns the plaintext.
   * @throws {ZeqKeyExError} `record_malformed`, `record_unsupported_version`, `record_auth_failed`,
   *   `record_replayed`, `record_too_old`, `record_too_far_ahead`, `session_closed`.
   */
  open(record: Uint8Array, aad?: Uint8Array): Uint8Array;
  /**
   * {@link SessionRecords.seal} through the platform's asynchronous AES-GCM: `node:crypto` in the
   * Node build, WebCrypto in the portable build (browsers, workers) where it passes a probe
   * against noble — native AES, many times faster than the synchronous noble `seal` there for
   * large records. The same record bytes; the sequence number is taken when it is called.
   * @throws {ZeqKeyExError} the codes of {@link SessionRecords.seal}, as rejections.
   */
  sealAsync(plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;
  /**
   * {@link SessionRecords.open} through the platform's asynchronous AES-GCM: the same checks;
   * the record is accepted (and a replay of it refused) only once it has opened.
   * @throws {ZeqKeyExError} the codes of {@link SessionRecords.open}, as rejections.
   */
  openAsync(record: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;
  /**
   * Seals `plaintext` (as {@link SessionRecords.sealAsync} does), posts it to the responder's
   * records endpoint (spec §3.1) and opens the reply (as {@link SessionRecords.openAsync} does).
   * Never retried: a record is sent once. Concurrent requests on one session are fine.
   * @param plaintext - the request.
   * @param options - `aad` (used for both the request and the reply record) and an abort `signal`.
   * @returns the opened reply.
   * @throws {ZeqKeyExError} the codes of {@link SessionRecords.seal} and {@link SessionRecords.open};
   *   transport codes; `http_error` with `responseCode` `unknown_session`, `session_expired`,
   *   `invalid_record` or `replayed_record` when the responder refuses the record.
   * @throws {TypeError} for a session made without a records endpoint.
   */
  request(plaintext: Uint8Array, options?: RecordRequestOptions): Promise<Uint8Array>;
}

interface Channel extends SessionRecords {
  wipe(): void;
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
  if (state.channel !== undefined) return state.channel as Channel;
  let ratchet: RecordChannel | undefined;
  function live(): RecordChannel {
    if (!state.open) throw new ZeqKeyExError('session_closed');
    return (ratchet ??= createRecordChannel(state.key, state.sessionId, 'initiator', state.ratchet));
  }
  const channel: Channel = Object.freeze({
    seal: (plaintext: Uint8Array, aad?: Uint8Array): Uint8Array => live().seal(plaintext, aad),
    open: (record: Uint8Array, aad?: Uint8Array): Uint8Array => live().open(record, aad),
    sealAsync: async (plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> => live().sealAsync(plaintext, aad),
    openAsync: async (record: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> => live().openAsync(record, aad),
    async request(plaintext: Uint8Array, options: RecordRequestOptions = {}): Promise<Uint8Array> {
      const endpoint = state.records;
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
