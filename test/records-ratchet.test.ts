/**
 * The record ratchet of spec §3 with a fake clock: the sender's epoch moves after the rekey
 * interval or 2^32 records and wipes the old key; exhaustion of epoch 2^32−1; the receiver follows
 * up to 1024 epochs ahead and refuses 1025, keeps the previous epoch for one interval, wipes the
 * keys it passes, and keeps a replay window of 1024 per epoch. States near the limits are built
 * through the test seam `src/internal/record-state.ts`, never by sealing 2^32 records; no other
 * module of `src/` imports that seam.
 */
import { describe, expect, test } from 'vitest';
import {
  DEFAULT_REKEY_INTERVAL_MS,
  MAX_EPOCH,
  MAX_EPOCH_SKIP,
  MAX_RECORDS_PER_EPOCH,
  REPLAY_WINDOW,
} from '../src/core/constants.js';
import {
  type RecordChannel,
  createRecordChannel,
  recordCallsVia,
} from '../src/core/record-channel.js';
import {
  createReceiverAt,
  createSenderAt,
  receiverState,
  senderState,
} from '../src/internal/record-state.js';
import { ZeqKeyExError } from '../src/core/errors.js';
import { rekey, sealRecord } from '../src/core/record-format.js';
import { expectCode, expectCodeAsync } from './helpers/errors.js';
import { fakeClock, headerOf, keyAt, snapshot, text, utf8 } from './helpers/records.js';
import { toHex } from './helpers/vectors.js';

const SID = 'ratchet-session-0001';
const RECORD_KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const INTERVAL = DEFAULT_REKEY_INTERVAL_MS;

const zeroed = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

/** A record of `epoch`/`seq` sealed directly under k_i2r[epoch] (a sender at any position). */
function i2rRecord(epoch: number, seq: number, message = `e${epoch} s${seq}`): Uint8Array {
  return sealRecord(keyAt(RECORD_KEY, SID, 'i2r', epoch), SID, epoch, seq, utf8(message));
}

function newReceiver(
  clock = fakeClock(),
  intervalMs = INTERVAL,
): ReturnType<typeof createReceiverAt> {
  return createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, {
    now: clock.now,
    rekeyIntervalMs: intervalMs,
  });
}

