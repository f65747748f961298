/**
 * Records that recover (`recoveringRecords`): a session made on first use and kept; a new one made
 * ahead of `expires_at`; a record the responder refused with `unknown_session` (a restarted
 * responder) or `session_expired` sent again, once, on a new session, the old one wiped; any other
 * failure thrown as it is; `close()`.
 */
import { describe, expect, test } from 'vitest';
import { isZeqKeyExError } from '../src/core/errors.js';
import { createClient, sessionRecords } from '../src/index.js';
import { recoveringRecords } from '../src/initiator/recovering-records.js';
import { createResponder } from '../src/responder.js';
import { createMemoryKeyStore } from '../src/responder/stores.js';
import { FIELD_KEY } from './helpers/responder.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };
const TTL_MS = 60_000;
const text = new TextEncoder();

/** A responder that can be restarted (same keys, no sessions), a clock, and request counts. */
function setup(onRecord: (plaintext: Uint8Array) => Uint8Array = (p) => p) {
  let clock = Date.UTC(2031, 0, 1);
  const keyStore = createMemoryKeyStore();
  const make = () =>
    createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore,
      sessionTtlMs: TTL_MS,
      now: () => clock,
      onRecord,
      rateLimits: false,
    });
  let responder = make();
  const counts = { handshakes: 0, records: 0 };
  const client = createClient({
    origin: 'https://edge.example',
    insecureUnpinned: true,
    retry: 0,
    now: () => clock,
    fetch: (request) => {
      if (request.url.endsWith('/handshake')) counts.handshakes++;
      if (request.url.endsWith('/records')) counts.records++;
      return responder.fetch(request);
    },
  });
  return {
    client,
    counts,
    now: () => clock,
    advance(ms: number) {
      clock += ms;
    },
    restart() {
      responder.close();
      responder = make();
    },
  };
}

describe('recoveringRecords', () => {
  test('makes a session on first use and keeps it', async () => {
    const s = setup();
    const records = recoveringRecords(s.client, 'edge-01', { now: s.now });
    expect(records.session).toBeUndefined();
    expect(await records.request(text.encode('a'))).toEqual(text.encode('a'));
    const first = records.session;
    expect(await records.request(text.encode('b'))).toEqual(text.encode('b'));
    expect(records.session).toBe(first);
    expect(s.counts).toEqual({ handshakes: 1, records: 2 });
    records.close();
  });

  test('a responder that lost the session: one new handshake, the record sent again, the old session wiped', async () => {
    const s = setup();
    const records = recoveringRecords(s.client, 'edge-01', { now: s.now });
    await records.request(text.encode('a'));
    const old = records.session;
    s.restart();
    expect(await records.request(text.encode('after restart'))).toEqual(
      text.encode('after restart'),
    );
    expect(s.counts).toEqual({ handshakes: 2, records: 3 });
    expect(records.session === old).toBe(false);
    if (old === undefined) throw new Error('no session');
    let thrown: unknown;
    try {
      sessionRecords(old).seal(new Uint8Array(1));
    } catch (error) {
      thrown = error;
    }
    expect(isZeqKeyExError(thrown, 'session_closed')).toBe(true);
    records.close();
  });

  test('a session past its expiry on the responder (session_expired): renewed and sent again', async () => {
    const s = setup();
    // renewBeforeMs 1 ms: only the responder's answer can tell.
    const records = recoveringRecords(s.client, 'edge-01', { now: () => 0, renewBeforeMs: 1 });
    await records.request(text.encode('a'));
    s.advance(TTL_MS + 1);
    expect(await records.request(text.encode('b'))).toEqual(text.encode('b'));
    expect(s.counts.handshakes).toBe(2);
    records.close();
  });

  test('renews ahead of expires_at, before sending', async () => {
    const s = setup();
    const records = recoveringRecords(s.client, 'edge-01', { now: s.now, renewBeforeMs: 10_000 });
    await records.request(text.encode('a'));
    s.advance(TTL_MS - 9_000);
    await records.request(text.encode('b'));
    expect(s.counts).toEqual({ handshakes: 2, records: 2 });
    records.close();
  });

  test('concurrent requests on a lost session share one new handshake', async () => {
    const s = setup();
    const records = recoveringRecords(s.client, 'edge-01', { now: s.now });
    await records.request(text.encode('a'));
    s.restart();
    const replies = await Promise.all(
      ['x', 'y', 'z'].map((word) => records.request(text.encode(word))),
    );
    expect(replies).toEqual(['x', 'y', 'z'].map((word) => text.encode(word)));
    expect(s.counts.handshakes).toBe(2);
    records.close();
  });

  test('retries once only, and never for another failure', async () => {
    let fail = false;
    const s = setup((p) => {
      if (fail) throw new Error('app failure');
      return p;
    });
    const records = recoveringRecords(s.client, 'edge-01', { now: s.now });
    await records.request(text.encode('a'));
    fail = true;
    const error = await records.request(text.encode('b')).catch((e: unknown) => e);
    expect(isZeqKeyExError(error, 'http_error')).toBe(true);
    expect((error as { responseCode?: string }).responseCode).toBe('internal');
    expect(s.counts).toEqual({ handshakes: 1, records: 2 });
  });

  test('after close(): session_closed, and the session is wiped', async () => {
    const s = setup();
    const records = recoveringRecords(s.client, 'edge-01', { now: s.now });
    await records.request(text.encode('a'));
    records.close();
    expect(records.session).toBeUndefined();
    const error = await records.request(text.encode('b')).catch((e: unknown) => e);
    expect(isZeqKeyExError(error, 'session_closed')).toBe(true);
  });

  test('checks its options', () => {
    const s = setup();
    expect(() => recoveringRecords(s.client, 'edge-01', { renewBeforeMs: -1 })).toThrow(RangeError);
    expect(() => recoveringRecords(s.client, 'edge-01', { now: 5 as never })).toThrow(TypeError);
  });
});
