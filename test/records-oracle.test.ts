/**
 * The "record-count oracle" of spec §3 (revision 2), attacked: someone without the traffic keys
 * sends forged records (a genuine-looking header over random bytes) at sequence numbers a session
 * has used, has not used, and has left below its replay window. Before revision 2 the receiver
 * checked the window first, so a forged record at a used seq was `record_replayed` (409 on the
 * wire) and one at an unused seq `record_auth_failed` (400): the answer told which seqs were used.
 * Now the window is consulted only for a record that opened, so every forged record gets the same
 * answer, and none changes any state. (The asynchronous path is attacked in
 * `records-async.test.ts`.)
 */
import { describe, expect, test } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { ROUTES } from '../src/core/constants.js';
import { createResponder } from '../src/responder/responder.js';
import { createRecordChannel } from '../src/core/record-channel.js';
import { encodeRecordHeader, sealRecord } from '../src/core/record-format.js';
import { createReceiverAt, receiverState } from '../src/internal/record-state.js';
import { sessionRecords } from '../src/initiator/records.js';
import { expectCode } from './helpers/errors.js';
import { fakeClock, keyAt, snapshot, text, utf8 } from './helpers/records.js';
import { FIELD_KEY, ORIGIN, expectError } from './helpers/responder.js';

const SID = 'oracle-session-0001';
const RECORD_KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 11 + 5) & 0xff);

/** What an attacker without the key can send: a valid header over random ciphertext and tag. */
function forged(epoch: number, seq: number, bodyBytes = 24): Uint8Array {
  const header = encodeRecordHeader(epoch, seq);
  const record = new Uint8Array(header.length + bodyBytes);
  record.set(header);
  crypto.getRandomValues(record.subarray(header.length));
  return record;
}

function i2rRecord(epoch: number, seq: number, message = `e${epoch} s${seq}`): Uint8Array {
  return sealRecord(keyAt(RECORD_KEY, SID, 'i2r', epoch), SID, epoch, seq, utf8(message));
}

describe('a forged record is record_auth_failed whatever its seq (spec §3, revision 2)', () => {
  test('at a used seq, an unused one and one below the window: the same code, nothing changed', () => {
    const receiver = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, {
      now: fakeClock().now,
    });
    for (const seq of [0, 1, 1500, 1501]) receiver.open(i2rRecord(0, seq));
    const before = snapshot(receiver);
    // 1500: used; 1000: never used, in the window; 1: used, below the window (1501 − 1024);
    // 1502: ahead of the top.
    for (const seq of [1500, 1000, 1, 1502]) {
      expectCode(() => receiver.open(forged(0, seq)), 'record_auth_failed');
      expect(snapshot(receiver)).toBe(before);
    }
    // Only records that open learn about the window: the genuine replays are still refused.
    expectCode(() => receiver.open(i2rRecord(0, 1500)), 'record_replayed');
    expectCode(() => receiver.open(i2rRecord(0, 1)), 'record_too_old');
    expect(snapshot(receiver)).toBe(before);
    expect(text(receiver.open(i2rRecord(0, 1000)))).toBe('e0 s1000');
  });

  test('in the previous epoch too, while it is kept for reordering', () => {
    const clock = fakeClock();
    const receiver = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, {
      now: clock.now,
      rekeyIntervalMs: 777,
    });
    receiver.open(i2rRecord(0, 4));
    receiver.open(i2rRecord(1, 0));
    expect(receiverState(receiver).previous?.epoch).toBe(0);
    const before = snapshot(receiver);
    for (const [epoch, seq] of [
      [0, 4],
      [1, 0],
      [0, 5],
    ] as const) {
      expectCode(() => receiver.open(forged(epoch, seq)), 'record_auth_failed');
    }
    expect(snapshot(receiver)).toBe(before);
    expectCode(() => receiver.open(i2rRecord(0, 4)), 'record_replayed');
  });

  test('the responder channel of a live session answers a forged replay like any forgery', () => {
    const initiator = createRecordChannel(RECORD_KEY, SID, 'initiator');
    const responder = createRecordChannel(RECORD_KEY, SID, 'responder');
    expect(text(responder.open(initiator.seal(utf8('first'))))).toBe('first');
    expectCode(() => responder.open(forged(0, 0)), 'record_auth_failed');
    expectCode(() => responder.open(forged(0, 1)), 'record_auth_failed');
    expect(text(responder.open(initiator.seal(utf8('second'))))).toBe('second');
  });
});

describe('through the records endpoint (spec §3.1)', () => {
  test('a forged record at a used seq is 400 invalid_record, as at an unused one; the session goes on', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: { 'edge-01': 'machine:edge-01' },
      onRecord: (plaintext) => plaintext,
    });
    const client = createClient({
      origin: ORIGIN,
      fetch: (request) => responder.fetch(request),
      insecureUnpinned: true,
      retry: 0,
    });
    const session = await client.handshake('edge-01');
    const records = sessionRecords(session);
    expect(text(await records.request(utf8('seq 0')))).toBe('seq 0');
    expect(text(await records.request(utf8('seq 1')))).toBe('seq 1');
    const post = (body: Uint8Array): Promise<Response> =>
      responder.fetch(
        new Request(ORIGIN + ROUTES.records('edge-01', session.sessionId), {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body: body as BodyInit,
        }),
      );
    for (const seq of [0, 1, 2, 9])
      await expectError(await post(forged(0, seq)), 400, 'invalid_record');
    // A genuine replay still gets its own code: only the key holder can make one.
    const sealed = records.seal(utf8('seq 2'));
    expect((await post(sealed)).status).toBe(200);
    await expectError(await post(sealed), 409, 'replayed_record');
    expect(text(await records.request(utf8('seq 3')))).toBe('seq 3');
  });
});
