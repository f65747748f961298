/**
 * The initiator's view of a confirmed session (spec §2.3): who it is with, how that peer was
 * authenticated, and the record key — with a way to wipe it.
 * @module
 */
import type { Alg } from './constants.js';
import { ZeqKeyExError } from './errors.js';

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
  /**
   * The 32-byte record key (spec §2.2). A copy: the caller owns it and should wipe it.
   * @throws {ZeqKeyExError} `session_closed` after {@link ClientSession.wipe}.
   */
  readonly recordKey: Uint8Array;
  /** Wipes the record key; the session is unusable afterwards. */
  wipe(): void;
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
  /** Taken over by the session (not copied); wiped by `wipe()`. */
  recordKey: Uint8Array;
}

/**
 * Builds a session object around a confirmed record key.
 * @param init - the session's fields.
 * @returns the session.
 */
export function createClientSession(init: ClientSessionInit): ClientSession {
  const key = init.recordKey;
  let open = true;
  return Object.freeze({
    sessionId: init.sessionId,
    slug: init.slug,
    machineId: init.machineId,
    fingerprint: init.fingerprint,
    alg: init.alg,
    expiresAt: new Date(init.expiresAt.getTime()),
    trust: init.trust,
    authenticated: init.trust === 'pinned' || init.trust === 'tofu-match',
    get recordKey(): Uint8Array {
      if (!open) throw new ZeqKeyExError('session_closed');
      return key.slice();
    },
    wipe(): void {
      open = false;
      key.fill(0);
    },
  });
}
