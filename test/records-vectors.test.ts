/**
 * The `records` and `invalid.records` protocol vectors of keyex-v1 through the stateful layer: the
 * ratchet's senders reproduce every vector record byte for byte, its receivers and the initiator's
 * session open them (following the sender two epochs ahead), and every invalid record is refused
 * with the right code and without any change of state. (The primitive-level checks of the same
 * vectors are in `protocol-vectors.test.ts`.)
 */
import { describe, expect, test } from 'vitest';
import { type RatchetOptions, createRecordChannel } from '../src/core/record-channel.js';
import {
  createReceiverAt,
  createSenderAt,
  receiverState,
  senderState,
} from '../src/internal/record-state.js';
import { type ClientSession, createClientSession } from '../src/initiator/session.js';
import { ALG } from '../src/core/constants.js';
import type { ErrorCode } from '../src/core/errors.js';
import { expectCode } from './helpers/errors.js';
import { fakeClock, keyAt, snapshot, text, utf8 } from './helpers/records.js';
import { deriveTrafficKey, sealRecord } from '../src/core/record-format.js';
import { hkdfExpand } from '../src/core/primitives.js';
import {
  BAD_RECORD_CODES,
  type RecordCase,
  hex,
  protocolCases,
  toHex,
} from './helpers/vector-data.js';
import { sessionRecords } from '../src/initiator/records.js';

const { recordSuite: suite, records: cases, badRecords: invalid } = protocolCases;
const recordKey = (): Uint8Array => hex(suite.record_key);
const sid = suite.session_id;

describe('vector records through the ratchet', () => {
  test('the traffic-key chain the ratchet follows is the vector chain', () => {
    suite.k_i2r.forEach((expected, epoch) =>
      expect(toHex(keyAt(recordKey(), sid, 'i2r', epoch))).toBe(expected),
    );
    expect(toHex(keyAt(recordKey(), sid, 'r2i', 0))).toBe(suite.k_r2i_0);
  });

  test.each(cases.map((c, i) => [i, c.direction, c.epoch, c.seq, c] as const))(
    'record %i (%s, epoch %i, seq %i): a sender at that position seals exactly the vector',
    (_, direction, epoch, seq, c) => {
      const clock = fakeClock();
      const sender = createSenderAt(
        keyAt(recordKey(), sid, direction, epoch),
        sid,
        { now: clock.now },
        { epoch, seq },
      );
      expect(toHex(sender.seal(hex(c.plaintext), hex(c.app_aad)))).toBe(c.record);
      expect(senderState(sender)).toMatchObject({ epoch, seq: seq + 1 });
    },
  );

  test('an initiator channel seals the two epoch-0 i2r vectors in order, from seq 0', () => {
    const initiator = createRecordChannel(recordKey(), sid, 'initiator', { now: fakeClock().now });
    const [first, second] = cases.filter((c) => c.direction === 'i2r' && c.epoch === 0);
    expect(toHex(initiator.seal(hex(first?.plaintext ?? '')))).toBe(first?.record);
    expect(toHex(initiator.seal(hex(second?.plaintext ?? '')))).toBe(second?.record);
  });

  test('a responder channel seals the r2i vector (with its app_aad) as its first record', () => {
    const responder = createRecordChannel(recordKey(), sid, 'responder', { now: fakeClock().now });
    const c = cases.find((x) => x.direction === 'r2i') as RecordCase;
    expect(toHex(responder.seal(hex(c.plaintext), hex(c.app_aad)))).toBe(c.record);
  });

  test('a receiver opens every i2r vector in order, ratcheting from epoch 0 to epoch 2', () => {
    const clock = fakeClock();
    const k0 = keyAt(recordKey(), sid, 'i2r', 0);
    const receiver = createReceiverAt(k0, sid, { now: clock.now });
    for (const c of cases.filter((x) => x.direction === 'i2r')) {
      expect(toHex(receiver.open(hex(c.record), hex(c.app_aad)))).toBe(c.plaintext);
      expect(receiverState(receiver).current?.epoch).toBe(c.epoch);
    }
    // Epoch 1 was passed through: it is kept as the previous epoch; k[0] was wiped.
    const state = receiverState(receiver);
    expect(state.previous?.epoch).toBe(1);
    expect(toHex(state.previous?.key ?? new Uint8Array())).toBe(suite.k_i2r[1]);
    expect(toHex(state.current?.key ?? new Uint8Array())).toBe(suite.k_i2r[2]);
    expect(k0.every((b) => b === 0)).toBe(true);
    // Each vector record is now a replay or too old.
    const [first] = cases;
    expectCode(() => receiver.open(hex(first?.record ?? '')), 'record_too_old');
    const last = cases[3] as RecordCase;
    expectCode(() => receiver.open(hex(last.record)), 'record_replayed');
  });

  test('the initiator session seals the i2r vectors and opens the r2i vector', () => {
    const session = createClientSessionFor({ now: fakeClock().now });
    const records = sessionRecords(session);
    // One channel per session: a second channel on the same key would reuse nonces.
    expect(sessionRecords(session)).toBe(records);
    const i2r = cases.filter((c) => c.direction === 'i2r' && c.epoch === 0);
    for (const c of i2r)
      expect(toHex(records.seal(hex(c.plaintext), hex(c.app_aad)))).toBe(c.record);
    const r2i = cases.find((c) => c.direction === 'r2i') as RecordCase;
    expect(toHex(records.open(hex(r2i.record), hex(r2i.app_aad)))).toBe(r2i.plaintext);
    expectCode(() => records.open(hex(r2i.record), hex(r2i.app_aad)), 'record_replayed');
    // The wrong app_aad does not open (and does not count as a replay of anything).
    expectCode(
      () => sessionRecords(createClientSessionFor()).open(hex(r2i.record)),
      'record_auth_failed',
    );
    session.wipe();
    expectCode(() => records.seal(new Uint8Array(1)), 'session_closed');
    expectCode(() => records.open(hex(r2i.record), hex(r2i.app_aad)), 'session_closed');
    expectCode(() => sessionRecords(session).seal(new Uint8Array(1)), 'session_closed');
  });
});

