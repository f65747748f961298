/**
 * The records' asynchronous calls (`sealAsync`, `openAsync`, and `request`, which uses them) in
 * both builds: the Node build's, which run the synchronous `node:crypto` calls, and the portable
 * build's over WebCrypto (its key swapped into the Node platform here, as the portable build has it). The same
 * record bytes as the synchronous calls; the seq taken at call time, so concurrent seals never
 * share one; a record accepted only once it opened, so one of two concurrent opens of a record is
 * refused as replayed; a rejected record changes nothing; one asynchronous key per epoch, let go
 * of when the epoch's key is wiped; errors as rejections.
 */
import { beforeEach, describe, expect, test, vi } from 'vitest';
import type { AsyncAeadKey } from '../src/backends/aead-backend.js';
import { createClient } from '../src/initiator/client.js';
import { isZeqKeyExError } from '../src/core/errors.js';
import { createResponder } from '../src/responder/responder.js';
import { createRecordChannel } from '../src/core/record-channel.js';
import {
  createReceiverAt,
  createSenderAt,
  receiverState,
  senderState,
} from '../src/internal/record-state.js';
import { sealRecord } from '../src/core/record-format.js';
import { sessionRecords } from '../src/initiator/records.js';
import { webCryptoAeadKey } from '../src/backends/webcrypto-aead.js';
import { expectCodeAsync } from './helpers/errors.js';
import { fakeClock, headerOf, keyAt, snapshot, text, utf8 } from './helpers/records.js';
import { FIELD_KEY, ORIGIN } from './helpers/responder.js';
import { toHex } from './helpers/vectors.js';

/** Which asynchronous key the ratchet gets, and what it did with them. */
const keys = vi.hoisted(() => ({
  make: undefined as ((key: Uint8Array) => AsyncAeadKey) | undefined,
  made: 0,
  forgotten: 0,
}));

vi.mock('../src/backends/platform.node.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/backends/platform.node.js')>();
  const counted = (key: Uint8Array): AsyncAeadKey => {
    keys.made += 1;
    const made = (keys.make as (key: Uint8Array) => AsyncAeadKey)(key);
    return {
      seal: made.seal,
      open: made.open,
      forget: () => {
        keys.forgotten += 1;
        made.forget();
      },
    };
  };
  return {
    ...actual,
    // The Node build has none (its asynchronous calls run the synchronous ones); the portable
    // build's WebCrypto key when a test sets one.
    get aeadKeyAsync() {
      return keys.make === undefined ? actual.aeadKeyAsync : counted;
    },
  };
});

const SID = 'async-records-0001';
const RECORD_KEY = Uint8Array.from({ length: 32 }, (_, i) => 255 - i * 3);
const INTERVAL = 777;

/** A record of `epoch`/`seq` sealed directly under k_i2r[epoch]. */
function i2rRecord(epoch: number, seq: number, message = `e${epoch} s${seq}`): Uint8Array {
  return sealRecord(keyAt(RECORD_KEY, SID, 'i2r', epoch), SID, epoch, seq, utf8(message));
}