describe('sender', () => {
  test('the default rekey interval is 777 ms', () => {
    expect(DEFAULT_REKEY_INTERVAL_MS).toBe(777);
    const clock = fakeClock();
    const sender = createSenderAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, { now: clock.now });
    sender.seal(utf8('a'));
    clock.advance(777);
    expect(headerOf(sender.seal(utf8('b')))).toEqual({ epoch: 0, seq: 1 });
    clock.advance(1);
    expect(headerOf(sender.seal(utf8('c')))).toEqual({ epoch: 1, seq: 0 });
  });

  test('ratchets before sealing once the epoch is older than the interval, wiping the old key', () => {
    const clock = fakeClock();
    const k0 = keyAt(RECORD_KEY, SID, 'i2r', 0);
    const sender = createSenderAt(k0, SID, { now: clock.now, rekeyIntervalMs: 100 });
    const seen: { epoch: number; seq: number }[] = [];
    for (let i = 0; i < 3; i++) seen.push(headerOf(sender.seal(utf8(`${i}`))));
    expect(seen).toEqual([
      { epoch: 0, seq: 0 },
      { epoch: 0, seq: 1 },
      { epoch: 0, seq: 2 },
    ]);
    expect(zeroed(k0)).toBe(false);
    clock.advance(101);
    const record = sender.seal(utf8('next epoch'));
    expect(headerOf(record)).toEqual({ epoch: 1, seq: 0 });
    expect(zeroed(k0)).toBe(true);
    expect(toHex(senderState(sender).key as Uint8Array)).toBe(
      toHex(keyAt(RECORD_KEY, SID, 'i2r', 1)),
    );
    // The new epoch's clock started at that seal: one more interval before epoch 2.
    clock.advance(100);
    expect(headerOf(sender.seal(utf8('x')))).toEqual({ epoch: 1, seq: 1 });
    clock.advance(1);
    expect(headerOf(sender.seal(utf8('y')))).toEqual({ epoch: 2, seq: 0 });
    // A long idle period moves one epoch, not one per interval elapsed.
    clock.advance(100 * 50);
    expect(headerOf(sender.seal(utf8('z')))).toEqual({ epoch: 3, seq: 0 });
  });

  test('ratchets after 2^32 records in an epoch (state built at seq 2^32 − 1)', () => {
    const clock = fakeClock();
    const k5 = keyAt(RECORD_KEY, SID, 'i2r', 5);
    const sender = createSenderAt(
      k5,
      SID,
      { now: clock.now },
      { epoch: 5, seq: MAX_RECORDS_PER_EPOCH - 1 },
    );
    const last = sender.seal(utf8('last of epoch 5'));
    expect(headerOf(last)).toEqual({ epoch: 5, seq: MAX_RECORDS_PER_EPOCH - 1 });
    expect(zeroed(k5)).toBe(false);
    const first = sender.seal(utf8('first of epoch 6'));
    expect(headerOf(first)).toEqual({ epoch: 6, seq: 0 });
    expect(zeroed(k5)).toBe(true);
    const receiver = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 5), SID, { now: clock.now }, 5);
    expect(text(receiver.open(last))).toBe('last of epoch 5');
    expect(text(receiver.open(first))).toBe('first of epoch 6');
  });

  test('epoch 2^32 − 1 exhausted by count ends the session: session_exhausted, key wiped', () => {
    const clock = fakeClock();
    const key = keyAt(RECORD_KEY, SID, 'i2r', 3); // any key: the position is what is tested
    const sender = createSenderAt(
      key,
      SID,
      { now: clock.now },
      { epoch: MAX_EPOCH, seq: MAX_RECORDS_PER_EPOCH - 2 },
    );
    expect(headerOf(sender.seal(utf8('a')))).toEqual({
      epoch: MAX_EPOCH,
      seq: MAX_RECORDS_PER_EPOCH - 2,
    });
    expect(headerOf(sender.seal(utf8('b')))).toEqual({
      epoch: MAX_EPOCH,
      seq: MAX_RECORDS_PER_EPOCH - 1,
    });
    expectCode(() => sender.seal(utf8('c')), 'session_exhausted');
    expect(zeroed(key)).toBe(true);
    expect(senderState(sender)).toMatchObject({ exhausted: true, key: undefined });
    expectCode(() => sender.seal(utf8('d')), 'session_exhausted');
    sender.wipe();
    expectCode(() => sender.seal(utf8('e')), 'session_closed');
  });

  test('epoch 2^32 − 1 past its interval cannot move on either: session_exhausted', () => {
    const clock = fakeClock();
    const sender = createSenderAt(
      keyAt(RECORD_KEY, SID, 'i2r', 0),
      SID,
      { now: clock.now },
      { epoch: MAX_EPOCH },
    );
    expect(headerOf(sender.seal(utf8('a')))).toEqual({ epoch: MAX_EPOCH, seq: 0 });
    clock.advance(INTERVAL + 1);
    expectCode(() => sender.seal(utf8('b')), 'session_exhausted');
  });

  test('the epoch before the last one still moves to the last one', () => {
    const clock = fakeClock();
    const sender = createSenderAt(
      keyAt(RECORD_KEY, SID, 'i2r', 0),
      SID,
      { now: clock.now },
      { epoch: MAX_EPOCH - 1, seq: MAX_RECORDS_PER_EPOCH },
    );
    expect(headerOf(sender.seal(utf8('a')))).toEqual({ epoch: MAX_EPOCH, seq: 0 });
  });

  test('a seal that throws for bad input consumes no sequence number', () => {
    const sender = createSenderAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, { now: fakeClock().now });
    expect(() => sender.seal('text' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => sender.seal(utf8('x'), 'aad' as unknown as Uint8Array)).toThrow(TypeError);
    expect(headerOf(sender.seal(utf8('x')))).toEqual({ epoch: 0, seq: 0 });
  });

  test('wipe() zeroes the key and refuses further seals', () => {
    const key = keyAt(RECORD_KEY, SID, 'i2r', 0);
    const sender = createSenderAt(key, SID, { now: fakeClock().now });
    sender.seal(utf8('x'));
    sender.wipe();
    expect(zeroed(key)).toBe(true);
    expectCode(() => sender.seal(utf8('y')), 'session_closed');
  });
});

