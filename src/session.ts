/**
 * The initiator's view of a confirmed session (spec §2.3): who it is with, how that peer was
 * authenticated, and the record key — with a way to wipe it. Records (spec §3) go through the
 * session: raw `seal`/`open` for apps with their own transport, and `request` over the records
 * endpoint (§3.1). The ratchet state is created on the first record, not before.
 * @module
 */
import { MAX_RECORD_REQUEST_BYTES, type Alg } from './constants.js';
import { ZeqKeyExError } from './errors.js';
import type { KemBackendName } from './kem-backend.js';
import { type RatchetOptions, type RecordChannel, assertRatchetOptions, createRecordChannel } from './ratchet.js';
import type { Transport } from './transport.js';

/** How the responder's key was trusted for this session. */
export type TrustMode = 'pinned' | 'tofu-first-use' | 'tofu-match' | 'unauthenticated';

/** A confirmed session on the initiator side. */
export interface ClientSession {
  /** The responder's opaque session id. */
  readonly sessionId: string;
  /** The slug the handshake was made with. */
  readonly slug: string;
  /** The responder machine's id. */
  readonly machineId: string;
  /** The fingerprint of the key the initiator encapsulated to. */
  readonly fingerprint: string;
  /** The KEM algorithm. */
  readonly alg: Alg;
  /** When the responder forgets the session. */
  readonly expiresAt: Date;
  /**
   * Whether the responder's key was authenticated: by a pin, or by a trust-on-first-use store
   * that already knew it. `false` for an unauthenticated first contact (spec §6).
   */
  readonly authenticated: boolean;
  /** How the key was trusted. */
  readonly trust: TrustMode;
  /** The ML-KEM backend that encapsulated: `'node'`, `'webcrypto'` or `'noble'` (client option `kem`). */
  readonly kemBackend: KemBackendName;
  /**
   * The 32-byte record key (spec §2.2). A copy: the caller owns it and should wipe it.
   * @throws {ZeqKeyExError} `session_closed` after {@link ClientSession.wipe}.
   */
  readonly recordKey: Uint8Array;
  /**
   * Seals one initiator → responder record (spec §3), ratcheting the epoch when it is due.
   * @param plaintext - the message.
   * @param aad - application associated data; the responder must open with the same bytes.
   * @returns the record, to carry to the responder by any means.
   * @throws {ZeqKeyExError} `session_closed` after {@link ClientSession.wipe}; `session_exhausted`.
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
   * Seals `plaintext`, posts it to the responder's records endpoint (spec §3.1) and opens the reply.
   * Never retried: a record is sent once. Concurrent requests on one session are fine.
   * @param plaintext - the request.
   * @param options - `aad` (used for both the request and the reply record) and an abort `signal`.
   * @returns the opened reply.
   * @throws {ZeqKeyExError} the codes of {@link ClientSession.seal} and {@link ClientSession.open};
   *   transport codes; `http_error` with `responseCode` `unknown_session`, `session_expired`,
   *   `invalid_record` or `replayed_record` when the responder refuses the record.
   * @throws {TypeError} for a session made without a records endpoint.
   * @example
   * ```ts
   * const session = await client.handshake('edge-01');
   * const reply = await session.request(new TextEncoder().encode('{"op":"status"}'));
   * ```
   */
  request(plaintext: Uint8Array, options?: RecordRequestOptions): Promise<Uint8Array>;
  /** Wipes the record key and every traffic key; the session is unusable afterwards. */
  wipe(): void;
}

/** Options of {@link ClientSession.request}. */
export interface RecordRequestOptions {
  /** Application associated data of the request and its reply. @defaultValue empty */
  aad?: Uint8Array;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/** How a session reaches the records endpoint of its responder. */
export interface SessionRecordsEndpoint {
  /** The client's transport. */
  transport: Transport;
  /** The absolute URL of `POST …/sessions/{session_id}/records`. */
  url: string;
  /** The largest reply record accepted. @defaultValue 1048576 */
  maxResponseBytes?: number;
}

/** Fields of {@link createClientSession}. */
export interface ClientSessionInit {
  sessionId: string;
  slug: string;
  machineId: string;
  fingerprint: string;
  alg: Alg;
  expiresAt: Date;
  trust: TrustMode;
  /** The ML-KEM backend that encapsulated. */
  kemBackend: KemBackendName;
  /** Taken over by the session (not copied); wiped by `wipe()`. */
  recordKey: Uint8Array;
  /** Rekey interval and clock of the record ratchet. */
  ratchet?: RatchetOptions;
  /** Where `request()` posts records; without it, `request()` throws a `TypeError`. */
  records?: SessionRecordsEndpoint;
}

/**
 * Builds a session object around a confirmed record key.
 * @param init - the session's fields.
 * @returns the session.
 */
export function createClientSession(init: ClientSessionInit): ClientSession {
  const key = init.recordKey;
  const ratchet = init.ratchet ?? {};
  assertRatchetOptions(ratchet);
  const records = init.records;
  let open = true;
  let channel: RecordChannel | undefined;

  function recordChannel(): RecordChannel {
    if (!open) throw new ZeqKeyExError('session_closed');
    return (channel ??= createRecordChannel(key, init.sessionId, 'initiator', ratchet));
  }

  return Object.freeze({
    sessionId: init.sessionId,
    slug: init.slug,
    machineId: init.machineId,
    fingerprint: init.fingerprint,
    alg: init.alg,
    expiresAt: new Date(init.expiresAt.getTime()),
    trust: init.trust,
    kemBackend: init.kemBackend,
    authenticated: init.trust === 'pinned' || init.trust === 'tofu-match',
    get recordKey(): Uint8Array {
      if (!open) throw new ZeqKeyExError('session_closed');
      return key.slice();
    },
    seal(plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
      return recordChannel().seal(plaintext, aad);
    },
    open(record: Uint8Array, aad?: Uint8Array): Uint8Array {
      return recordChannel().open(record, aad);
    },
    async request(plaintext: Uint8Array, options: RecordRequestOptions = {}): Promise<Uint8Array> {
      if (records === undefined) throw new TypeError('this session has no records endpoint');
      const record = recordChannel().seal(plaintext, options.aad);
      const reply = await records.transport.postBytes(records.url, record, {
        maxResponseBytes: records.maxResponseBytes ?? MAX_RECORD_REQUEST_BYTES,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      // The session may have been wiped while the request was in flight: that is session_closed.
      return recordChannel().open(reply.body, options.aad);
    },
    wipe(): void {
      open = false;
      key.fill(0);
      channel?.wipe();
    },
  });
}