function shuffle<T>(items: T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = (i * 7919 + 13) % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe.each([
  ['node:crypto (Node build): the synchronous calls', undefined],
  ['WebCrypto (portable build)', webCryptoAeadKey],
] as const)('asynchronous records through %s', (_, make) => {
  beforeEach(() => {
    keys.make = make;
    keys.made = 0;
    keys.forgotten = 0;
  });

  test('sealAsync gives the bytes seal gives, epoch after epoch', async () => {
    const clock = fakeClock();
    const options = { now: clock.now, rekeyIntervalMs: INTERVAL };
    const sync = createSenderAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, options);
    const async = createSenderAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, options);
    for (let i = 0; i < 24; i++) {
      if (i % 6 === 5) clock.advance(INTERVAL + 1);
      const message = utf8(`record ${i}`.repeat(i));
      const aad = utf8(i % 2 === 0 ? '' : `aad ${i}`);
      expect(toHex(await async.sealAsync(message, aad))).toBe(toHex(sync.seal(message, aad)));
    }
    expect(senderState(async).epoch).toBe(4);
    // With WebCrypto, one asynchronous key per epoch, and each old one let go of when its key was
    // wiped; the Node build makes none.
    expect([keys.made, keys.forgotten]).toEqual(make === undefined ? [0, 0] : [5, 4]);
    async.wipe();
    expect(keys.forgotten).toBe(make === undefined ? 0 : 5);
  });

  test('records sealed either way open either way, in both directions and across epochs', async () => {
    const clock = fakeClock();
    const options = { now: clock.now, rekeyIntervalMs: INTERVAL };
    const initiator = createRecordChannel(RECORD_KEY, SID, 'initiator', options);
    const responder = createRecordChannel(RECORD_KEY, SID, 'responder', options);
    for (let i = 0; i < 12; i++) {
      if (i % 4 === 3) clock.advance(INTERVAL + 1);
      const request = utf8(`request ${i}`);
      const sealed = i % 2 === 0 ? await initiator.sealAsync(request) : initiator.seal(request);
      expect(text(i % 3 === 0 ? responder.open(sealed) : await responder.openAsync(sealed))).toBe(
        `request ${i}`,
      );
      const reply = await responder.sealAsync(utf8(`reply ${i}`), utf8('x'));
      expect(text(await initiator.openAsync(reply, utf8('x')))).toBe(`reply ${i}`);
    }
  });

  test('concurrent seals take distinct seqs; the records open concurrently in any order', async () => {
    const sender = createSenderAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID);
    const receiver = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID);
    const records = await Promise.all(
      Array.from({ length: 64 }, (_, i) => sender.sealAsync(utf8(`m${i}`))),
    );
    expect(records.map((r) => headerOf(r).seq)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    const order = shuffle(records.map((record, i) => ({ record, i })));
    const opened = await Promise.all(order.map(({ record }) => receiver.openAsync(record)));
    expect(opened.map(text)).toEqual(order.map(({ i }) => `m${i}`));
    await expectCodeAsync(receiver.openAsync(records[10] as Uint8Array), 'record_replayed');
  });

  test('of two concurrent opens of one record, one is refused as replayed — in the current epoch and for a later one', async () => {
    const receiver = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID);
    for (const record of [i2rRecord(0, 5), i2rRecord(3, 0)]) {
      const results = await Promise.allSettled([
        receiver.openAsync(record),
        receiver.openAsync(record),
        receiver.openAsync(record),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const result of results) {
        if (result.status === 'rejected')
          expect(isZeqKeyExError(result.reason, 'record_replayed')).toBe(true);
      }
    }
    expect(receiverState(receiver).current?.epoch).toBe(3);
    expect(receiverState(receiver).previous?.epoch).toBe(2);
    expect(text(await receiver.openAsync(i2rRecord(2, 9)))).toBe('e2 s9');
  });

  test('a record that does not open changes nothing; the checks come in the order of open', async () => {
    const clock = fakeClock();
    const receiver = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, {
      now: clock.now,
      rekeyIntervalMs: INTERVAL,
    });
    await receiver.openAsync(i2rRecord(0, 0));
    const before = snapshot(receiver);
    for (const epoch of [0, 2]) {
      const tampered = i2rRecord(epoch, 7);
      tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
      await expectCodeAsync(receiver.openAsync(tampered), 'record_auth_failed');
      await expectCodeAsync(
        receiver.openAsync(i2rRecord(epoch, 7), utf8('other aad')),
        'record_auth_failed',
      );
    }
    expect(snapshot(receiver)).toBe(before);
    await expectCodeAsync(receiver.openAsync(new Uint8Array(28)), 'record_malformed');
    await expectCodeAsync(receiver.openAsync(i2rRecord(0, 0)), 'record_replayed');
    await expectCodeAsync(receiver.openAsync(i2rRecord(1025, 0)), 'record_too_far_ahead');
    expect(snapshot(receiver)).toBe(before);
    expect(text(await receiver.openAsync(i2rRecord(0, 7)))).toBe('e0 s7');
  });

  test('a forged record is record_auth_failed whatever its seq: used, unused, below the window', async () => {
    const receiver = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID);
    for (const seq of [0, 1, 1500]) await receiver.openAsync(i2rRecord(0, seq));
    const before = snapshot(receiver);
    // Used in the window, never used, used and below the window.
    for (const seq of [1500, 1000, 1]) {
      const record = i2rRecord(0, seq);
      crypto.getRandomValues(record.subarray(13));
      await expectCodeAsync(receiver.openAsync(record), 'record_auth_failed');
    }
    expect(snapshot(receiver)).toBe(before);
    await expectCodeAsync(receiver.openAsync(i2rRecord(0, 1500)), 'record_replayed');
    await expectCodeAsync(receiver.openAsync(i2rRecord(0, 1)), 'record_too_old');
    expect(snapshot(receiver)).toBe(before);
  });

  test('errors are rejections, never throws', async () => {
    const sender = createSenderAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID);
    const receiver = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID);
    const badSeal = sender.sealAsync('text' as unknown as Uint8Array);
    await expect(badSeal).rejects.toThrow(TypeError);
    const badOpen = receiver.openAsync(i2rRecord(0, 0), 'aad' as unknown as Uint8Array);
    await expect(badOpen).rejects.toThrow(TypeError);
    // Neither consumed anything.
    expect(senderState(sender).seq).toBe(0);
    expect(text(await receiver.openAsync(i2rRecord(0, 0)))).toBe('e0 s0');
  });

  test('wiped while a record is being opened: session_closed, and nothing accepted', async () => {
    const sender = createSenderAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID);
    const receiver = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID);
    const opening = receiver.openAsync(await sender.sealAsync(utf8('late')));
    receiver.wipe();
    if (make === undefined) {
      // The Node build opens within the call: the record was accepted before the wipe.
      expect(text(await opening)).toBe('late');
    } else {
      await expectCodeAsync(opening, 'session_closed');
    }
    await expectCodeAsync(receiver.openAsync(i2rRecord(0, 1)), 'session_closed');
    sender.wipe();
    await expectCodeAsync(sender.sealAsync(utf8('after')), 'session_closed');
  });

  test('the plaintext and record may change as soon as the calls return', async () => {
    const sender = createSenderAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID);
    const receiver = createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID);
    const message = utf8('read at call time');
    const sealing = sender.sealAsync(message);
    message.fill(0x21);
    const record = await sealing;
    const copy = record.slice();
    const opening = receiver.openAsync(record);
    record.fill(0);
    expect(text(await opening)).toBe('read at call time');
    expect(toHex(copy)).toBe(toHex(i2rRecord(0, 0, 'read at call time')));
  });

  test('a session: sealAsync and openAsync on both sides, and request', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: { 'edge-01': 'machine:edge-01' },
      onRecord: (plaintext) => utf8(`echo ${text(plaintext)}`),
    });
    const client = createClient({
      origin: ORIGIN,
      fetch: (request) => responder.fetch(request),
      insecureUnpinned: true,
      retry: 0,
    });
    const session = await client.handshake('edge-01');
    const records = sessionRecords(session);
    const served = await responder.recordSession(session.sessionId);
    expect(served).toBeDefined();
    if (served === undefined) return;
    expect(text(await served.openAsync(await records.sealAsync(utf8('one'))))).toBe('one');
    expect(text(served.open(records.seal(utf8('two'))))).toBe('two');
    expect(text(await records.openAsync(await served.sealAsync(utf8('three'))))).toBe('three');
    expect(text(await records.request(utf8('four')))).toBe('echo four');
    session.wipe();
    await expectCodeAsync(records.sealAsync(utf8('five')), 'session_closed');
    await expectCodeAsync(records.openAsync(served.seal(utf8('six'))), 'session_closed');
    responder.close();
  });
});
