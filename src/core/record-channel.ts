/**
 * The record ratchet of spec §3: per-direction sender and receiver state over the stateless
 * primitives of `records.ts`, and a two-way {@link RecordChannel} for one side of a session.
 *
 * Sender: `seq` counts from 0 in each epoch; before sealing, the sender moves to the next epoch
 * (seq 0) when the current one is older than the rekey interval or has sealed 2^32 records, and
 * wipes the old key. It cannot move past epoch 2^32−1: from then on it throws `session_exhausted`.
 *
 * Receiver: accepts the current epoch, the previous one until one interval after the switch, and
 * later epochs up to 1024 ahead. A later epoch's key is computed on the side and committed only
 * once the record opens under it; the keys passed on the way are wiped. Each epoch has a sliding
 * replay window of 1024 sequence numbers (a 128-byte bitmap, allocated on the first record the
 * epoch accepts).
 *
 * Security caveats:
 * - A rejected record changes no state. The only change an `open` call makes without accepting a
 *   record depends on the clock alone: a previous epoch whose grace window has passed is wiped.
 * - Keys are deleted lazily: without timers, the sender wipes an expired epoch's key when it next
 *   seals, and the receiver its previous key when it is next used. Call `wipe()` when done.
 * - AES-GCM needs a unique `(epoch, seq)` per key. One sender object per direction and session
 *   guarantees it; two senders built from the same record key (two processes, or state rebuilt
 *   after a restart) would reuse nonces. Never rebuild a sender for a session that already sealed.
 * @module
 */
import { DEFAULT_REKEY_INTERVAL_MS, MAX_EPOCH, MAX_EPOCH_SKIP, MAX_RECORDS_PER_EPOCH, REPLAY_WINDOW } from './constants.js';
import { ZeqKeyExError } from './errors.js';
import type { AsyncAeadKey } from '../backends/aead-backend.js';
import { aeadKeyAsync } from '../backends/platform.js';
import { type Direction, deriveTrafficKey, openRecord, openRecordAsync, parseRecordHeader, rekey, sealRecord, sealRecordAsync } from './record-format.js';
import { wipe } from './primitives.js';

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