describe('traffic keys bound to the session id (spec §3, revision 2)', () => {
  const rev1Key = (direction: 'i2r' | 'r2i'): Uint8Array =>
    hkdfExpand(recordKey(), utf8(`zeq-keyex/v1 ${direction}`), 32);

  test('a revision-1 record (traffic key without LP(session_id)) does not open, and changes nothing', () => {
    const responder = createRecordChannel(recordKey(), sid, 'responder', { now: fakeClock().now });
    const initiator = createRecordChannel(recordKey(), sid, 'initiator', { now: fakeClock().now });
    const old = sealRecord(rev1Key('i2r'), sid, 0, 0, utf8('revision 1'));
    expectCode(() => responder.open(old), 'record_auth_failed');
    const oldReply = sealRecord(rev1Key('r2i'), sid, 0, 0, utf8('revision 1'));
    expectCode(() => initiator.open(oldReply), 'record_auth_failed');
    // The genuine record with the same (epoch, seq) still opens.
    const valid = cases[0] as RecordCase;
    expect(toHex(responder.open(hex(valid.record), hex(valid.app_aad)))).toBe(valid.plaintext);
  });

  test('two sessions on one record key (a replayed cipher_text) share no traffic key', () => {
    const other = 'another-session-0001';
    const first = createRecordChannel(recordKey(), sid, 'initiator', { now: fakeClock().now });
    const second = createRecordChannel(recordKey(), other, 'initiator', { now: fakeClock().now });
    // The same (epoch, seq) and plaintext: under one key, the AES-GCM nonce would repeat.
    const a = first.seal(utf8('same'));
    const b = second.seal(utf8('same'));
    expect(toHex(a.subarray(13, 17))).not.toBe(toHex(b.subarray(13, 17)));
    expect(toHex(keyAt(recordKey(), sid, 'i2r', 0))).not.toBe(
      toHex(keyAt(recordKey(), other, 'i2r', 0)),
    );
    const responder = createRecordChannel(recordKey(), other, 'responder');
    expect(text(responder.open(b))).toBe('same');
  });

  test('deriveTrafficKey refuses a missing session id or an unknown direction', () => {
    expect(() => deriveTrafficKey(recordKey(), undefined as unknown as string, 'i2r')).toThrow(
      TypeError,
    );
    expect(() => deriveTrafficKey(recordKey(), sid, 'x2y' as 'i2r')).toThrow(TypeError);
  });
});

