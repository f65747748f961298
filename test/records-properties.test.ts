/**
 * Property tests of the record ratchet (spec §3): round trips of any plaintext and AAD in both
 * directions; any flipped bit refused; replays refused; any reordering within the window accepted;
 * and no state change after any rejection (the whole internal state, keys and windows included,
 * is compared byte for byte).
 */
import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { AEAD_TAG_BYTES, RECORD_HEADER_BYTES } from '../src/core/constants.js';
import { createRecordChannel } from '../src/core/record-channel.js';
import { createReceiverAt, createSenderAt } from '../src/internal/record-state.js';
import { expectRejected, flipBit } from './helpers/properties.js';
import { fakeClock, keyAt, snapshot } from './helpers/records.js';
import { toHex } from './helpers/vectors.js';

const RUNS = { numRuns: 150 };
const SID = 'property-session-01';
const RECORD_KEY = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

const plaintext = fc.uint8Array({ maxLength: 300 });
const aad = fc.uint8Array({ maxLength: 64 });

function pair(intervalMs = 777): {
  clock: ReturnType<typeof fakeClock>;
  sender: ReturnType<typeof createSenderAt>;
  receiver: ReturnType<typeof createReceiverAt>;
} {
  const clock = fakeClock();
  const options = { now: clock.now, rekeyIntervalMs: intervalMs };
  return {
    clock,
    sender: createSenderAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, options),
    receiver: createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, options),
  };
}

describe('round trip', () => {
  test.prop(
    [
      fc.array(fc.tuple(plaintext, fc.option(aad, { nil: undefined })), {
        minLength: 1,
        maxLength: 8,
      }),
    ],
    RUNS,
  )(
    'anything sealed in either direction opens to the same bytes, with the same aad',
    (messages) => {
      const clock = fakeClock();
      const initiator = createRecordChannel(RECORD_KEY, SID, 'initiator', { now: clock.now });
      const responder = createRecordChannel(RECORD_KEY, SID, 'responder', { now: clock.now });
      for (const [message, extra] of messages) {
        const copy = Uint8Array.from(message);
        const record = initiator.seal(message, extra);
        expect(record.length).toBe(RECORD_HEADER_BYTES + message.length + AEAD_TAG_BYTES);
        expect(toHex(responder.open(record, extra))).toBe(toHex(copy));
        expect(toHex(initiator.open(responder.seal(message, extra), extra))).toBe(toHex(copy));
        expect(toHex(message)).toBe(toHex(copy)); // input not mutated
        clock.advance(300);
      }
    },
  );

  test.prop([plaintext, aad, aad], RUNS)(
    'another aad does not open, and changes nothing',
    (message, a, b) => {
      fc.pre(toHex(a) !== toHex(b));
      const { sender, receiver } = pair();
      const record = sender.seal(message, a);
      const before = snapshot(receiver);
      expectRejected(() => receiver.open(record, b), 'record_auth_failed');
      expect(snapshot(receiver)).toBe(before);
      expect(toHex(receiver.open(record, a))).toBe(toHex(message));
    },
  );
});

describe('tampering', () => {
  test.prop([plaintext, fc.nat(), fc.integer({ min: 0, max: 5 })], RUNS)(
    'any single flipped bit is refused with a record_* code and leaves the state unchanged',
    (message, bitSeed, epochsAhead) => {
      const { clock, sender, receiver } = pair(100);
      // Let the receiver be somewhere in the middle of a conversation, possibly a few epochs in.
      receiver.open(sender.seal(new Uint8Array([1])));
      for (let i = 0; i < epochsAhead; i++) {
        clock.advance(101);
        receiver.open(sender.seal(new Uint8Array([2])));
      }
      const record = sender.seal(message);
      const bad = flipBit(record, bitSeed % (record.length * 8));
      const before = snapshot(receiver);
      expectRejected(
        () => receiver.open(bad),
        'record_unsupported_version',
        'record_malformed',
        'record_auth_failed',
        'record_too_far_ahead',
        'record_too_old',
        'record_replayed',
      );
      expect(snapshot(receiver)).toBe(before);
      expect(toHex(receiver.open(record))).toBe(toHex(message));
    },
  );

  test.prop(
    [plaintext, fc.integer({ min: 0, max: RECORD_HEADER_BYTES + AEAD_TAG_BYTES - 1 })],
    RUNS,
  )('a truncated record is refused without a state change', (message, length) => {
    const { sender, receiver } = pair();
    const record = sender.seal(message);
    const before = snapshot(receiver);
    expectRejected(
      () => receiver.open(record.subarray(0, length)),
      'record_malformed',
      'record_unsupported_version',
    );
    expect(snapshot(receiver)).toBe(before);
  });
});

