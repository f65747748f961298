/**
 * The record channel (`src/core/record-channel.ts`, spec §3) where a line could go wrong unseen:
 * every key the receiver computes on the way to a later epoch is wiped as soon as it is passed
 * (seen through the rekey function, whose results this file keeps), also when the record does not
 * open; `wipe()` closes both directions of a channel for every call; the checks of the inputs and
 * options at creation.
 */
import { describe, expect, test, vi } from 'vitest';
import { assertRatchetOptions, createRecordChannel } from '../src/core/record-channel.js';
import { deriveTrafficKey, sealRecord } from '../src/core/record-format.js';
import { createReceiverAt, createSenderAt, receiverState } from '../src/internal/record-state.js';
import { expectCode, expectCodeAsync } from './helpers/errors.js';
import { fakeClock, keyAt, text, utf8 } from './helpers/records.js';

/** Every key `rekey` returned since the last reset. */
const made = vi.hoisted(() => ({ keys: [] as Uint8Array[] }));

vi.mock('../src/core/record-format.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/core/record-format.js')>();
  return {
    ...actual,
    rekey: (key: Uint8Array): Uint8Array => {
      const next = actual.rekey(key);
      made.keys.push(next);
      return next;
    },
  };
});

const RECORD_KEY = Uint8Array.from({ length: 32 }, (_, i) => 3 * i);
const SID = 'record-channel-session';
const zeroed = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

function i2r(epoch: number, seq: number): Uint8Array {
  return sealRecord(keyAt(RECORD_KEY, SID, 'i2r', epoch), SID, epoch, seq, utf8(`e${epoch}`));
}

function receiver(): ReturnType<typeof createReceiverAt> {
  return createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, { now: fakeClock().now });
}

describe('keys computed on the way to a later epoch', () => {
  test('a jump of five epochs wipes the keys of epochs 1–3 and keeps 4 (previous) and 5', () => {
    const r = receiver();
    r.open(i2r(0, 0));
    const record = i2r(5, 0);
    made.keys = [];
    expect(text(r.open(record))).toBe('e5');
    expect(made.keys).toHaveLength(5);
    const [k1, k2, k3, k4, k5] = made.keys as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    expect([k1, k2, k3].map(zeroed)).toEqual([true, true, true]);
    expect(zeroed(k4) || zeroed(k5)).toBe(false);
    const state = receiverState(r);
    expect(state.previous?.key).toBe(k4);
    expect(state.current?.key).toBe(k5);
  });

  test('a jump of two epochs wipes the current key and keeps epoch 1 as the previous one', () => {
    const r = receiver();
    const k0 = receiverState(r).current?.key as Uint8Array;
    const record = i2r(2, 0);
    made.keys = [];
    r.open(record);
    const [k1, k2] = made.keys as [Uint8Array, Uint8Array];
    expect(zeroed(k0)).toBe(true);
    expect(zeroed(k1) || zeroed(k2)).toBe(false);
    expect(receiverState(r).previous?.epoch).toBe(1);
    expect(text(r.open(i2r(1, 0)))).toBe('e1');
  });

  test('a record of a later epoch that does not open leaves every computed key wiped', () => {
    const r = receiver();
    const forged = i2r(4, 0);
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
    made.keys = [];
    expectCode(() => r.open(forged), 'record_auth_failed');
    expect(made.keys).toHaveLength(4);
    expect(made.keys.every(zeroed)).toBe(true);
    expect(zeroed(receiverState(r).current?.key as Uint8Array)).toBe(false);
    expect(receiverState(r).current?.epoch).toBe(0);
  });

  test('the next epoch: the current key becomes the previous one, unwiped', () => {
    const r = receiver();
    const k0 = receiverState(r).current?.key as Uint8Array;
    const record = i2r(1, 0);
    made.keys = [];
    r.open(record);
    expect(made.keys).toHaveLength(1);
    expect(zeroed(k0)).toBe(false);
    expect(receiverState(r).previous?.key).toBe(k0);
  });

  test('the sender wipes the key of each epoch it leaves', () => {
    const clock = fakeClock();
    const k0 = keyAt(RECORD_KEY, SID, 'i2r', 0);
    const sender = createSenderAt(k0, SID, { now: clock.now, rekeyIntervalMs: 10 });
    made.keys = [];
    sender.seal(utf8('a'));
    clock.advance(11);
    sender.seal(utf8('b'));
    clock.advance(11);
    sender.seal(utf8('c'));
    expect(zeroed(k0)).toBe(true);
    expect(made.keys.map(zeroed)).toEqual([true, false]);
  });
});