describe('sessionRecords', () => {
  test('refuses what is not a session of this SDK', () => {
    const lookalike = { ...createClientSessionFor() };
    expect(() => sessionRecords(lookalike)).toThrow(TypeError);
    expect(() => sessionRecords({} as ClientSession)).toThrow(TypeError);
  });

  test('request() needs a records endpoint: a TypeError from a session made without one', async () => {
    await expect(
      sessionRecords(createClientSessionFor()).request(new Uint8Array(1)),
    ).rejects.toThrow(TypeError);
  });

  test('session.wipe() zeroes the record key the channel was made from, and closes the channel', () => {
    const key = recordKey();
    const session = createClientSessionFor(undefined, key);
    const records = sessionRecords(session);
    const [first] = cases;
    expect(toHex(records.seal(hex(first?.plaintext ?? ''), hex(first?.app_aad ?? '')))).toBe(
      first?.record,
    );
    session.wipe();
    expect(key.every((b) => b === 0)).toBe(true);
    expectCode(() => records.seal(new Uint8Array(1)), 'session_closed');
    expectCode(() => session.recordKey, 'session_closed');
  });
});

/** An initiator session on the vector record key (with the ratchet's default clock unless given one). */
function createClientSessionFor(
  ratchet?: RatchetOptions,
  key: Uint8Array = recordKey(),
): ClientSession {
  return createClientSession({
    sessionId: sid,
    slug: 'edge-01',
    machineId: 'm-7f3a9c21',
    fingerprint: '8522cf61b77ef6900bcfec9bb38548c226df25087bb8bfc422e1d4a6780ecaad',
    alg: ALG,
    expiresAt: new Date(0),
    trust: 'pinned',
    kemBackend: 'noble',
    recordKey: key,
    ...(ratchet === undefined ? {} : { ratchet }),
  });
}

describe('invalid vector records through a receiver', () => {
  // Through the ratchet, "epoch field changed" (epoch 1) goes down the ratchet-forward path: the
  // candidate key of epoch 1 is derived on the side and the record fails to open under it.
  const valid = cases[0] as RecordCase;

  test.each(invalid.map((x, i) => [i, x.why, x] as const))(
    'invalid %i: %s — refused, state unchanged',
    (_, why, x) => {
      const code = BAD_RECORD_CODES[why];
      expect(code, `a code is expected for "${why}"`).toBeDefined();
      expect(x.direction).toBe('i2r');
      const clock = fakeClock();
      const receiver = createReceiverAt(keyAt(recordKey(), sid, 'i2r', 0), sid, { now: clock.now });
      const before = snapshot(receiver);
      expectCode(() => receiver.open(hex(x.record)), code as ErrorCode);
      expect(snapshot(receiver)).toBe(before);
      // The genuine record still opens afterwards, at epoch 0.
      expect(toHex(receiver.open(hex(valid.record)))).toBe(valid.plaintext);
      expect(receiverState(receiver).current?.epoch).toBe(0);
    },
  );

  test.each(invalid.map((x, i) => [i, x.why, x] as const))(
    'invalid %i: %s — as seen by the initiator session',
    (_, why, x) => {
      const session = createClientSessionFor();
      if (why === "sealed with the other direction's key") {
        // Sealed under k_r2i[0], it is a genuine responder → initiator record: directions are told
        // apart by their keys alone, so the initiator opens it (and only the initiator).
        expect(toHex(sessionRecords(session).open(hex(x.record)))).toBe(valid.plaintext);
        return;
      }
      // Any other one is malformed, or an i2r record the initiator cannot open.
      const code =
        why === 'version byte 0x02'
          ? 'record_unsupported_version'
          : why === 'shorter than header and tag'
            ? 'record_malformed'
            : 'record_auth_failed';
      expectCode(() => sessionRecords(session).open(hex(x.record)), code);
    },
  );
});
