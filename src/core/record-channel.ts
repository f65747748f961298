/**
 * The record channel of spec §3: {@link RecordChannel}, the one interface of the record calls on
 * either side of a session, and the ratchet behind it — a sender and a receiver per direction over
 * the stateless record format of `record-format.ts`.
 *
 * Sender: `seq` counts from 0 in each epoch; before sealing, the sender moves to the next epoch
 * (seq 0) when the current one is older than the rekey interval or has sealed 2^32 records, and
 * wipes the old key. It cannot move past epoch 2^32−1: from then on it throws `session_exhausted`.
 *
 * Receiver: accepts the current epoch, the previous one until one interval after the switch, and
 * later epochs up to 1024 ahead. Each epoch has a sliding replay window of 1024 sequence numbers (a
 * 128-byte bitmap, allocated on the first record the epoch accepts). `open` and `openAsync` take
 * the same steps around the AEAD, in the order of spec §3 (revision 2): the header, then
 * {@link locateKey} finds the key of the record's epoch (a later epoch's key is computed on the
 * side, the keys passed on the way wiped), then the AEAD, and only for a record that opened,
 * {@link admitRecord}: the replay window, then the commit (its seq marked, its epoch moved to).
 *
 * Both keep their state in plain objects ({@link SenderState}, {@link ReceiverState}) that only the
 * sender or receiver made over it changes; `createRecordChannel` starts them at epoch 0, and only
 * the test seam `src/internal/record-state.ts` builds them elsewhere or reads them.
 *
 * Security caveats:
 * - The replay window is consulted only for a record that opened: a record that does not open is
 *   `record_auth_failed` whatever its seq, so nobody without the key learns which sequence numbers
 *   a session has used (the "record-count oracle"). A replayed record therefore costs one
 *   decryption before it is refused; its plaintext is wiped.
 * - A rejected record changes no state. The only change an `open` call makes without accepting a
 *   record depends on the clock alone: a previous epoch whose grace window has passed is wiped.
 * - Keys are deleted lazily: without timers, the sender wipes an expired epoch's key when it next
 *   seals, and the receiver its previous key when it is next used. Call `wipe()` when done.
 * - AES-GCM needs a unique `(epoch, seq)` per key. One sender per direction and session guarantees
 *   it; two senders built from the same record key (two processes, or state rebuilt after a
 *   restart) would reuse nonces. Never build a second channel for a session that already sealed.
 * @module
 */
import {
  DEFAULT_REKEY_INTERVAL_MS,
  MAX_EPOCH,
  MAX_EPOCH_SKIP,
  MAX_RECORDS_PER_EPOCH,
  type Role,
} from './constants.js';
import { ZeqKeyExError } from './errors.js';
import { assertDurationMs } from './limits.js';
import type { AsyncAeadKey } from '../backends/aead-backend.js';
import { aeadKeyAsync } from '../backends/platform.js';
import {
  type Direction,
  deriveTrafficKey,
  openRecord,
  openRecordAsync,
  parseRecordHeader,
  rekey,
  sealRecord,
  sealRecordAsync,
} from './record-format.js';
import { wipe } from './primitives.js';
import { type ReplayWindow, checkWindow, markSeen } from './replay-window.js';

// The public entry takes the third parameter's type of `createRecordChannel` from here.

/** Options of the ratchet. */
export interface RatchetOptions {
  /**
   * How long an epoch lasts before the sender moves to the next one; also the receiver's grace
   * window for the previous epoch.
   * @defaultValue 777 (one Zeqond, spec §3)
   */
  rekeyIntervalMs?: number;
  /**
   * The clock, in milliseconds.
   * @defaultValue `Date.now`
   */
  now?: () => number;
}

/**
 * The records of one side of a session (spec §3): it seals its own direction (`i2r` for the
 * initiator, `r2i` for the responder) and opens the other one. The initiator's `SessionRecords`
 * and the responder's `ResponderSession` extend it without `wipe`, which stays with the session
 * that owns the keys.
 */