describe('receiver: epochs', () => {
  test('follows a gap of exactly 1024 epochs, wiping the key it leaves', () => {
    const clock = fakeClock();
    const receiver = newReceiver(clock);
    const k0 = receiverState(receiver).current?.key as Uint8Array;
    expect(text(receiver.open(i2rRecord(0, 0)))).toBe('e0 s0');
    expect(MAX_EPOCH_SKIP).toBe(1024);
    expect(text(receiver.open(i2rRecord(1024, 0)))).toBe('e1024 s0');
    expect(receiverState(receiver).current?.epoch).toBe(1024);
    expect(zeroed(k0)).toBe(true);
    const state = receiverState(receiver);
    expect(state.previous?.epoch).toBe(1023);
    expect(toHex(state.previous?.key as Uint8Array)).toBe(
      toHex(keyAt(RECORD_KEY, SID, 'i2r', 1023)),
    );
    // The epochs in between are gone for good.
    expectCode(() => receiver.open(i2rRecord(1022, 0)), 'record_too_old');
    expectCode(() => receiver.open(i2rRecord(0, 1)), 'record_too_old');
  });

  test('refuses a record 1025 epochs ahead, without changing anything', () => {
    const receiver = newReceiver();
    receiver.open(i2rRecord(0, 0));
    const before = snapshot(receiver);
    expectCode(() => receiver.open(i2rRecord(1025, 0)), 'record_too_far_ahead');
    expect(snapshot(receiver)).toBe(before);
    expect(receiverState(receiver).current?.epoch).toBe(0);
    // Relative to the current epoch: from epoch 10, 1034 is fine and 1035 is not.
    const clock = fakeClock();
    const at10 = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 10), SID, { now: clock.now }, 10);
    expectCode(() => at10.open(i2rRecord(1035, 0)), 'record_too_far_ahead');
    expect(text(at10.open(i2rRecord(1034, 0)))).toBe('e1034 s0');
  });

  test('a forged record of a later epoch commits nothing and leaves no key behind', () => {
    const receiver = newReceiver();
    const before = snapshot(receiver);
    const forged = i2rRecord(3, 0);
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
    expectCode(() => receiver.open(forged), 'record_auth_failed');
    expect(snapshot(receiver)).toBe(before);
    expect(text(receiver.open(i2rRecord(0, 0)))).toBe('e0 s0');
  });

  test('accepts the previous epoch during the grace window (one interval after the switch) and not after', () => {
    const clock = fakeClock();
    const receiver = newReceiver(clock);
    receiver.open(i2rRecord(0, 0));
    clock.advance(5000);
    receiver.open(i2rRecord(1, 0)); // the switch happens now
    const k0 = receiverState(receiver).previous?.key as Uint8Array;
    expect(zeroed(k0)).toBe(false);
    clock.advance(INTERVAL);
    expect(text(receiver.open(i2rRecord(0, 1)))).toBe('e0 s1'); // late, within the window
    expectCode(() => receiver.open(i2rRecord(0, 1)), 'record_replayed'); // the previous epoch keeps its window
    clock.advance(1);
    expectCode(() => receiver.open(i2rRecord(0, 2)), 'record_too_old');
    expect(zeroed(k0)).toBe(true); // the expired previous key was wiped
    expect(receiverState(receiver).previous).toBeUndefined();
    expect(text(receiver.open(i2rRecord(1, 1)))).toBe('e1 s1');
  });

  test('the grace window counts from the switch, not from the previous epoch’s first record', () => {
    const clock = fakeClock();
    const receiver = newReceiver(clock, 100);
    receiver.open(i2rRecord(0, 0));
    clock.advance(10_000);
    receiver.open(i2rRecord(2, 0));
    clock.advance(100);
    // Epoch 1 was only passed through; its records are accepted as the previous epoch.
    expect(text(receiver.open(i2rRecord(1, 7)))).toBe('e1 s7');
    clock.advance(1);
    expectCode(() => receiver.open(i2rRecord(1, 8)), 'record_too_old');
  });

  test('only one previous epoch is kept: two epochs back is too old', () => {
    const clock = fakeClock();
    const receiver = newReceiver(clock);
    receiver.open(i2rRecord(0, 0));
    receiver.open(i2rRecord(1, 0));
    const k0 = receiverState(receiver).previous?.key as Uint8Array;
    const k1 = receiverState(receiver).current?.key as Uint8Array;
    receiver.open(i2rRecord(2, 0));
    expect(zeroed(k0)).toBe(true);
    expect(zeroed(k1)).toBe(false); // epoch 1 is now the previous one
    expectCode(() => receiver.open(i2rRecord(0, 1)), 'record_too_old');
    expect(text(receiver.open(i2rRecord(1, 1)))).toBe('e1 s1');
  });

  test('wipe() zeroes current and previous keys and refuses further records', () => {
    const receiver = newReceiver();
    receiver.open(i2rRecord(0, 0));
    receiver.open(i2rRecord(1, 0));
    const { current, previous } = receiverState(receiver);
    receiver.wipe();
    expect(zeroed(current?.key as Uint8Array)).toBe(true);
    expect(zeroed(previous?.key as Uint8Array)).toBe(true);
    expectCode(() => receiver.open(i2rRecord(1, 1)), 'session_closed');
  });

  test('a receiver at epoch 2^32 − 2 follows to the last epoch', () => {
    const start = MAX_EPOCH - 1;
    const key = keyAt(RECORD_KEY, SID, 'i2r', 2); // stands in for k[2^32 − 2]
    const receiver = createReceiverAt(Uint8Array.from(key), SID, { now: fakeClock().now }, start);
    const next = sealRecord(rekey(key), SID, MAX_EPOCH, 0, utf8('last epoch'));
    expect(text(receiver.open(next))).toBe('last epoch');
    expect(receiverState(receiver).current?.epoch).toBe(MAX_EPOCH);
  });
});

