/**
 * Test seam of the record ratchet (spec §3), not part of the SDK: no public entry and no other
 * module of `src/` imports it. It builds senders and receivers at any position — near the 2^32
 * limits, without sealing 2^32 records — and reads their live state objects, key buffers and
 * replay windows included (by reference, so a test can check that a passed key was zeroed).
 *
 * Security caveat: a sender built at a position that another sender on the same key already used
 * reuses AES-GCM nonces. Only tests build ratchets this way.
 * @module
 */
import { MAX_EPOCH, MAX_RECORDS_PER_EPOCH } from '../core/constants.js';
import {
  type RatchetOptions,
  type ReceiverState,
  type RecordReceiver,
  type RecordSender,
  type SenderState,
  assertRatchetOptions,
  createRecordReceiver,
  createRecordSender,
  receiverEpoch,
} from '../core/record-channel.js';

const senders = new WeakMap<RecordSender, SenderState>();
const receivers = new WeakMap<RecordReceiver, ReceiverState>();

/** Where {@link createSenderAt} starts. */
export interface SenderStart {
  /** The epoch of the given key. @defaultValue 0 */
  epoch?: number;
  /** The next seq, up to 2^32 (a full epoch). @defaultValue 0 */
  seq?: number;
}

function assertEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH)
    throw new RangeError('epoch must be an integer in [0, 2^32)');
}

/**
 * Creates a sender whose state {@link senderState} reads.
 * @param trafficKey - the key of the starting epoch; taken over, not copied.
 * @param sessionId - the session id.
 * @param options - interval and clock.
 * @param start - the epoch of `trafficKey` and the next seq.
 * @returns the sender; its epoch starts now.
 * @throws {RangeError} for a start or an interval out of range.
 * @throws {TypeError} for a session id that is not a string or a clock that is not a function.
 */
export function createSenderAt(
  trafficKey: Uint8Array,
  sessionId: string,
  options: RatchetOptions = {},
  start: SenderStart = {},
): RecordSender {
  const { epoch = 0, seq = 0 } = start;
  assertEpoch(epoch);
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_RECORDS_PER_EPOCH)
    throw new RangeError('seq must be an integer in [0, 2^32]');
  const now = assertRatchetOptions(options).now ?? Date.now;
  const state: SenderState = {
    epoch,
    seq,
    startedAt: now(),
    key: trafficKey,
    asyncKey: undefined,
    exhausted: false,
  };
  const sender = createRecordSender(state, sessionId, options);
  senders.set(sender, state);
  return sender;
}

/**
 * Creates a receiver whose state {@link receiverState} reads.
 * @param trafficKey - the key of the starting epoch; taken over, not copied.
 * @param sessionId - the session id.
 * @param options - interval and clock.
 * @param epoch - the epoch of `trafficKey`.
 * @returns the receiver.
 * @throws {RangeError} for an epoch or an interval out of range.
 * @throws {TypeError} for a session id that is not a string or a clock that is not a function.
 */
export function createReceiverAt(
  trafficKey: Uint8Array,
  sessionId: string,
  options: RatchetOptions = {},
  epoch = 0,
): RecordReceiver {
  assertEpoch(epoch);
  const state: ReceiverState = {
    current: receiverEpoch(epoch, trafficKey),
    previous: undefined,
    previousUntil: 0,
  };
  const receiver = createRecordReceiver(state, sessionId, options);
  receivers.set(receiver, state);
  return receiver;
}

function stateOf<R extends object, S>(states: WeakMap<R, S>, ratchet: R): S {
  const state = states.get(ratchet);
  if (state === undefined)
    throw new TypeError('not a ratchet made by createSenderAt or createReceiverAt');
  return state;
}

/**
 * The live state of a sender made by {@link createSenderAt}.
 * @param sender - the sender.
 * @returns its state object (not a copy).
 * @throws {TypeError} for any other sender.
 */
export function senderState(sender: RecordSender): SenderState {
  return stateOf(senders, sender);
}

/**
 * The live state of a receiver made by {@link createReceiverAt}.
 * @param receiver - the receiver.
 * @returns its state object (not a copy).
 * @throws {TypeError} for any other receiver.
 */
export function receiverState(receiver: RecordReceiver): ReceiverState {
  return stateOf(receivers, receiver);
}
