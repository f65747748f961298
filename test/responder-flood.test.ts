/**
 * Finding 2 of the open-internet review, "replay after a flood" (spec §2.3, revision 2): random
 * ciphertexts cost an attacker nothing and are all accepted; enough of them evict every live
 * session. The replay tag of a captured `cipher_text` must outlive that eviction: replaying it
 * inside its lifetime is refused (`409 replayed_handshake`, or `429 rate_limited` when the replay
 * memory is full), never answered `200` with the same record key.
 */
import { describe, expect, test } from 'vitest';
import { createResponder } from '../src/responder.js';
import { createMemoryReplayMemory } from '../src/responder/replay-memory.js';
import { FIELD_KEY, clientHandshake, expectError, jsonRequest } from './helpers/responder.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };
const TTL_MS = 60_000;
const HANDSHAKE = '/api/keyex/edge-01/handshake';

/** A clock the test moves by hand. */
function manualClock(start = 1_800_000_000_000): {
  now: () => number;
  advance: (ms: number) => void;
} {
  let at = start;
  return {
    now: () => at,
    advance: (ms) => {
      at += ms;
    },
  };
}

/** A random 1088-byte ciphertext: decapsulation never fails, so each one opens a session. */
function randomCipherText(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(1088))).toString('base64');
}

function handshakeRequest(cipherText: string, fingerprint: string): Request {
  return jsonRequest(HANDSHAKE, { cipher_text: cipherText, fingerprint });
}

describe('replay after a flood (§2.3, revision 2)', () => {
  test('a flood that evicts every session and overflows every list does not free a captured cipher_text', async () => {
    const clock = manualClock();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      now: clock.now,
      sessionTtlMs: TTL_MS,
      maxSessions: 2,
      maxReplayTags: 64,
    });
    const captured = await clientHandshake(responder.fetch, 'edge-01');
    const { fingerprint } = captured.doc;
    // Past the session bound and the memory session store's retired list (both `maxSessions`).
    for (let flooded = 0; flooded < 12; flooded++) {
      clock.advance(10);
      const response = await responder.fetch(handshakeRequest(randomCipherText(), fingerprint));
      expect(response.status).toBe(200);
    }
    clock.advance(TTL_MS / 2);
    const replay = await responder.fetch(handshakeRequest(captured.cipherTextB64, fingerprint));
    await expectError(replay, 409, 'replayed_handshake');
    responder.close();
  });

  test('a full replay memory refuses new handshakes with 429 and Retry-After rather than forget a tag', async () => {
    const clock = manualClock();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      now: clock.now,
      sessionTtlMs: TTL_MS,
      maxSessions: 2,
      maxReplayTags: 4,
    });
    const captured = await clientHandshake(responder.fetch, 'edge-01');
    const { fingerprint } = captured.doc;
    const codes: number[] = [];
    for (let flooded = 0; flooded < 10; flooded++) {
      clock.advance(1_000);
      const response = await responder.fetch(handshakeRequest(randomCipherText(), fingerprint));
      codes.push(response.status);
      if (response.status === 429) {
        const body = await expectError(response, 429, 'rate_limited');
        expect(Object.keys(body).sort()).toEqual(['error', 'message']);
        // The oldest tag (the captured one) expires TTL_MS after it was taken.
        const elapsed = (flooded + 1) * 1_000;
        expect(response.headers.get('retry-after')).toBe(String((TTL_MS - elapsed) / 1_000));
      } else {
        await response.body?.cancel();
      }
    }
    expect(codes).toEqual([200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
    // Every bound is past; the captured cipher_text is still refused inside its lifetime.
    const replay = await responder.fetch(handshakeRequest(captured.cipherTextB64, fingerprint));
    await expectError(replay, 409, 'replayed_handshake');
    // Once the oldest tag expires, one more handshake fits again.
    clock.advance(TTL_MS - 10_000);
    const after = await responder.fetch(handshakeRequest(randomCipherText(), fingerprint));
    expect(after.status).toBe(200);
    responder.close();
  });

  test('deleting the session does not forget its replay tag', async () => {
    const clock = manualClock();
    const replayMemory = createMemoryReplayMemory({ maxTags: 8, now: clock.now });
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      now: clock.now,
      sessionTtlMs: TTL_MS,
      replayMemory,
    });
    const captured = await clientHandshake(responder.fetch, 'edge-01');
    const fingerprint = captured.doc.fingerprint;
    clock.advance(TTL_MS - 1);
    const replay = await responder.fetch(handshakeRequest(captured.cipherTextB64, fingerprint));
    await expectError(replay, 409, 'replayed_handshake');
    responder.close();
  });
});

describe('createMemoryReplayMemory', () => {
  const tag = (byte: number): { fingerprint: string; cipherTextHash: Uint8Array } => ({
    fingerprint: 'ab'.repeat(32),
    cipherTextHash: new Uint8Array(32).fill(byte),
  });

  test('remembers a tag until its expiry, refuses when full, and forgets on request', async () => {
    const clock = manualClock(0);
    const memory = createMemoryReplayMemory({ maxTags: 2, now: clock.now });
    expect(await memory.remember(tag(1), 5_000)).toEqual({ status: 'remembered' });
    expect(await memory.remember(tag(1), 5_000)).toEqual({ status: 'replayed' });
    expect(await memory.remember(tag(2), 6_000)).toEqual({ status: 'remembered' });
    expect(await memory.remember(tag(3), 7_000)).toEqual({ status: 'full', retryAt: 5_000 });
    // A refused tag changed nothing: it is not remembered.
    await memory.forget(tag(2));
    expect(await memory.remember(tag(3), 7_000)).toEqual({ status: 'remembered' });
    clock.advance(5_000);
    expect(await memory.remember(tag(1), 10_000)).toEqual({ status: 'remembered' });
  });

  test('its options are checked when it is created', () => {
    expect(() => createMemoryReplayMemory({ maxTags: 0 })).toThrow(RangeError);
    expect(() => createMemoryReplayMemory({ maxTags: 1.5 })).toThrow(RangeError);
  });

  test('a malformed tag is refused with a TypeError, remembering nothing', async () => {
    const memory = createMemoryReplayMemory({ maxTags: 1 });
    await expect(
      memory.remember({ fingerprint: 'ab', cipherTextHash: new Uint8Array(3) }, Date.now() + 1),
    ).rejects.toThrow(TypeError);
    expect(await memory.remember(tag(1), Date.now() + 1_000)).toEqual({ status: 'remembered' });
  });
});