describe('creation', () => {
  test('a sender or receiver refuses a session id that is not a string, and a clock that is not a function, when made', () => {
    const key = (): Uint8Array => keyAt(RECORD_KEY, SID, 'i2r', 0);
    const notString = 5 as unknown as string;
    const notClock = { now: 5 as unknown as () => number };
    expect(() => createSenderAt(key(), notString)).toThrow(TypeError);
    expect(() => createReceiverAt(key(), notString)).toThrow(TypeError);
    expect(() => createReceiverAt(key(), SID, notClock)).toThrow(TypeError);
    expect(() => createSenderAt(key(), SID, notClock)).toThrow(TypeError);
  });

  test('assertRatchetOptions returns the interval with its default, and the clock only when given', () => {
    expect(Object.keys(assertRatchetOptions({}))).toEqual(['rekeyIntervalMs']);
    expect(assertRatchetOptions({})).toStrictEqual({ rekeyIntervalMs: 777 });
    const now = (): number => 1;
    expect(assertRatchetOptions({ now, rekeyIntervalMs: 5 })).toStrictEqual({
      rekeyIntervalMs: 5,
      now,
    });
  });

  test('a receiver’s epoch starts empty: top −1, then the first seq accepted', () => {
    const r = receiver();
    expect(receiverState(r).current?.top).toBe(-1);
    r.open(i2r(0, 0));
    expect(receiverState(r).current?.top).toBe(0);
  });
});

