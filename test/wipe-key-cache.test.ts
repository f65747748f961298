/**
 * "Wipe means wipe" (spec revision 2): `session.wipe()` and `responder.close()` leave no copy of a
 * key behind. The Node build's AES-GCM keeps a `KeyObject` and a copy of the bytes per key buffer
 * (`backends/platform.node.ts`); the seam `heldAesKeyCount` counts the copies still held, so a test
 * can check that every key imported on a path was let go of once the path's owner wiped it.
 */
import { describe, expect, test } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { sessionRecords } from '../src/initiator/records.js';
import { createClientSession } from '../src/initiator/session.js';
import { createRecordChannel } from '../src/core/record-channel.js';
import { aeadOpen, aeadSeal, randomBytes } from '../src/core/primitives.js';
import { createResponder } from '../src/responder/responder.js';
import { heldAesKeyCount } from '../src/internal/node-testing.js';
import { fakeClock, text, utf8 } from './helpers/records.js';
import { FIELD_KEY, ORIGIN } from './helpers/responder.js';

const SESSION_ID = 'AAAAAAAAAAAAAAAAAAAAAA';
const NONCE = new Uint8Array(12);
const MACHINES = { 'edge-01': 'machine:edge-01' };

describe('session.wipe() lets go of every key the session used', () => {
  test('the record key (used for the key confirmation) and the traffic keys of every epoch', async () => {
    const clock = fakeClock();
    const baseline = heldAesKeyCount();
    const recordKey = randomBytes(32);
    // As the client does: the key confirmation is opened under the record key itself (§2.3).
    const confirmation = aeadSeal(recordKey, NONCE, utf8('confirm'), new Uint8Array(0));
    expect(aeadOpen(recordKey, NONCE, confirmation, new Uint8Array(0))).toBeDefined();
    const peer = createRecordChannel(recordKey, SESSION_ID, 'responder', {
      rekeyIntervalMs: 10,
      now: clock.now,
    });
    const session = createClientSession({
      sessionId: SESSION_ID,
      slug: 'edge-01',
      machineId: 'machine:edge-01',
      fingerprint: 'ab'.repeat(32),
      alg: 'ML-KEM-768',
      expiresAt: new Date(clock.now() + 60_000),
      trust: 'pinned',
      kemBackend: 'noble',
      recordKey,
      ratchet: { rekeyIntervalMs: 10, now: clock.now },
    });
    const records = sessionRecords(session);
    // Records both ways across several epochs, synchronous and asynchronous calls alike.
    for (let i = 0; i < 6; i++) {
      expect(text(peer.open(records.seal(utf8(`i2r ${i}`))))).toBe(`i2r ${i}`);
      expect(text(await records.openAsync(peer.seal(utf8(`r2i ${i}`))))).toBe(`r2i ${i}`);
      clock.advance(11);
    }
    expect(heldAesKeyCount()).toBeGreaterThan(baseline);
    peer.wipe();
    session.wipe();
    expect(heldAesKeyCount()).toBe(baseline);
  });

  test('a session wiped before it carried a record lets go of its record key too', async () => {
    const baseline = heldAesKeyCount();
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    const client = createClient({
      origin: ORIGIN,
      fetch: (request) => responder.fetch(request),
      insecureUnpinned: true,
      retry: 0,
    });
    const session = await client.handshake('edge-01');
    session.wipe();
    responder.close();
    expect(heldAesKeyCount()).toBe(baseline);
  });
});

describe('responder.close() lets go of every key it holds', () => {
  test('after records over the endpoint across epochs, both sides wiped: no key held', async () => {
    const clock = fakeClock();
    const baseline = heldAesKeyCount();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      now: clock.now,
      rekeyIntervalMs: 10,
      onRecord: (plaintext) => plaintext,
    });
    const client = createClient({
      origin: ORIGIN,
      fetch: (request) => responder.fetch(request),
      insecureUnpinned: true,
      retry: 0,
      now: clock.now,
      rekeyIntervalMs: 10,
    });
    const sessions = [await client.handshake('edge-01'), await client.handshake('edge-01')];
    for (let i = 0; i < 4; i++) {
      for (const session of sessions) {
        expect(text(await sessionRecords(session).request(utf8(`${i}`)))).toBe(`${i}`);
      }
      clock.advance(11);
    }
    for (const session of sessions) session.wipe();
    expect(heldAesKeyCount()).toBeGreaterThan(baseline);
    responder.close();
    expect(heldAesKeyCount()).toBe(baseline);
  });
});
