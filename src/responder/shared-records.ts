/**
 * Record state shared by responder instances (spec §3), so that the records of one session may go
 * through any instance: the {@link SharedRecordState} interface a shared store implements
 * (`zeq-keyex/redis`), and the record channel each instance builds over it.
 *
 * What is shared, and made atomic by the store:
 * - the responder → initiator sender: each `(epoch, seq)` is allocated once, across all instances,
 *   by {@link SharedRecordState.nextSend}, which also moves to the next epoch when the current one
 *   is older than the rekey interval or full — so no AES-GCM nonce is ever used twice under a key;
 * - the initiator → responder receiver: the current epoch, the previous one's grace window and the
 *   replay window of each, checked and committed by {@link SharedRecordState.admit} for a record
 *   that opened (spec §3 revision 2: the window is consulted only after the AEAD).
 *
 * What stays in each instance: the traffic keys, derived from the session's record key and
 * ratcheted forward as the shared epochs move; keys of passed epochs are wiped as on one process
 * (an instance keeps the current and the previous epoch's key of each direction). A record whose
 * epoch this instance has passed is `record_too_old`, as on one process; an allocation for an
 * epoch this instance has passed (another request here moved it on meanwhile) is retried.
 *
 * Caveat: only the asynchronous calls (`sealAsync`, `openAsync`) reach the shared state; the
 * synchronous `seal` and `open` of such a channel throw `store_error`.
 * @module
 */
import { MAX_EPOCH_SKIP } from '../core/constants.js';
import { ZeqKeyExError } from '../core/errors.js';
import { wipe } from '../core/primitives.js';
import type { RecordChannel } from '../core/record-channel.js';
import {
  deriveTrafficKey,
  openRecord,
  parseRecordHeader,
  rekey,
  sealRecord,
} from '../core/record-format.js';
import { callStoreWithin } from './store-timeouts.js';

/** A responder → initiator record's place, allocated by {@link SharedRecordState.nextSend}. */
export interface SharedAllocation {
  /** The epoch, in [0, 2^32). */
  readonly epoch: number;
  /** The sequence number within the epoch, in [0, 2^32). */
  readonly seq: number;
}

/** The outcome of {@link SharedRecordState.admit}. */
export interface SharedAdmission {
  /** `accepted` (committed), or why the record is refused (nothing changed). */
  readonly status: 'accepted' | 'replayed' | 'too_old' | 'too_far_ahead';
  /** The receiver's current epoch after the call. */
  readonly current: number;
}

/**
 * Record state shared by the instances of a responder. Implementations must make each call
 * atomic: no two calls of one session may interleave.
 */
export interface SharedRecordState {
  /**
   * Allocates the responder → initiator `(epoch, seq)` of the next record: the next seq of the
   * current epoch, or seq 0 of the next epoch when the current one started more than `intervalMs`
   * before `at` or has sealed 2^32 records.
   * @param sessionId - the session.
   * @param at - the time now, in ms.
   * @param intervalMs - the rekey interval.
   * @param expiresAt - the session's expiry (the state may be dropped after it).
   * @returns the allocation, or `'exhausted'` past epoch 2^32−1.
   */
  nextSend(
    sessionId: string,
    at: number,
    intervalMs: number,
    expiresAt: number,
  ): Promise<SharedAllocation | 'exhausted'>;
  /**
   * Admits an initiator → responder record that opened: the epoch rules (the current epoch, the
   * previous one until `intervalMs` after the switch, up to 1024 epochs ahead), the replay window
   * of its epoch, then the commit (its seq marked, its epoch made current when later).
   * @param sessionId - the session.
   * @param epoch - the record's epoch.
   * @param seq - the record's seq.
   * @param at - the time now, in ms.
   * @param intervalMs - the rekey interval (the previous epoch's grace window).
   * @param expiresAt - the session's expiry.
   * @returns the outcome and the current epoch.
   */
  admit(
    sessionId: string,
    epoch: number,
    seq: number,
    at: number,
    intervalMs: number,
    expiresAt: number,
  ): Promise<SharedAdmission>;
  /**
   * The receiver's current epoch (0 before any record).
   * @param sessionId - the session.
   * @returns the epoch.
   */
  currentEpoch(sessionId: string): Promise<number>;
  /**
   * Forgets a session's record state.
   * @param sessionId - the session.
   */
  forget(sessionId: string): Promise<void>;
}

/** One direction's traffic keys in this instance: the current and the previous epoch's. */
interface Chain {
  epoch: number;
  key: Uint8Array | undefined;
  previous: Uint8Array | undefined;
}

/** The key of a record's epoch, and what to do with the chain once the record is decided. */
interface Located {
  readonly key: Uint8Array;
  /** Makes the located epoch the chain's current one (when it is later), wiping the keys passed. */
  commit(): void;
  /** Wipes the keys computed on the side. */
  discard(): void;
}

const noop = (): void => undefined;

/**
 * The key of `epoch`: one the chain holds, or a later one computed on the side from the chain's
 * current key without touching the chain until `commit` — so that a record that is refused moves
 * nothing. `undefined` for an epoch passed.
 */
function locate(chain: Chain, epoch: number): Located | undefined {
  if (chain.key === undefined) throw new ZeqKeyExError('session_closed');
  if (epoch === chain.epoch) return { key: chain.key, commit: noop, discard: noop };
  if (epoch === chain.epoch - 1)
    return chain.previous === undefined
      ? undefined
      : { key: chain.previous, commit: noop, discard: noop };
  if (epoch < chain.epoch) return undefined;
  let at = chain.epoch;
  let key: Uint8Array = Uint8Array.from(chain.key);
  let previous: Uint8Array | undefined;
  while (at < epoch) {
    const next = rekey(key);
    wipe(previous);
    previous = key;
    key = next;
    at += 1;
  }
  return {
    key,
    commit(): void {
      if (chain.key === undefined || chain.epoch >= epoch) {
        wipe(key, previous);
        return;
      }
      wipe(chain.key, chain.previous);
      chain.key = key;
      chain.previous = previous;
      chain.epoch = epoch;
    },
    discard(): void {
      wipe(key, previous);
    },
  };
}