/** The sending half of one direction. */
export interface RecordSender {
  /** The epoch of the next record (before any ratchet that record causes). */
  readonly epoch: number;
  /** The sequence number the next record gets in the current epoch. */
  readonly seq: number;
  /**
   * Seals one record, ratcheting first when the epoch is too old or full.
   * @param plaintext - the message.
   * @param aad - application associated data (both sides must use the same).
   * @returns the record.
   * @throws {ZeqKeyExError} `session_exhausted` past epoch 2^32−1; `session_closed` after `wipe()`.
   */
  seal(plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  /**
   * {@link RecordSender.seal}, through the platform's asynchronous AES-GCM (WebCrypto in the
   * portable build): the same record bytes. The sequence number is taken when it is called, so
   * records sealed concurrently never share one.
   */
  sealAsync(plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;
  /** Wipes the key; the sender is unusable afterwards. */
  wipe(): void;
}

/** The receiving half of one direction. */
export interface RecordReceiver {
  /** The receiver's current epoch. */
  readonly epoch: number;
  /**
   * Opens one record.
   * @param record - the record.
   * @param aad - application associated data (both sides must use the same).
   * @returns the plaintext.
   * @throws {ZeqKeyExError} `record_malformed`, `record_unsupported_version`, `record_auth_failed`,
   *   `record_replayed`, `record_too_old`, `record_too_far_ahead`; `session_closed` after `wipe()`.
   */
  open(record: Uint8Array, aad?: Uint8Array): Uint8Array;
  /**
   * {@link RecordReceiver.open}, through the platform's asynchronous AES-GCM: the same checks, in
   * the same order, and the record is accepted (its seq marked, a later epoch committed) only once
   * it has opened — checked again then, so that of two concurrent opens of one record, one
   * is refused with `record_replayed`.
   */
  openAsync(record: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;
  /** Wipes every key; the receiver is unusable afterwards. */
  wipe(): void;
}

/** Which end of the session a channel is: it seals its own direction and opens the other. */
export type Role = 'initiator' | 'responder';

/** Both directions of a session, seen from one side. */
export interface RecordChannel {
  /**
   * Seals a record in this side's direction (i2r for the initiator, r2i for the responder).
   * @throws {ZeqKeyExError} `session_exhausted`, `session_closed`.
   */
  seal(plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  /**
   * Opens a record of the other direction.
   * @throws {ZeqKeyExError} the codes of {@link RecordReceiver.open}.
   */
  open(record: Uint8Array, aad?: Uint8Array): Uint8Array;
  /** {@link RecordChannel.seal} through the asynchronous AES-GCM ({@link RecordSender.sealAsync}). */
  sealAsync(plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;
  /** {@link RecordChannel.open} through the asynchronous AES-GCM ({@link RecordReceiver.openAsync}). */
  openAsync(record: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;
  /** Wipes both directions' keys. */
  wipe(): void;
}

const EMPTY = /* @__PURE__ */ new Uint8Array(0);
const WINDOW_WORDS = REPLAY_WINDOW / 32;
/** 2^31 − 1 ms: the longest delay timers accept. */
const MAX_INTERVAL_MS = 0x7fff_ffff;

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
  const intervalMs = options.rekeyIntervalMs ?? DEFAULT_REKEY_INTERVAL_MS;
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1 || intervalMs > MAX_INTERVAL_MS) throw new RangeError('rekeyIntervalMs must be an integer in [1, 2^31 - 1]');
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
  return { rekeyIntervalMs: intervalMs, ...(options.now === undefined ? {} : { now: options.now }) };
}

function assertKey(key: unknown): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new TypeError('a traffic key is 32 bytes');
}

function assertBytes(value: unknown, name: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
}

function assertStart(epoch: number, seq: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) throw new RangeError('epoch must be an integer in [0, 2^32)');
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_RECORDS_PER_EPOCH) throw new RangeError('seq must be an integer in [0, 2^32]');
}

/** What the test seam {@link ratchetState} shows of a sender. */
export interface SenderState {
  readonly kind: 'sender';
  readonly epoch: number;
  readonly seq: number;
  readonly startedAt: number;
  readonly key: Uint8Array | undefined;
  readonly exhausted: boolean;
}

/** One epoch as a receiver keeps it. */
export interface EpochState {
  readonly epoch: number;
  readonly key: Uint8Array;
  /** The highest seq accepted in this epoch, or -1. */
  readonly top: number;
  /** Bit `s mod 1024` is set when seq `s` (within the window below `top`) was accepted. */
  readonly bits: Uint32Array | undefined;
}

/** What the test seam {@link ratchetState} shows of a receiver. */
export interface ReceiverState {
  readonly kind: 'receiver';
  readonly current: EpochState | undefined;
  readonly previous: EpochState | undefined;
  readonly previousUntil: number;
}

const inspectors = new WeakMap<object, () => SenderState | ReceiverState>();

/**
 * Test seam: the live internal state of a sender or receiver, key buffers included (by reference,
 * so a test can check that a passed key was zeroed). Not part of the public entries.
 * @param ratchet - a sender or receiver made by this module.
 * @returns its state.
 * @throws {TypeError} for anything else.
 */
export function ratchetState(ratchet: RecordSender | RecordReceiver): SenderState | ReceiverState {
  const inspect = inspectors.get(ratchet);
  if (inspect === undefined) throw new TypeError('not a ratchet of this module');
  return inspect();
}

/** Where a sender starts (test seam and internal use). */
export interface SenderStart {
  /** The epoch of the given key. @defaultValue 0 */
  epoch?: number;
  /** The next seq, up to 2^32 (a full epoch). @defaultValue 0 */
  seq?: number;
}

/**
 * Creates the sender of one direction.
 * @param trafficKey - the key of the starting epoch (`k[0]` from {@link deriveTrafficKey}); taken
 *   over, not copied, and wiped when the sender moves past it.
 * @param sessionId - the session id bound into every record's AAD.
 * @param options - interval and clock.
 * @param start - where to start; epoch 0, seq 0 unless a test constructs a state near the limits.
 * @returns the sender; its first epoch starts now.
 * @throws {TypeError} for a key that is not 32 bytes, a session id that is not a string.
 * @throws {RangeError} for options or a start out of range.
 */
export function createRecordSender(trafficKey: Uint8Array, sessionId: string, options: RatchetOptions = {}, start: SenderStart = {}): RecordSender {
  assertKey(trafficKey);
  if (typeof sessionId !== 'string') throw new TypeError('sessionId must be a string');
  const { intervalMs, now } = parseOptions(options);
  let epoch = start.epoch ?? 0;
  let seq = start.seq ?? 0;
  assertStart(epoch, seq);
  let key: Uint8Array | undefined = trafficKey;
  /** The current key for asynchronous sealing, made on the first `sealAsync` of the epoch. */
  let asyncKey: AsyncAeadKey | undefined;
  let startedAt = now();
  let exhausted = false;

  function dropKey(): void {
    asyncKey?.forget();
    asyncKey = undefined;
    wipe(key);
    key = undefined;
  }

  /** The checks of a seal, and the ratchet when it is due: the key of the next record. */
  function nextKey(plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    if (key === undefined && !exhausted) throw new ZeqKeyExError('session_closed');
    if (exhausted || key === undefined) throw new ZeqKeyExError('session_exhausted');
    assertBytes(plaintext, 'plaintext');
    assertBytes(aad, 'aad');
    const at = now();
    if (seq >= MAX_RECORDS_PER_EPOCH || at - startedAt > intervalMs) {
      if (epoch >= MAX_EPOCH) {
        // §3: epoch 2^32−1 exhausted ends the session; its last key is of no further use.
        exhausted = true;
        dropKey();
        throw new ZeqKeyExError('session_exhausted');
      }
      const next = rekey(key);
      dropKey();
      key = next;
      epoch += 1;
      seq = 0;
      startedAt = at;
    }
    return key;
  }

  const sender: RecordSender = {
    get epoch(): number {
      return epoch;
    },
    get seq(): number {
      return seq;
    },
    seal(plaintext: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
      const current = nextKey(plaintext, aad);
      // Synchronous from here to the increment: no other seal can take this seq.
      const record = sealRecord(current, sessionId, epoch, seq, plaintext, aad);
      seq += 1;
      return record;
    },
    // Not `async`: the seq is taken, and the inputs read, before it returns.
    sealAsync(plaintext: Uint8Array, aad: Uint8Array = EMPTY): Promise<Uint8Array> {
      try {
        // Without an asynchronous AES-GCM (the Node build), the synchronous seal is the fast one.
        if (aeadKeyAsync === undefined) return Promise.resolve(sender.seal(plaintext, aad));
        const current = nextKey(plaintext, aad);
        const sealing = sealRecordAsync((asyncKey ??= aeadKeyAsync(current)), sessionId, epoch, seq, plaintext, aad);
        seq += 1;
        return sealing;
      } catch (error) {
        return Promise.reject(error);
      }
    },
    wipe(): void {
      dropKey();
      exhausted = false;
    },
  };
  inspectors.set(sender, () => ({ kind: 'sender', epoch, seq, startedAt, key, exhausted }));
  return Object.freeze(sender);
}

interface MutableEpoch {
  epoch: number;
  key: Uint8Array;
  top: number;
  bits: Uint32Array | undefined;
  /** The key for asynchronous opening, made on the epoch's first `openAsync`. */
  asyncKey?: AsyncAeadKey | undefined;
}

/** Wipes an epoch's key, and lets go of its asynchronous key. */
function retire(state: MutableEpoch): void {
  state.asyncKey?.forget();
  state.asyncKey = undefined;
  wipe(state.key);
}

/** Thrown by the decryption step of a dry run of `accept`, which only finds the record's key. */
const FOUND = /* @__PURE__ */ Symbol('found');

/** Whether `seq` may still be accepted in `state`: throws the reason it may not. */
function checkWindow(state: MutableEpoch, seq: number): void {
  if (state.top < 0 || seq > state.top) return;
  if (seq + REPLAY_WINDOW <= state.top) throw new ZeqKeyExError('record_too_old');
  const bits = state.bits;
  const slot = seq % REPLAY_WINDOW;
  if (bits !== undefined && ((bits[slot >>> 5] as number) & (1 << (slot & 31))) !== 0) throw new ZeqKeyExError('record_replayed');
}

/** Marks `seq` accepted in `state`, sliding the window forward when `seq` is the new top. */
function markSeen(state: MutableEpoch, seq: number): void {
  const bits = (state.bits ??= new Uint32Array(WINDOW_WORDS));
  if (seq > state.top) {
    if (state.top < 0 || seq - state.top >= REPLAY_WINDOW) {
      bits.fill(0);
    } else {
      // Clear the slots of the seqs the window slides over (state.top + 1 … seq).
      for (let s = state.top + 1; s <= seq; s++) {
        const slot = s % REPLAY_WINDOW;
        bits[slot >>> 5] = (bits[slot >>> 5] as number) & ~(1 << (slot & 31));
      }
    }
    state.top = seq;
  }
  const slot = seq % REPLAY_WINDOW;
  bits[slot >>> 5] = (bits[slot >>> 5] as number) | (1 << (slot & 31));
}

function freeze(state: MutableEpoch | undefined): EpochState | undefined {
  return state === undefined ? undefined : { epoch: state.epoch, key: state.key, top: state.top, bits: state.bits };
}

/**
 * Creates the receiver of one direction.
 * @param trafficKey - the key of the starting epoch (`k[0]`); taken over, not copied, and wiped
 *   when the receiver no longer needs it.
 * @param sessionId - the session id bound into every record's AAD.
 * @param options - interval and clock.
 * @param startEpoch - the epoch of `trafficKey`; 0 unless a test constructs a state near the limits.
 * @returns the receiver.
 * @throws {TypeError} for a key that is not 32 bytes, a session id that is not a string.
 * @throws {RangeError} for options or an epoch out of range.
 */
export function createRecordReceiver(trafficKey: Uint8Array, sessionId: string, options: RatchetOptions = {}, startEpoch = 0): RecordReceiver {
  assertKey(trafficKey);
  if (typeof sessionId !== 'string') throw new TypeError('sessionId must be a string');
  const { intervalMs, now } = parseOptions(options);
  assertStart(startEpoch, 0);
  let current: MutableEpoch | undefined = { epoch: startEpoch, key: trafficKey, top: -1, bits: undefined };
  let previous: MutableEpoch | undefined;
  let previousUntil = 0;

  function dropPrevious(): void {
    if (previous !== undefined) retire(previous);
    previous = undefined;
  }

  /**
   * Everything `open` does once the header is parsed, with the AEAD step given: `decrypt(key,
   * state)` opens the record under the key of its epoch (`state` is the epoch's, or `undefined`
   * for a later epoch's key computed on the side) or throws. The window is checked before it and
   * the record accepted after it.
   */
  function accept(epoch: number, seq: number, decrypt: (key: Uint8Array, state: MutableEpoch | undefined) => Uint8Array): Uint8Array {
    if (current === undefined) throw new ZeqKeyExError('session_closed');
    const at = now();
    // Housekeeping that depends on the clock alone, not on this record.
    if (previous !== undefined && at - previousUntil > 0) dropPrevious();

    if (epoch === current.epoch) return openIn(current, seq, decrypt);
    if (epoch < current.epoch) {
      if (previous !== undefined && epoch === previous.epoch) return openIn(previous, seq, decrypt);
      throw new ZeqKeyExError('record_too_old');
    }
    const steps = epoch - current.epoch;
    if (steps > MAX_EPOCH_SKIP) throw new ZeqKeyExError('record_too_far_ahead');

    // A candidate chain, computed on the side: nothing is committed unless the record opens.
    let before = current.key;
    let candidate = rekey(before);
    for (let i = 1; i < steps; i++) {
      const next = rekey(candidate);
      if (before !== current.key) wipe(before);
      before = candidate;
      candidate = next;
    }
    let plaintext: Uint8Array;
    try {
      plaintext = decrypt(candidate, undefined);
    } catch (error) {
      wipe(candidate);
      if (before !== current.key) wipe(before);
      throw error;
    }
    // Commit: epoch e becomes current, e − 1 the previous one (with its window when it was the
    // current epoch; empty when it was only passed through), every other passed key is wiped.
    dropPrevious();
    if (steps === 1) {
      previous = current;
    } else {
      retire(current);
      previous = { epoch: epoch - 1, key: before, top: -1, bits: undefined };
    }
    previousUntil = at + intervalMs;
    current = { epoch, key: candidate, top: -1, bits: undefined };
    markSeen(current, seq);
    return plaintext;
  }

  function openIn(state: MutableEpoch, seq: number, decrypt: (key: Uint8Array, state: MutableEpoch) => Uint8Array): Uint8Array {
    checkWindow(state, seq);
    const plaintext = decrypt(state.key, state);
    markSeen(state, seq);
    return plaintext;
  }

  const receiver: RecordReceiver = {
    get epoch(): number {
      return current?.epoch ?? 0;
    },
    open(record: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
      if (current === undefined) throw new ZeqKeyExError('session_closed');
      assertBytes(aad, 'aad');
      const { epoch, seq } = parseRecordHeader(record);
      return accept(epoch, seq, (key) => openRecord(key, sessionId, record, aad));
    },
    async openAsync(record: Uint8Array, aad: Uint8Array = EMPTY): Promise<Uint8Array> {
      // Without an asynchronous AES-GCM (the Node build), the synchronous open is the fast one.
      const keyOf = aeadKeyAsync;
      if (keyOf === undefined) return receiver.open(record, aad);
      if (current === undefined) throw new ZeqKeyExError('session_closed');
      assertBytes(aad, 'aad');
      const { epoch, seq } = parseRecordHeader(record);
      // 1. A dry run: the same checks as `open` up to the decryption, which only finds the key
      //    (the epoch's own asynchronous key, or a copy of a later epoch's computed on the side).
      let found: { key: AsyncAeadKey; copy?: Uint8Array } | undefined;
      try {
        accept(epoch, seq, (key, state) => {
          if (state !== undefined) {
            found = { key: (state.asyncKey ??= keyOf(state.key)) };
          } else {
            const copy = key.slice();
            found = { key: keyOf(copy), copy };
          }
          throw FOUND;
        });
      } catch (error) {
        if (error !== FOUND) throw error;
      }
      if (found === undefined) throw new ZeqKeyExError('record_auth_failed');
      // 2. The decryption (the record and AAD are read before the first await).
      let plaintext: Uint8Array;
      try {
        plaintext = await openRecordAsync(found.key, sessionId, record, aad);
      } finally {
        if (found.copy !== undefined) {
          found.key.forget();
          wipe(found.copy);
        }
      }
      // 3. Accepted against the state as it is now: the record opened under its epoch's key, which
      //    the chain determines, so only the window, the epochs and the session may have moved.
      try {
        return accept(epoch, seq, () => plaintext);
      } catch (error) {
        plaintext.fill(0);
        throw error;
      }
    },
    wipe(): void {
      dropPrevious();
      if (current !== undefined) retire(current);
      current = undefined;
    },
  };
  inspectors.set(receiver, () => ({ kind: 'receiver', current: freeze(current), previous: freeze(previous), previousUntil }));
  return Object.freeze(receiver);
}

/**
 * Creates both directions of a session for one side. The traffic keys are derived from
 * `recordKey` now; `recordKey` itself is neither kept nor modified.
 * @param recordKey - the §2.2 record key.
 * @param sessionId - the session id.
 * @param role - `'initiator'` (seals i2r, opens r2i) or `'responder'` (seals r2i, opens i2r).
 * @param options - interval and clock.
 * @returns the channel.
 * @throws {TypeError} for a record key that is not 32 bytes or an unknown role.
 * @throws {RangeError} for options out of range.
 * @example
 * ```ts
 * const initiator = createRecordChannel(recordKey, sessionId, 'initiator');
 * const responder = createRecordChannel(recordKey, sessionId, 'responder');
 * responder.open(initiator.seal(utf8('hello'))); // → 'hello'
 * ```
 */
export function createRecordChannel(recordKey: Uint8Array, sessionId: string, role: Role, options: RatchetOptions = {}): RecordChannel {
  assertKey(recordKey);
  if (role !== 'initiator' && role !== 'responder') throw new TypeError('role must be "initiator" or "responder"');
  parseOptions(options);
  const sending: Direction = role === 'initiator' ? 'i2r' : 'r2i';
  const receiving: Direction = role === 'initiator' ? 'r2i' : 'i2r';
  const sender = createRecordSender(deriveTrafficKey(recordKey, sending), sessionId, options);
  const receiver = createRecordReceiver(deriveTrafficKey(recordKey, receiving), sessionId, options);
  return Object.freeze({
    seal: (plaintext: Uint8Array, aad?: Uint8Array): Uint8Array => sender.seal(plaintext, aad),
    open: (record: Uint8Array, aad?: Uint8Array): Uint8Array => receiver.open(record, aad),
    sealAsync: (plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> => sender.sealAsync(plaintext, aad),
    openAsync: (record: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> => receiver.openAsync(record, aad),
    wipe(): void {
      sender.wipe();
      receiver.wipe();
    },
  });
}
