/**
 * The responder's record state (spec §3): one {@link RecordChannel} per session, created on the
 * session's first record, shared by the records endpoint (§3.1) and by apps that carry records on
 * their own transport ({@link ResponderSession}).
 *
 * Security caveats:
 * - The ratchet state lives in this process's memory. A session is served only by the responder
 *   instance that made its handshake: a session it did not register (made by another process, or
 *   before a restart, with a shared or persistent session store) is refused as unknown. Serving it
 *   would start a second r2i sender at seq 0 under the same key, and AES-GCM must never see the
 *   same nonce twice under one key. Deploy the records endpoint with session affinity — or share
 *   the record state (`shared`, `shared-records.ts`), and any instance serves any session.
 * - Once a session's state is dropped (expiry, eviction beyond the bound, `close()`), the session
 *   is refused from then on for the same reason; its keys are wiped.
 * - An idle registered session costs one map entry (its id and expiry); the traffic keys, epochs
 *   and replay windows exist only once it carried a record.
 * @module
 */
import { ZeqKeyExError, callStore } from '../core/errors.js';
import { assertPositiveInteger } from '../core/limits.js';
import {
  type RatchetOptions,
  type RecordChannel,
  assertRatchetOptions,
  createRecordChannel,
  recordCallsVia,
} from '../core/record-channel.js';
import { OrderedMap } from './ordered-map.js';
import type { SessionStore, StoredSession } from './stores.js';
import { type SharedRecordState, createSharedRecordChannel } from './shared-records.js';
import { DEFAULT_REKEY_INTERVAL_MS, MAX_EPOCH_SKIP } from '../core/constants.js';

/**
 * A live session on the responder side, for records the app carries itself: the calls of a
 * {@link RecordChannel} (sealing responder → initiator records, opening initiator → responder
 * ones), on the channel the records endpoint uses too. They throw `session_closed` once the session
 * expired or its state was dropped; its keys are wiped by the responder, not by the app.
 */
export interface ResponderSession extends Omit<RecordChannel, 'wipe'> {
  /** The session id. */
  readonly sessionId: string;
  /** The slug of the machine the session was made with. */
  readonly slug: string;
  /** That machine's id. */
  readonly machineId: string;
  /** When the session expires. */
  readonly expiresAt: Date;
}

/** The per-session record state of one responder instance. */
export interface RecordSessions {
  /** How many sessions are registered (for tests and metrics). */
  readonly size: number;
  /**
   * Registers a session this instance just made, so that it may carry records.
   * @param sessionId - the new session's id.
   * @param expiresAt - its expiry, in milliseconds.
   */
  register(sessionId: string, expiresAt: number): void;
  /**
   * The channel of a registered, unexpired session, created on first use from its record key.
   * @param session - the session as the store returned it (its record key is only read).
   * @returns the channel, or `undefined` when this instance does not (or no longer) serve it.
   */
  channel(session: StoredSession): RecordChannel | undefined;
  /**
   * Drops a session's state and wipes its keys; it is refused from then on.
   * @param sessionId - the session id.
   */
  forget(sessionId: string): void;
  /** Drops every session's state and wipes every key. */
  close(): void;
}

/** Options of {@link createRecordSessions}. */
export interface RecordSessionsOptions {
  /** The most sessions registered at once; registering one more drops the oldest. */
  maxSessions: number;
  /** Rekey interval and clock of the ratchets. */
  ratchet?: RatchetOptions;
  /** The clock of session expiry, in milliseconds. @defaultValue `Date.now` */
  now?: () => number;
  /**
   * Record state shared with other instances: then any session of the store is served, through a
   * channel over the shared state (`shared-records.ts`), registered here or not.
   */
  shared?: {
    readonly state: SharedRecordState;
    /** The time limit of each call to the shared state. */
    readonly timeoutMs: number;
    /** The session lifetime, which bounds how many epochs a session can reach. */
    readonly sessionTtlMs: number;
  };
}

interface Entry {
  readonly sessionId: string;
  readonly expiresAt: number;
  channel: RecordChannel | undefined;
}

/**
 * Creates the record state of one responder instance.
 * @param options - bound, ratchet options and clock.
 * @returns an empty registry.
 * @throws {RangeError} for a bound that is not a positive integer or ratchet options out of range.
 */