function dropChain(chain: Chain): void {
  wipe(chain.key, chain.previous);
  chain.key = undefined;
  chain.previous = undefined;
}

/** What a shared channel needs besides its session. */
export interface SharedChannelOptions {
  readonly state: SharedRecordState;
  readonly intervalMs: number;
  readonly now: () => number;
  /** The time limit of each call to the shared state. */
  readonly timeoutMs: number;
  /** The most epochs a key may be ratcheted forward in one go (bounds the work a record causes). */
  readonly maxEpochSteps: number;
}

/** How many times an allocation for an epoch this instance already passed is retried. */
const SEND_ATTEMPTS = 3;

/**
 * The responder's record channel of a session whose record state is shared.
 * @param recordKey - the session's record key (read now: both epoch-0 traffic keys are derived
 *   from it at once; neither kept nor modified).
 * @param sessionId - the session id.
 * @param expiresAt - the session's expiry.
 * @param options - the shared state, interval, clock and bounds.
 * @returns the channel.
 */
export function createSharedRecordChannel(
  recordKey: Uint8Array,
  sessionId: string,
  expiresAt: number,
  options: SharedChannelOptions,
): RecordChannel {
  const { state, intervalMs, now, timeoutMs, maxEpochSteps } = options;
  const send: Chain = {
    epoch: 0,
    key: deriveTrafficKey(recordKey, sessionId, 'r2i'),
    previous: undefined,
  };
  const receive: Chain = {
    epoch: 0,
    key: deriveTrafficKey(recordKey, sessionId, 'i2r'),
    previous: undefined,
  };
  let known = 0;
  let wiped = false;
  const bounded = <T>(call: () => Promise<T>): Promise<T> =>
    callStoreWithin(call, timeoutMs, 'the shared record state failed');

  function live(): void {
    if (wiped) throw new ZeqKeyExError('session_closed');
  }

  async function openAsync(
    record: Uint8Array,
    aad: Uint8Array = new Uint8Array(0),
  ): Promise<Uint8Array> {
    live();
    const { epoch, seq } = parseRecordHeader(record);
    if (epoch > known + MAX_EPOCH_SKIP) known = await bounded(() => state.currentEpoch(sessionId));
    if (epoch > known + MAX_EPOCH_SKIP || epoch - receive.epoch > maxEpochSteps)
      throw new ZeqKeyExError('record_too_far_ahead');
    if (epoch < known - 1) throw new ZeqKeyExError('record_too_old');
    live();
    const found = locate(receive, epoch);
    if (found === undefined) throw new ZeqKeyExError('record_too_old');
    let plaintext: Uint8Array;
    let admission: SharedAdmission;
    try {
      plaintext = openRecord(found.key, sessionId, record, aad);
    } catch (error) {
      found.discard();
      throw error;
    }
    try {
      admission = await bounded(() =>
        state.admit(sessionId, epoch, seq, now(), intervalMs, expiresAt),
      );
    } catch (error) {
      found.discard();
      plaintext.fill(0);
      throw error;
    }
    known = Math.max(known, admission.current);
    if (admission.status === 'accepted' && !wiped) {
      found.commit();
      return plaintext;
    }
    found.discard();
    plaintext.fill(0);
    if (admission.status === 'accepted') throw new ZeqKeyExError('session_closed');
    throw new ZeqKeyExError(
      admission.status === 'replayed'
        ? 'record_replayed'
        : admission.status === 'too_old'
          ? 'record_too_old'
          : 'record_too_far_ahead',
    );
  }

  async function sealAsync(
    plaintext: Uint8Array,
    aad: Uint8Array = new Uint8Array(0),
  ): Promise<Uint8Array> {
    live();
    if (!(plaintext instanceof Uint8Array) || !(aad instanceof Uint8Array))
      throw new TypeError('plaintext and aad must be Uint8Arrays');
    const input = plaintext.slice();
    const extra = aad.slice();
    try {
      for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
        const next = await bounded(() => state.nextSend(sessionId, now(), intervalMs, expiresAt));
        live();
        if (next === 'exhausted') throw new ZeqKeyExError('session_exhausted');
        if (next.epoch - send.epoch > maxEpochSteps)
          throw new ZeqKeyExError('store_error', 'the shared record state is out of range');
        const found = locate(send, next.epoch);
        // An epoch this instance moved past meanwhile: that (epoch, seq) is simply never used.
        if (found === undefined) continue;
        found.commit();
        // After commit the chain holds the key (or, for an older epoch, its previous one).
        const key = next.epoch === send.epoch ? send.key : send.previous;
        if (key === undefined) continue;
        return sealRecord(key, sessionId, next.epoch, next.seq, input, extra);
      }
      throw new ZeqKeyExError('store_error', 'no record sequence number could be allocated');
    } finally {
      input.fill(0);
    }
  }

  const synchronous = (): never => {
    throw new ZeqKeyExError(
      'store_error',
      'a session with shared record state is used through sealAsync and openAsync',
    );
  };

  return Object.freeze({
    seal: synchronous,
    open: synchronous,
    sealAsync,
    openAsync,
    wipe(): void {
      wiped = true;
      dropChain(send);
      dropChain(receive);
    },
  });
}