export interface RecordChannel {
  /**
   * Seals one record of this side's direction, moving to the next epoch first when it is due.
   * @param plaintext - the message.
   * @param aad - application associated data; the other side must open with the same bytes.
   * @returns the record, to carry to the other side by any means.
   * @throws {ZeqKeyExError} `session_exhausted` past epoch 2^32−1; `session_closed` once the
   *   channel is wiped (or the session that holds it wiped or expired).
   * @throws {TypeError} for a plaintext or AAD that is not a `Uint8Array`.
   */
  seal(plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  /**
   * Opens one record of the other side's direction. A record that is refused changes nothing.
   * @param record - the record.
   * @param aad - the application associated data it was sealed with.
   * @returns the plaintext.
   * @throws {ZeqKeyExError} `record_malformed`, `record_unsupported_version`, `record_auth_failed`,
   *   `record_replayed`, `record_too_old`, `record_too_far_ahead`; `session_closed` as for `seal`.
   */
  open(record: Uint8Array, aad?: Uint8Array): Uint8Array;
  /**
   * {@link RecordChannel.seal} through the platform's asynchronous AES-GCM: WebCrypto in the
   * portable build (browsers, workers) where it passes a probe against noble — native AES, many
   * times faster than the synchronous noble `seal` there for large records; the Node build runs the
   * synchronous call. The same record bytes; the sequence number is taken when it is called, so
   * records sealed concurrently never share one.
   * @throws {ZeqKeyExError} the codes of {@link RecordChannel.seal}, as rejections.
   */
  sealAsync(plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;
  /**
   * {@link RecordChannel.open} through the platform's asynchronous AES-GCM: the same checks, in
   * the same order, and the record is accepted (its seq marked, a later epoch committed) only once
   * it has opened — checked again then, so that of two concurrent opens of one record, one is
   * refused with `record_replayed`.
   * @throws {ZeqKeyExError} the codes of {@link RecordChannel.open}, as rejections.
   */
  openAsync(record: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;
  /** Wipes both directions' keys; every call refuses with `session_closed` afterwards. */
  wipe(): void;
}

/** The sending half of one direction: the sealing calls of a {@link RecordChannel}. */
export type RecordSender = Pick<RecordChannel, 'seal' | 'sealAsync' | 'wipe'>;

/** The receiving half of one direction: the opening calls of a {@link RecordChannel}. */
export type RecordReceiver = Pick<RecordChannel, 'open' | 'openAsync' | 'wipe'>;

/** A sender's state: plain data, changed only by the sender made over it. */
export interface SenderState {
  /** The epoch of `key`, in [0, 2^32). */
  epoch: number;
  /** The seq of the next record in `epoch`, up to 2^32 (the epoch is full). */
  seq: number;
  /** When `epoch` started, by the ratchet's clock. */
  startedAt: number;
  /** The key of `epoch`; `undefined` once wiped or exhausted. */
  key: Uint8Array | undefined;
  /** `key` for asynchronous sealing, made on the epoch's first `sealAsync`. */
  asyncKey: AsyncAeadKey | undefined;
  /** Set once epoch 2^32−1 is used up: every seal is refused with `session_exhausted` until `wipe()`. */
  exhausted: boolean;
}

/** One epoch as a receiver keeps it: its key and its replay window. */
export interface ReceiverEpoch extends ReplayWindow {
  readonly epoch: number;
  readonly key: Uint8Array;
  /** `key` for asynchronous opening, made on the epoch's first `openAsync`. */
  asyncKey: AsyncAeadKey | undefined;
}

/** A receiver's state: plain data, changed only by the receiver made over it. */
export interface ReceiverState {
  /** The latest epoch the receiver moved to; `undefined` once wiped. */
  current: ReceiverEpoch | undefined;
  /** The epoch before it, while its grace window lasts. */
  previous: ReceiverEpoch | undefined;
  /** When the previous epoch's grace window ends (one interval after the switch). */
  previousUntil: number;
}

const EMPTY = /* @__PURE__ */ new Uint8Array(0);

interface Clock {
  readonly intervalMs: number;
  readonly now: () => number;
}

/**
 * Validates ratchet options (programmer input).
 * @param options - the options.
 * @returns the interval and clock.
 * @throws {RangeError} for an interval that is not an integer in [1, 2^31 − 1].
 * @throws {TypeError} for a clock that is not a function.
 */
function parseOptions(options: RatchetOptions): Clock {
  const intervalMs = assertDurationMs(
    options.rekeyIntervalMs ?? DEFAULT_REKEY_INTERVAL_MS,
    'rekeyIntervalMs',
  );
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new TypeError('now must be a function');
  return { intervalMs, now };
}

/**
 * Checks ratchet options where they are given, so a mistake surfaces when an object is created
 * rather than on its first record.
 * @param options - the options (any other properties are ignored).
 * @returns a copy of the two options, the interval with its default applied.
 * @throws {RangeError} for an interval that is not an integer in [1, 2^31 − 1].
 * @throws {TypeError} for a clock that is not a function.
 */
export function assertRatchetOptions(options: RatchetOptions): RatchetOptions {
  const { intervalMs } = parseOptions(options);
  // The clock stays as given: without one, `Date.now` is read when a ratchet is made.
  return {
    rekeyIntervalMs: intervalMs,
    ...(options.now === undefined ? {} : { now: options.now }),
  };
}

function assertBytes(value: unknown, name: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
}

function assertSessionId(sessionId: unknown): void {
  if (typeof sessionId !== 'string') throw new TypeError('sessionId must be a string');
}

/** Wipes a key, sender's or receiver's, and lets go of its asynchronous key. */
function retire(held: {
  asyncKey: AsyncAeadKey | undefined;
  readonly key: Uint8Array | undefined;
}): void {
  held.asyncKey?.forget();
  held.asyncKey = undefined;
  wipe(held.key);
}

/** Wipes a sender's key, and lets go of its asynchronous key. */
function dropSenderKey(state: SenderState): void {
  retire(state);
  state.key = undefined;
}

/**
 * The checks of a seal, and the ratchet when it is due (the epoch older than the interval, or
 * full): the key of the next record, whose epoch and seq are then `state.epoch` and `state.seq`.
 * @throws {ZeqKeyExError} `session_closed`, `session_exhausted`.
 * @throws {TypeError} for a plaintext or AAD that is not a `Uint8Array`.
 */
function nextSenderKey(
  state: SenderState,
  clock: Clock,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const key = state.key;
  if (key === undefined)
    throw new ZeqKeyExError(state.exhausted ? 'session_exhausted' : 'session_closed');
  assertBytes(plaintext, 'plaintext');
  assertBytes(aad, 'aad');
  const at = clock.now();
  if (state.seq < MAX_RECORDS_PER_EPOCH && at - state.startedAt <= clock.intervalMs) return key;
  if (state.epoch >= MAX_EPOCH) {
    // §3: epoch 2^32−1 exhausted ends the session; its last key is of no further use.
    state.exhausted = true;
    dropSenderKey(state);
    throw new ZeqKeyExError('session_exhausted');
  }
  const next = rekey(key);
  dropSenderKey(state);
  state.key = next;
  state.epoch += 1;
  state.seq = 0;
  state.startedAt = at;
  return next;
}

/**
 * Creates the sender of one direction over its state.
 * @param state - where it starts; taken over: the sender changes it, and wipes each key it moves
 *   past.
 * @param sessionId - the session id bound into every record's AAD.
 * @param options - interval and clock.
 * @returns the sender.
 * @throws {TypeError} for a session id that is not a string or a clock that is not a function.
 * @throws {RangeError} for an interval out of range.
 */
export function createRecordSender(
  state: SenderState,
  sessionId: string,
  options: RatchetOptions = {},
): RecordSender {
  assertSessionId(sessionId);
  const clock = parseOptions(options);
  const sender: RecordSender = {
    seal(plaintext: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
      const key = nextSenderKey(state, clock, plaintext, aad);
      // Synchronous from here to the increment: no other seal can take this seq.
      const record = sealRecord(key, sessionId, state.epoch, state.seq, plaintext, aad);
      state.seq += 1;
      return record;
    },
    // Not `async`: the seq is taken, and the inputs read, before it returns.
    sealAsync(plaintext: Uint8Array, aad: Uint8Array = EMPTY): Promise<Uint8Array> {
      try {
        // Without an asynchronous AES-GCM (the Node build), the synchronous seal is the fast one.
        if (aeadKeyAsync === undefined) return Promise.resolve(sender.seal(plaintext, aad));
        const key = nextSenderKey(state, clock, plaintext, aad);
        const sealing = sealRecordAsync(
          (state.asyncKey ??= aeadKeyAsync(key)),
          sessionId,
          state.epoch,
          state.seq,
          plaintext,
          aad,
        );
        state.seq += 1;
        return sealing;
      } catch (error) {
        return Promise.reject(error);
      }
    },
    wipe(): void {
      dropSenderKey(state);
      state.exhausted = false;
    },
  };
  return Object.freeze(sender);
}

/**
 * A receiver's epoch before it accepted any record.
 * @param epoch - the epoch.
 * @param key - its key; the receiver takes it over.
 * @returns the epoch's state.
 */
export function receiverEpoch(epoch: number, key: Uint8Array): ReceiverEpoch {
  return { epoch, key, top: -1, bits: undefined, asyncKey: undefined };
}

function dropPrevious(state: ReceiverState): void {
  if (state.previous !== undefined) retire(state.previous);
  state.previous = undefined;
}

/** Where {@link locateKey} found the key of a record. */
type Located =
  /** An epoch the receiver holds, whose window admits the seq. */
  | { readonly kind: 'held'; readonly held: ReceiverEpoch; readonly key: Uint8Array }
  /**
   * A later epoch, its key computed on the side from `from` (the current epoch): `passed` is the
   * key of `epoch − 1` when that was computed too, `undefined` when it is `from`'s.
   */
  | {
      readonly kind: 'ahead';
      readonly from: ReceiverEpoch;
      readonly epoch: number;
      readonly key: Uint8Array;
      readonly passed: Uint8Array | undefined;
    };

/**
 * The receiver's first step, the same for `open` and `openAsync`: the key of the record's epoch,
 * after the epoch range check (the only check before the AEAD that needs no key; the seq is not
 * looked at before the record opened, spec §3). Changes nothing but what depends on the clock
 * alone (a previous epoch past its grace window is wiped); a later epoch's key is computed on the
 * side, the keys passed on the way wiped — {@link discardKeys} wipes the rest when the record is
 * refused.
 * @param state - the receiver's state.
 * @param epoch - the record's epoch.
 * @param at - the time now.
 * @returns where the key is.
 * @throws {ZeqKeyExError} `session_closed`, `record_too_old` (an epoch no longer held),
 *   `record_too_far_ahead`.
 */
function locateKey(state: ReceiverState, epoch: number, at: number): Located {
  const current = state.current;
  if (current === undefined) throw new ZeqKeyExError('session_closed');
  if (state.previous !== undefined && at - state.previousUntil > 0) dropPrevious(state);
  const previous = state.previous;
  const held = epoch === current.epoch ? current : epoch === previous?.epoch ? previous : undefined;
  if (held !== undefined) return { kind: 'held', held, key: held.key };
  // Stryker disable next-line EqualityOperator: `<` → `<=` is equivalent: an epoch equal to the current one was returned as held just above.
  if (epoch < current.epoch) throw new ZeqKeyExError('record_too_old');
  const steps = epoch - current.epoch;
  if (steps > MAX_EPOCH_SKIP) throw new ZeqKeyExError('record_too_far_ahead');
  let passed: Uint8Array | undefined;
  let key = rekey(current.key);
  for (let step = 1; step < steps; step++) {
    const next = rekey(key);
    wipe(passed);
    passed = key;
    key = next;
  }
  return { kind: 'ahead', from: current, epoch, key, passed };
}

/** Wipes the keys {@link locateKey} computed on the side, for a record that is refused. */
function discardKeys(found: Located): void {
  if (found.kind === 'ahead') wipe(found.key, found.passed);
}

/**
 * The receiver's last step, once the record opened under the key {@link locateKey} found (in the
 * same synchronous run, so that the state is still the one it looked at): the replay window, then
 * the commit — marks the seq; for a later epoch (whose window is empty), makes it current and
 * `epoch − 1` the previous one (with its window when it was the current epoch, empty when it was
 * only passed through), and wipes every other key passed. A record the window refuses changes
 * nothing (only a record of an epoch already held can be refused here: a later epoch's window is
 * empty, so no key computed on the side is left behind).
 * @param state - the receiver's state.
 * @param found - what `locateKey` returned.
 * @param seq - the record's seq.
 * @param at - the time `locateKey` was given.
 * @param intervalMs - the grace window of the previous epoch.
 * @throws {ZeqKeyExError} `record_replayed`, `record_too_old` (a seq below the window).
 */
function admitRecord(
  state: ReceiverState,
  found: Located,
  seq: number,
  at: number,
  intervalMs: number,
): void {
  if (found.kind === 'held') {
    checkWindow(found.held, seq);
    markSeen(found.held, seq);
    return;
  }
  dropPrevious(state);
  if (found.passed === undefined) {
    state.previous = found.from;
  } else {
    retire(found.from);
    state.previous = receiverEpoch(found.epoch - 1, found.passed);
  }
  state.previousUntil = at + intervalMs;
  state.current = receiverEpoch(found.epoch, found.key);
  markSeen(state.current, seq);
}

/**
 * Creates the receiver of one direction over its state.
 * @param state - where it starts; taken over: the receiver changes it, and wipes each key it no
 *   longer needs.
 * @param sessionId - the session id bound into every record's AAD.
 * @param options - interval and clock.
 * @returns the receiver.
 * @throws {TypeError} for a session id that is not a string or a clock that is not a function.
 * @throws {RangeError} for an interval out of range.
 */
export function createRecordReceiver(
  state: ReceiverState,
  sessionId: string,
  options: RatchetOptions = {},
): RecordReceiver {
  assertSessionId(sessionId);
  const { intervalMs, now } = parseOptions(options);

  const receiver: RecordReceiver = {
    open(record: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
      if (state.current === undefined) throw new ZeqKeyExError('session_closed');
      assertBytes(aad, 'aad');
      const { epoch, seq } = parseRecordHeader(record);
      const at = now();
      const found = locateKey(state, epoch, at);
      let plaintext: Uint8Array;
      try {
        plaintext = openRecord(found.key, sessionId, record, aad);
      } catch (error) {
        discardKeys(found);
        throw error;
      }
      try {
        admitRecord(state, found, seq, at, intervalMs);
      } catch (error) {
        plaintext.fill(0);
        throw error;
      }
      return plaintext;
    },
    async openAsync(record: Uint8Array, aad: Uint8Array = EMPTY): Promise<Uint8Array> {
      // Without an asynchronous AES-GCM (the Node build), the synchronous open is the fast one.
      const keyOf = aeadKeyAsync;
      if (keyOf === undefined) return receiver.open(record, aad);
      if (state.current === undefined) throw new ZeqKeyExError('session_closed');
      assertBytes(aad, 'aad');
      const { epoch, seq } = parseRecordHeader(record);
      // 1. The key, after the checks of `open` before its AEAD; nothing is committed. A later
      //    epoch's key gets an asynchronous key for this record only, which copies it: the computed
      //    keys are wiped now.
      const found = locateKey(state, epoch, now());
      const key =
        found.kind === 'held' ? (found.held.asyncKey ??= keyOf(found.key)) : keyOf(found.key);
      discardKeys(found);
      // 2. The decryption (the record and AAD are read before the first await).
      let plaintext: Uint8Array;
      try {
        plaintext = await openRecordAsync(key, sessionId, record, aad);
      } finally {
        if (found.kind === 'ahead') key.forget();
      }
      // 3. The replay window and the commit, against the state as it is now: the record opened
      //    under its epoch's key, which the chain determines, so only the window, the epochs and the
      //    session may have moved (of two concurrent opens of one record, the second is refused).
      try {
        const at = now();
        admitRecord(state, locateKey(state, epoch, at), seq, at, intervalMs);
      } catch (error) {
        plaintext.fill(0);
        throw error;
      }
      return plaintext;
    },
    wipe(): void {
      dropPrevious(state);
      if (state.current !== undefined) retire(state.current);
      state.current = undefined;
    },
  };
  return Object.freeze(receiver);
}

function assertKey(key: unknown): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== 32)
    throw new TypeError('a record key is 32 bytes');
}

/**
 * Creates both directions of a session for one side, each starting at epoch 0. The traffic keys
 * are derived from `recordKey` and `sessionId` now (spec §3, revision 2: bound to the session);
 * `recordKey` itself is neither kept nor modified.
 * @param recordKey - the §2.2 record key.
 * @param sessionId - the session id.
 * @param role - `'initiator'` (seals i2r, opens r2i) or `'responder'` (seals r2i, opens i2r).
 * @param options - interval and clock.
 * @returns the channel.
 * @throws {TypeError} for a record key that is not 32 bytes, an unknown role, a session id that is
 *   not a string or a clock that is not a function.
 * @throws {RangeError} for an interval out of range.
 * @example
 * ```ts
 * const initiator = createRecordChannel(recordKey, sessionId, 'initiator');
 * const responder = createRecordChannel(recordKey, sessionId, 'responder');
 * responder.open(initiator.seal(utf8('hello'))); // → 'hello'
 * ```
 */
export function createRecordChannel(
  recordKey: Uint8Array,
  sessionId: string,
  role: Role,
  options: RatchetOptions = {},
): RecordChannel {
  assertKey(recordKey);
  if (role !== 'initiator' && role !== 'responder')
    throw new TypeError('role must be "initiator" or "responder"');
  // Every check before any key is derived.
  const { now } = parseOptions(options);
  assertSessionId(sessionId);
  const sending: Direction = role === 'initiator' ? 'i2r' : 'r2i';
  const receiving: Direction = role === 'initiator' ? 'r2i' : 'i2r';
  const sendKey = deriveTrafficKey(recordKey, sessionId, sending);
  const sender = createRecordSender(
    // Stryker disable next-line BooleanLiteral: `exhausted: true` is equivalent: the flag is read only once the key is gone, which only `wipe()` (resets it) or the exhaustion of the last epoch (sets it) do.
    { epoch: 0, seq: 0, startedAt: now(), key: sendKey, asyncKey: undefined, exhausted: false },
    sessionId,
    options,
  );
  const receiveKey = deriveTrafficKey(recordKey, sessionId, receiving);
  const receiver = createRecordReceiver(
    { current: receiverEpoch(0, receiveKey), previous: undefined, previousUntil: 0 },
    sessionId,
    options,
  );
  return Object.freeze({
    seal: sender.seal,
    open: receiver.open,
    sealAsync: sender.sealAsync,
    openAsync: receiver.openAsync,
    wipe(): void {
      sender.wipe();
      receiver.wipe();
    },
  });
}

/**
 * The record calls of a channel that a session holds, each reaching it through `live`, which
 * checks that the session is still usable. `wipe` is left out: it stays with the session that
 * owns the keys. Errors of the asynchronous calls, `live`'s included, are rejections.
 * @param live - returns the session's channel, or throws (`session_closed`).
 * @returns the four calls of {@link RecordChannel}.
 */
export function recordCallsVia(live: () => RecordChannel): Omit<RecordChannel, 'wipe'> {
  return {
    seal: (plaintext: Uint8Array, aad?: Uint8Array): Uint8Array => live().seal(plaintext, aad),
    open: (record: Uint8Array, aad?: Uint8Array): Uint8Array => live().open(record, aad),
    sealAsync: async (plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> =>
      live().sealAsync(plaintext, aad),
    openAsync: async (record: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> =>
      live().openAsync(record, aad),
  };
}