describe('a channel', () => {
  test('once wiped, any record is session_closed, a malformed one included', () => {
    const channel = createRecordChannel(RECORD_KEY, SID, 'responder');
    channel.wipe();
    expectCode(() => channel.open(new Uint8Array(3)), 'session_closed');
    expectCode(() => channel.open(i2r(0, 0), 'aad' as unknown as Uint8Array), 'session_closed');
  });

  test('wipe() closes both directions, for the synchronous and asynchronous calls', async () => {
    const initiator = createRecordChannel(RECORD_KEY, SID, 'initiator');
    const responder = createRecordChannel(RECORD_KEY, SID, 'responder');
    const record = initiator.seal(utf8('before'));
    const reply = responder.seal(utf8('reply'));
    initiator.wipe();
    expectCode(() => initiator.seal(utf8('after')), 'session_closed');
    expectCode(() => initiator.open(reply), 'session_closed');
    await expectCodeAsync(initiator.sealAsync(utf8('after')), 'session_closed');
    await expectCodeAsync(initiator.openAsync(reply), 'session_closed');
    // The other side is its own channel.
    expect(text(responder.open(record))).toBe('before');
    initiator.wipe(); // twice is harmless
    expectCode(() => initiator.seal(utf8('again')), 'session_closed');
  });

  test('the two roles seal and open opposite directions', async () => {
    const initiator = createRecordChannel(RECORD_KEY, SID, 'initiator');
    const responder = createRecordChannel(RECORD_KEY, SID, 'responder');
    const i = initiator.seal(utf8('i'));
    expect(text(sealRecordOpens(i, 'i2r'))).toBe('i');
    expect(text(responder.open(i))).toBe('i');
    const r = await responder.sealAsync(utf8('r'));
    expect(text(sealRecordOpens(r, 'r2i'))).toBe('r');
    expect(text(await initiator.openAsync(r))).toBe('r');
    expectCode(() => initiator.open(initiator.seal(utf8('own'))), 'record_auth_failed');
  });

  test('a record key that is not 32 bytes, or an unknown role, is a TypeError', () => {
    for (const key of [new Uint8Array(31), new Uint8Array(33), 'k'.repeat(32)])
      expect(() => createRecordChannel(key as Uint8Array, SID, 'initiator')).toThrow(TypeError);
    expect(() => createRecordChannel(RECORD_KEY, SID, 'server' as unknown as 'initiator')).toThrow(
      TypeError,
    );
    expect(() => createRecordChannel(RECORD_KEY, 5 as unknown as string, 'initiator')).toThrow(
      TypeError,
    );
    expect(() =>
      createRecordChannel(RECORD_KEY, SID, 'initiator', { now: 5 as unknown as () => number }),
    ).toThrow(TypeError);
    expect(() => createRecordChannel(RECORD_KEY, SID, 'initiator', { rekeyIntervalMs: 0 })).toThrow(
      RangeError,
    );
  });

  test('plaintext and AAD must be bytes, for every call', async () => {
    const channel = createRecordChannel(RECORD_KEY, SID, 'initiator');
    const bad = 'text' as unknown as Uint8Array;
    expect(() => channel.seal(bad)).toThrow(TypeError);
    expect(() => channel.seal(utf8('x'), bad)).toThrow(TypeError);
    await expect(channel.sealAsync(bad)).rejects.toThrow(TypeError);
    expect(() => channel.open(new Uint8Array(40), bad)).toThrow(TypeError);
    await expect(channel.openAsync(new Uint8Array(40), bad)).rejects.toThrow(TypeError);
    // None of them took a sequence number.
    const responder = createRecordChannel(RECORD_KEY, SID, 'responder');
    const first = channel.seal(utf8('first'));
    expect(new DataView(first.buffer, first.byteOffset).getUint32(9)).toBe(0);
    expect(text(responder.open(first))).toBe('first');
  });
});

/** Opens a record with the epoch-0 traffic key of `direction`, outside any channel. */
function sealRecordOpens(record: Uint8Array, direction: 'i2r' | 'r2i'): Uint8Array {
  const r = createReceiverAt(deriveTrafficKey(RECORD_KEY, SID, direction), SID);
  return r.open(record);
}

describe('the programmer errors name the argument or option at fault', () => {
  test('at creation: the record key, the role, the session id, the interval, the clock', () => {
    const make =
      (...args: unknown[]) =>
      () =>
        (createRecordChannel as (...a: unknown[]) => unknown)(...args);
    expect(make(new Uint8Array(31), SID, 'initiator')).toThrow(/32 bytes/);
    expect(make(RECORD_KEY, SID, 'server')).toThrow(/role/);
    expect(make(RECORD_KEY, 7, 'initiator')).toThrow(/sessionId/);
    expect(make(RECORD_KEY, SID, 'initiator', { rekeyIntervalMs: 0 })).toThrow(/rekeyIntervalMs/);
    expect(make(RECORD_KEY, SID, 'initiator', { now: 5 })).toThrow(/now/);
    expect(() => assertRatchetOptions({ now: 5 as unknown as () => number })).toThrow(/now/);
    expect(() =>
      createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), 7 as unknown as string),
    ).toThrow(/sessionId/);
  });

  test('a record call names the plaintext or the AAD that is not bytes', async () => {
    const channel = createRecordChannel(RECORD_KEY, SID, 'initiator');
    const peer = createRecordChannel(RECORD_KEY, SID, 'responder');
    const notBytes = 'text' as unknown as Uint8Array;
    expect(() => channel.seal(notBytes)).toThrow(/plaintext/);
    expect(() => channel.seal(utf8('x'), notBytes)).toThrow(/aad/);
    expect(() => peer.open(channel.seal(utf8('x')), notBytes)).toThrow(/aad/);
    await expect(channel.sealAsync(notBytes)).rejects.toThrow(/plaintext/);
  });
});
