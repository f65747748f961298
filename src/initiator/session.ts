/**
 * The initiator's view of a confirmed session (spec §2.3): who it is with, how that peer was
 * authenticated, and the record key — with a way to wipe it.
 *
 * Records (spec §3) are not methods of the session: {@link sessionRecords} (`records.ts`) gives a
 * session's record channel, so an app that only does first contact does not ship the record layer.
 * What that channel needs (the record key, the ratchet options, the records endpoint) and the
 * channel itself are kept in a {@link SessionState} that only `records.ts` reaches, through
 * {@link sessionState}; `wipe()` wipes the channel's keys with the record key.
 *
 * Security caveat: `recordKey` hands out a copy, which the caller must wipe; the session's own copy
 * is zeroed by `wipe()`, with every key derived from it (the traffic keys of every epoch) and every
 * key object the AES-GCM backend imported for them. `node:crypto` keeps its own copy of an imported
 * key in native memory, which JavaScript cannot zero: `wipe()` drops the SDK's references to it.
 * @module
 */
import type { Alg } from '../core/constants.js';
import { ZeqKeyExError } from '../core/errors.js';
import { wipe } from '../core/primitives.js';
import type { KemBackendName } from '../backends/kem-backend.js';
import type { RatchetOptions, RecordChannel } from '../core/record-channel.js';
import type { SessionRecords } from './records.js';
import type { Transport } from './transport.js';

/** How the responder's key was trusted for this session. */
export type TrustMode =
  | 'pinned'
  | 'tofu-first-use'
  | 'tofu-match'
  | 'unauthenticated'
  /** Authenticated by an attestation of a pinned identity (spec §8). */
  | 'identity';

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
  /** The identity that signed the key document (trust `'identity'`), else `undefined`. */
  readonly identity: string | undefined;
  /** The serial of the attestation the session was authenticated by (trust `'identity'`). */
  readonly serial: number | undefined;
  /**
   * Whether the key document came from the client's cache (one round trip, spec §8.2) rather
   * than a `GET` made for this handshake.
   */
  readonly documentCached: boolean;
  /** The ML-KEM backend that encapsulated: `'node'`, `'webcrypto'` or `'noble'` (client option `kem`). */
  readonly kemBackend: KemBackendName;
  /**
   * The 32-byte record key (spec §2.2). A copy: the caller owns it and should wipe it.
   * @throws {ZeqKeyExError} `session_closed` after {@link ClientSession.wipe}.
   */
  readonly recordKey: Uint8Array;
  /** Wipes the record key and every traffic key; the session is unusable afterwards. */
  wipe(): void;
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
  /** The identity that signed the key document (trust `'identity'`). */
  identity?: string | undefined;
  /** The attestation's serial (trust `'identity'`). */
  serial?: number | undefined;
  /** Whether the key document came from the client's cache. @defaultValue false */
  documentCached?: boolean;
  /** The ML-KEM backend that encapsulated. */
  kemBackend: KemBackendName;
  /** Taken over by the session (not copied); wiped by `wipe()`. */
  recordKey: Uint8Array;
  /** Rekey interval and clock of the record ratchet. */
  ratchet?: RatchetOptions;
  /** Where `sessionRecords(session).request()` posts records; without it, `request()` throws a `TypeError`. */
  records?: SessionRecordsEndpoint;
}

/** What a session keeps for its records; read by `records.ts` only. */
export interface SessionState {
  readonly sessionId: string;
  /** The record key; zeroed by `wipe()`. */
  readonly key: Uint8Array;
  readonly ratchet: RatchetOptions;
  /** Where `request()` posts records, when the session has a records endpoint. */
  readonly endpoint: SessionRecordsEndpoint | undefined;
  /** False once the session is wiped. */
  open: boolean;
  /** The session's record channel, made by the first `sessionRecords(session)`; wiped with the session. */
  channel?: SessionRecords & Pick<RecordChannel, 'wipe'>;
}

/**
 * Session → its state. A WeakMap rather than properties of the session: the record key and the
 * channel stay off the frozen session object (nothing to enumerate, spread or serialise, and a
 * copy of the session is refused), and session.ts imports nothing of the record layer at run time.
 */
const states = new WeakMap<ClientSession, SessionState>();

/**
 * The private state of a session made by {@link createClientSession}.
 * @param session - the session.
 * @returns its state.
 * @throws {TypeError} for anything that is not such a session.
 */
export function sessionState(session: ClientSession): SessionState {
  const state = states.get(session);
  if (state === undefined) throw new TypeError('not a session of this SDK');
  return state;
}

/**
 * Builds a session object around a confirmed record key.
 * @param init - the session's fields.
 * @returns the session.
 */
export function createClientSession(init: ClientSessionInit): ClientSession {
  const state: SessionState = {
    sessionId: init.sessionId,
    key: init.recordKey,
    ratchet: init.ratchet ?? {},
    endpoint: init.records,
    open: true,
  };
  const session: ClientSession = Object.freeze({
    sessionId: init.sessionId,
    slug: init.slug,
    machineId: init.machineId,
    fingerprint: init.fingerprint,
    alg: init.alg,
    expiresAt: new Date(init.expiresAt.getTime()),
    trust: init.trust,
    identity: init.identity,
    serial: init.serial,
    documentCached: init.documentCached === true,
    kemBackend: init.kemBackend,
    authenticated:
      init.trust === 'pinned' || init.trust === 'tofu-match' || init.trust === 'identity',
    get recordKey(): Uint8Array {
      if (!state.open) throw new ZeqKeyExError('session_closed');
      return state.key.slice();
    },
    wipe(): void {
      state.open = false;
      // `wipe`, not `fill(0)`: the Node build's AES-GCM holds a KeyObject and a copy of the record
      // key since the key confirmation was opened under it, and lets go of them only here.
      wipe(state.key);
      state.channel?.wipe();
    },
  });
  states.set(session, state);
  return session;
}