describe('receiver: replay window', () => {
  test('REPLAY_WINDOW is at least the 1024 the spec asks for', () => {
    expect(REPLAY_WINDOW).toBeGreaterThanOrEqual(1024);
  });

  test('refuses a seq it accepted; accepts any unseen seq within 1024 below the highest; refuses older', () => {
    const receiver = newReceiver();
    receiver.open(i2rRecord(0, 2000));
    expectCode(() => receiver.open(i2rRecord(0, 2000)), 'record_replayed');
    expectCode(() => receiver.open(i2rRecord(0, 2000 - 1024)), 'record_too_old');
    expect(text(receiver.open(i2rRecord(0, 2000 - 1023)))).toBe(`e0 s${2000 - 1023}`);
    expectCode(() => receiver.open(i2rRecord(0, 2000 - 1023)), 'record_replayed');
    expect(text(receiver.open(i2rRecord(0, 1500)))).toBe('e0 s1500');
    expect(text(receiver.open(i2rRecord(0, 0 + 2001)))).toBe('e0 s2001');
  });

  test('slots reused after the window slides do not remember old seqs, and old seqs stay refused', () => {
    const receiver = newReceiver();
    receiver.open(i2rRecord(0, 10));
    receiver.open(i2rRecord(0, 10 + REPLAY_WINDOW)); // the same bitmap slot as seq 10
    expectCode(() => receiver.open(i2rRecord(0, 10)), 'record_too_old');
    expectCode(() => receiver.open(i2rRecord(0, 10 + REPLAY_WINDOW)), 'record_replayed');
    expect(text(receiver.open(i2rRecord(0, 11)))).toBe('e0 s11');
    // A jump of more than a window clears everything below.
    receiver.open(i2rRecord(0, 100_000));
    expect(text(receiver.open(i2rRecord(0, 100_000 - 1)))).toBe(`e0 s${100_000 - 1}`);
    expectCode(() => receiver.open(i2rRecord(0, 10 + REPLAY_WINDOW)), 'record_too_old');
  });

  test('the highest seq of the format is accepted once', () => {
    const receiver = newReceiver();
    const top = MAX_RECORDS_PER_EPOCH - 1;
    expect(text(receiver.open(i2rRecord(0, top)))).toBe(`e0 s${top}`);
    expectCode(() => receiver.open(i2rRecord(0, top)), 'record_replayed');
  });

  test('a replayed or too-old record changes no state', () => {
    const receiver = newReceiver();
    receiver.open(i2rRecord(0, 5000));
    receiver.open(i2rRecord(0, 4500));
    const before = snapshot(receiver);
    expectCode(() => receiver.open(i2rRecord(0, 4500)), 'record_replayed');
    expectCode(() => receiver.open(i2rRecord(0, 1)), 'record_too_old');
    expect(snapshot(receiver)).toBe(before);
  });

  test('the replay bitmap is allocated only once an epoch accepts a record', () => {
    const receiver = newReceiver();
    expect(receiverState(receiver).current?.bits).toBeUndefined();
    receiver.open(i2rRecord(0, 0));
    expect(receiverState(receiver).current?.bits?.byteLength).toBe(REPLAY_WINDOW / 8);
  });
});