export function createRecordSessions(options: RecordSessionsOptions): RecordSessions {
  const maxSessions = assertPositiveInteger(options.maxSessions, 'maxSessions');
  const ratchet = options.ratchet ?? {};
  assertRatchetOptions(ratchet);
  const now = options.now ?? Date.now;
  const shared = options.shared;
  const intervalMs = ratchet.rekeyIntervalMs ?? DEFAULT_REKEY_INTERVAL_MS;
  const ratchetNow = ratchet.now ?? Date.now;
  // An ordered map, not a `Map`: swept and evicted from its oldest end on every registration,
  // which a `Map` makes cost more the more it deleted (`ordered-map.ts`).
  const entries = new OrderedMap<string, Entry>((entry) => entry.sessionId);
  let closed = false;

  function drop(sessionId: string, entry: Entry): void {
    entries.delete(sessionId);
    entry.channel?.wipe();
  }

  function purge(at: number): void {
    // Insertion order is expiry order while sessions share one lifetime (see the memory store).
    for (let oldest = entries.oldest(); oldest !== undefined; oldest = entries.oldest()) {
      if (oldest.expiresAt > at) break;
      drop(oldest.sessionId, oldest);
    }
  }

  return {
    get size(): number {
      return entries.size;
    },
    register(sessionId: string, expiresAt: number): void {
      if (closed) return;
      purge(now());
      const existing = entries.get(sessionId);
      if (existing !== undefined) drop(sessionId, existing);
      entries.add({ sessionId, expiresAt, channel: undefined });
      while (entries.size > maxSessions) {
        const oldest = entries.oldest();
        if (oldest === undefined) break;
        drop(oldest.sessionId, oldest);
      }
    },
    channel(session: StoredSession): RecordChannel | undefined {
      let entry = entries.get(session.sessionId);
      // Shared record state: a session made by another instance is served here too.
      if (entry === undefined && shared !== undefined && !closed) {
        this.register(session.sessionId, session.expiresAt);
        entry = entries.get(session.sessionId);
      }
      if (entry === undefined) return undefined;
      if (entry.expiresAt <= now() || session.expiresAt <= now()) {
        drop(session.sessionId, entry);
        return undefined;
      }
      return (entry.channel ??=
        shared === undefined
          ? createRecordChannel(session.recordKey, session.sessionId, 'responder', ratchet)
          : createSharedRecordChannel(session.recordKey, session.sessionId, session.expiresAt, {
              state: shared.state,
              intervalMs,
              now: ratchetNow,
              timeoutMs: shared.timeoutMs,
              // Epochs move at most one per interval (2^32 records per epoch aside): a session can
              // reach no further than its lifetime in intervals, plus the receiver's skip.
              maxEpochSteps: Math.ceil(shared.sessionTtlMs / intervalMs) + MAX_EPOCH_SKIP + 2,
            }));
    },
    forget(sessionId: string): void {
      const entry = entries.get(sessionId);
      if (entry !== undefined) drop(sessionId, entry);
    },
    close(): void {
      closed = true;
      for (let oldest = entries.oldest(); oldest !== undefined; oldest = entries.oldest())
        drop(oldest.sessionId, oldest);
    },
  };
}

/** The outcome of {@link findRecordSession}. */
export type RecordSessionLookup =
  | { readonly status: 'live'; readonly session: StoredSession; readonly channel: RecordChannel }
  | { readonly status: 'unknown' }
  | { readonly status: 'expired' };

/**
 * Finds a session in the store and its record channel in this instance.
 * @param store - the session store.
 * @param sessions - this instance's record state.
 * @param sessionId - the session id (already checked against the §1 grammar).
 * @param at - the current time, in milliseconds.
 * @returns `live` with the session and its channel; `expired` for a stored session past its
 *   expiry; `unknown` for a session the store does not hold or this instance does not serve.
 * @throws {ZeqKeyExError} `store_error` when the store fails.
 */
export async function findRecordSession(
  store: SessionStore,
  sessions: RecordSessions,
  sessionId: string,
  at: number,
): Promise<RecordSessionLookup> {
  const session = await callStore(() => store.get(sessionId), 'the session store failed');
  if (session === undefined || session.sessionId !== sessionId) {
    sessions.forget(sessionId);
    return { status: 'unknown' };
  }
  if (session.expiresAt <= at) {
    sessions.forget(sessionId);
    return { status: 'expired' };
  }
  const channel = sessions.channel(session);
  return channel === undefined ? { status: 'unknown' } : { status: 'live', session, channel };
}

/**
 * Wraps a live session for the app: every call first checks the expiry, and an expired session is
 * forgotten (keys wiped) and refused with `session_closed`.
 * @param session - the stored session.
 * @param channel - its channel.
 * @param sessions - the registry, to forget it on expiry.
 * @param now - the clock.
 * @returns the app's view of the session.
 */
export function responderSession(
  session: StoredSession,
  channel: RecordChannel,
  sessions: RecordSessions,
  now: () => number,
): ResponderSession {
  const { sessionId, expiresAt } = session;
  function live(): RecordChannel {
    if (expiresAt <= now()) {
      sessions.forget(sessionId);
      throw new ZeqKeyExError('session_closed');
    }
    return channel;
  }
  return Object.freeze({
    sessionId,
    slug: session.slug,
    machineId: session.machineId,
    expiresAt: new Date(expiresAt),
    ...recordCallsVia(live),
  });
}