describe('replay and reordering', () => {
  test.prop([fc.array(plaintext, { minLength: 1, maxLength: 20 }), fc.nat()], RUNS)(
    'every accepted record is refused the second time',
    (messages, pick) => {
      const { clock, sender, receiver } = pair(50);
      const records = messages.map((m) => {
        clock.advance(17);
        return sender.seal(m);
      });
      for (const r of records) receiver.open(r);
      const replay = records[
        records.length - 1 - (pick % Math.min(records.length, 3))
      ] as Uint8Array;
      const before = snapshot(receiver);
      // The newest records are replays; older epochs may already be out of reach (too old).
      expectRejected(() => receiver.open(replay), 'record_replayed', 'record_too_old');
      expect(snapshot(receiver)).toBe(before);
      expectRejected(
        () => receiver.open(records[records.length - 1] as Uint8Array),
        'record_replayed',
      );
    },
  );

  test.prop(
    [
      fc
        .integer({ min: 1, max: 64 })
        .chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
          ),
        ),
    ],
    RUNS,
  )('any reordering within one epoch is accepted, each record once', ([count, order]) => {
    const { sender, receiver } = pair();
    const records = Array.from({ length: count }, (_, i) =>
      sender.seal(new Uint8Array([i, i >> 8])),
    );
    for (const i of order)
      expect(Array.from(receiver.open(records[i] as Uint8Array))).toEqual([i & 255, i >> 8]);
    for (const i of order)
      expectRejected(() => receiver.open(records[i] as Uint8Array), 'record_replayed');
  });

  test.prop(
    [
      fc.array(fc.integer({ min: 0, max: 1022 }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1024, max: 5000 }),
    ],
    RUNS,
  )(
    'out-of-order seqs anywhere in the window (the highest and the 1023 below it) are accepted',
    (offsets, top) => {
      // Sealed by a sender that skips ahead: only the window position matters to the receiver.
      const clock = fakeClock();
      const receiver = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, { now: clock.now });
      const at = (seq: number): Uint8Array =>
        createSenderAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, { now: clock.now }, { seq }).seal(
          new Uint8Array([seq & 255]),
        );
      receiver.open(at(top));
      const unique = [...new Set(offsets)];
      for (const offset of unique)
        expect(Array.from(receiver.open(at(top - 1 - offset)))).toEqual([(top - 1 - offset) & 255]);
      expectRejected(() => receiver.open(at(top - 1024)), 'record_too_old');
    },
  );

  test.prop([fc.integer({ min: 2, max: 12 }), fc.nat()], RUNS)(
    'records of the previous epoch arriving after the switch, within the grace window, are accepted',
    (count, seed) => {
      const { clock, sender, receiver } = pair(100);
      const old = Array.from({ length: count }, (_, i) => sender.seal(new Uint8Array([i])));
      clock.advance(101);
      const fresh = sender.seal(new Uint8Array([99]));
      receiver.open(fresh);
      clock.advance(seed % 101);
      for (const [i, r] of old.entries()) expect(Array.from(receiver.open(r))).toEqual([i]);
    },
  );
});

describe('no state change after any rejection', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), bit: fc.nat() }),
    fc.record({ kind: fc.constant('truncate' as const), length: fc.nat() }),
    fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 80 }) }),
    fc.record({
      kind: fc.constant('header' as const),
      epoch: fc.nat(0xffff_ffff),
      seq: fc.nat(0xffff_ffff),
      version: fc.nat(255),
    }),
    fc.record({ kind: fc.constant('replay' as const), pick: fc.nat() }),
  );

  test.prop(
    [
      fc.array(plaintext, { minLength: 1, maxLength: 6 }),
      fc.array(mutation, { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 0, max: 800 }),
    ],
    RUNS,
  )(
    'a receiver given any rejected input is byte-for-byte what it was, and goes on as if nothing happened',
    (messages, mutations, step) => {
      const { clock, sender, receiver } = pair(100);
      const twin = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, {
        now: clock.now,
        rekeyIntervalMs: 100,
      });
      const accepted: Uint8Array[] = [];
      for (const [i, message] of messages.entries()) {
        const record = sender.seal(message);
        receiver.open(record);
        twin.open(record);
        accepted.push(record);
        for (const m of mutations) {
          let input: Uint8Array;
          if (m.kind === 'flip') input = flipBit(record, m.bit % (record.length * 8));
          else if (m.kind === 'truncate') input = record.subarray(0, m.length % record.length);
          else if (m.kind === 'random') input = m.bytes;
          else if (m.kind === 'header') {
            input = Uint8Array.from(record);
            const view = new DataView(input.buffer);
            input[0] = m.version;
            view.setUint32(1, m.epoch);
            view.setUint32(9, m.seq);
          } else input = accepted[m.pick % accepted.length] as Uint8Array;
          const before = snapshot(receiver);
          let opened: Uint8Array | undefined;
          try {
            opened = receiver.open(input);
          } catch {
            opened = undefined;
          }
          // A mutation can only ever be refused (a forgery that opens would be a broken AEAD).
          expect(opened).toBeUndefined();
          expect(snapshot(receiver)).toBe(before);
        }
        expect(snapshot(receiver)).toBe(snapshot(twin));
        clock.advance(i % 2 === 0 ? step : 1);
      }
    },
  );
});