describe('channels', () => {
  test('both directions across several epochs with one shared fake clock', () => {
    const clock = fakeClock();
    const options = { now: clock.now, rekeyIntervalMs: 50 };
    const initiator = createRecordChannel(RECORD_KEY, SID, 'initiator', options);
    const responder = createRecordChannel(RECORD_KEY, SID, 'responder', options);
    const epochs = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const request = initiator.seal(utf8(`request ${i}`));
      epochs.add(headerOf(request).epoch);
      expect(text(responder.open(request))).toBe(`request ${i}`);
      const reply = responder.seal(utf8(`reply ${i}`));
      expect(text(initiator.open(reply))).toBe(`reply ${i}`);
      clock.advance(7);
    }
    expect(epochs.size).toBeGreaterThan(30);
  });

  test('the record key is only read, never kept or changed', () => {
    const recordKey = Uint8Array.from(RECORD_KEY);
    const channel = createRecordChannel(recordKey, SID, 'initiator', { now: fakeClock().now });
    channel.seal(utf8('x'));
    channel.wipe();
    expect(toHex(recordKey)).toBe(toHex(RECORD_KEY));
  });

  test('options are checked when the object is made', () => {
    expect(() => createRecordChannel(RECORD_KEY, SID, 'initiator', { rekeyIntervalMs: 0 })).toThrow(
      RangeError,
    );
    expect(() =>
      createRecordChannel(RECORD_KEY, SID, 'initiator', { rekeyIntervalMs: 1.5 }),
    ).toThrow(RangeError);
    expect(() =>
      createRecordChannel(RECORD_KEY, SID, 'initiator', { rekeyIntervalMs: 2 ** 31 }),
    ).toThrow(RangeError);
    expect(() =>
      createRecordChannel(RECORD_KEY, SID, 'initiator', { now: 5 as unknown as () => number }),
    ).toThrow(TypeError);
    expect(() => createRecordChannel(RECORD_KEY, SID, 'other' as 'initiator')).toThrow(TypeError);
    expect(() => createRecordChannel(new Uint8Array(31), SID, 'initiator')).toThrow(TypeError);
    expect(() => createRecordChannel(RECORD_KEY, 7 as unknown as string, 'initiator')).toThrow(
      TypeError,
    );
    expect(() => createSenderAt(new Uint8Array(32), SID, {}, { epoch: 2 ** 32 })).toThrow(
      RangeError,
    );
    expect(() => createSenderAt(new Uint8Array(32), SID, {}, { seq: 2 ** 32 + 1 })).toThrow(
      RangeError,
    );
    expect(() => createReceiverAt(new Uint8Array(32), SID, {}, -1)).toThrow(RangeError);
  });
});

describe('recordCallsVia', () => {
  test('every call reaches the channel through live(); its errors are rejections for the asynchronous calls', async () => {
    const clock = fakeClock();
    const initiator = createRecordChannel(RECORD_KEY, SID, 'initiator', { now: clock.now });
    const responder = createRecordChannel(RECORD_KEY, SID, 'responder', { now: clock.now });
    let open = true;
    let reached = 0;
    const calls = recordCallsVia((): RecordChannel => {
      reached += 1;
      if (!open) throw new ZeqKeyExError('session_closed');
      return initiator;
    });
    expect(text(responder.open(calls.seal(utf8('a'))))).toBe('a');
    expect(text(responder.open(await calls.sealAsync(utf8('b'))))).toBe('b');
    expect(text(calls.open(responder.seal(utf8('c'))))).toBe('c');
    expect(text(await calls.openAsync(responder.seal(utf8('d'))))).toBe('d');
    expect(reached).toBe(4);
    open = false;
    expectCode(() => calls.seal(utf8('e')), 'session_closed');
    expectCode(() => calls.open(responder.seal(utf8('f'))), 'session_closed');
    const rejected = [calls.sealAsync(utf8('g')), calls.openAsync(responder.seal(utf8('h')))];
    for (const call of rejected) await expectCodeAsync(call, 'session_closed');
    expect(reached).toBe(8);
  });
});

describe('the test seam', () => {
  test('reads only ratchets it built', () => {
    const channel = createRecordChannel(RECORD_KEY, SID, 'initiator');
    expect(() => senderState(channel)).toThrow(TypeError);
    expect(() => receiverState(channel)).toThrow(TypeError);
  });
});
