/**
 * The memory stores and the key manager: putIfAbsent semantics, session TTL and bounded eviction
 * with an injected clock, replay tags kept for the session lifetime, record keys wiped, the cost of
 * an idle session, and a key that does not open never being replaced.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { ALG } from '../src/core/constants.js';
import { base64Encode, lp } from '../src/core/encoding.js';
import { createKeyManager } from '../src/responder/key-manager.js';
import { nobleSecretKeyBytes } from '../src/internal/testing.js';
import { sha256 } from '../src/core/primitives.js';
import { createResponder } from '../src/responder.js';
import { deriveSealKey } from '../src/core/sealing.js';
import {
  type StoredKey,
  type StoredSession,
  createMemoryKeyStore,
  createMemorySessionStore,
  replayIdFor,
} from '../src/responder/stores.js';
import { expectCodeAsync } from './helpers/errors.js';
import {
  FIELD_KEY,
  OTHER_FIELD_KEY,
  clientHandshake,
  fetchKeyDoc,
  getRequest,
  observedKeyStore,
  recordingLogger,
} from './helpers/responder.js';
import { hex } from './helpers/vectors.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };

function stored(slug: string, publicKey = 'AAAA'): StoredKey {
  return {
    alg: ALG,
    slug,
    machineId: `machine:${slug}`,
    publicKey,
    sealedSecretKey: 'BBBB',
    createdAt: '2030-01-01T00:00:00.000Z',
  };
}

let counter = 0;
function session(
  expiresAt: number,
  id = `session-${String(++counter).padStart(12, '0')}`,
): StoredSession {
  return {
    sessionId: id,
    slug: 'edge-01',
    machineId: 'machine:edge-01',
    recordKey: new Uint8Array(32).fill(counter & 0xff || 1),
    expiresAt,
  };
}

function tag(
  n: number,
  fingerprint = 'ab'.repeat(32),
): { fingerprint: string; cipherTextHash: Uint8Array } {
  return { fingerprint, cipherTextHash: sha256(new Uint8Array([n, n >> 8])) };
}

describe('memory key store', () => {
  test('putIfAbsent stores once and returns the winner', async () => {
    const store = createMemoryKeyStore();
    expect(await store.get('edge-01')).toBeUndefined();
    const first = await store.putIfAbsent(stored('edge-01', 'AAAA'));
    const second = await store.putIfAbsent(stored('edge-01', 'CCCC'));
    expect(first.publicKey).toBe('AAAA');
    expect(second.publicKey).toBe('AAAA');
    expect((await store.get('edge-01'))?.publicKey).toBe('AAAA');
    await expect(store.putIfAbsent({ slug: 'x' } as unknown as StoredKey)).rejects.toThrow(
      TypeError,
    );
  });

  test('keeps a copy: mutating the input or output changes nothing stored', async () => {
    const store = createMemoryKeyStore();
    const input = { ...stored('edge-01') };
    await store.putIfAbsent(input);
    input.publicKey = 'ZZZZ';
    expect((await store.get('edge-01'))?.publicKey).toBe('AAAA');
    const out = await store.get('edge-01');
    expect(Object.isFrozen(out)).toBe(true);
  });
});

describe('replay ids', () => {
  test('equal tags have one id; a tag object changed after its first id gets the id of its new fields', () => {
    const fingerprint = 'ab'.repeat(32);
    const first = { fingerprint, cipherTextHash: new Uint8Array(32).fill(1) };
    const id = replayIdFor(first);
    expect(id).toHaveLength(32);
    expect(replayIdFor(first)).toBe(id);
    expect(replayIdFor({ fingerprint, cipherTextHash: new Uint8Array(32).fill(1) })).toBe(id);
    const other = replayIdFor({ fingerprint, cipherTextHash: new Uint8Array(32).fill(2) });
    expect(other).not.toBe(id);
    first.cipherTextHash.fill(2);
    expect(replayIdFor(first)).toBe(other);
    const renamed = { ...first, fingerprint: 'cd'.repeat(32) };
    expect(replayIdFor(renamed)).not.toBe(other);
    first.fingerprint = 'cd'.repeat(32);
    expect(replayIdFor(first)).toBe(replayIdFor(renamed));
  });

  test('an id is SHA-256 of LP(fingerprint) ‖ LP(ciphertext hash), a byte per character, whatever fingerprint came before', () => {
    const fingerprints = ['ab'.repeat(32), 'cd'.repeat(32), 'ab'.repeat(32), '', 'é'];
    for (const [i, fingerprint] of fingerprints.entries()) {
      const cipherTextHash = new Uint8Array(32).map((_, j) => (i * 32 + j) & 0xff);
      const expected = String.fromCharCode(...sha256(lp(fingerprint, cipherTextHash)));
      expect(replayIdFor({ fingerprint, cipherTextHash }), fingerprint).toBe(expected);
    }
  });
});

describe('memory session store', () => {
  test('create / get / delete, and the record key is copied then wiped on delete', async () => {
    const now = 1_000;
    const store = createMemorySessionStore({ now: () => now });
    const s = session(now + 500);
    expect(await store.create(s, tag(1))).toBe('created');
    s.recordKey.fill(0xee);
    const got = await store.get(s.sessionId);
    expect(got?.recordKey).toEqual(new Uint8Array(32).fill(counter & 0xff || 1));
    const held = got?.recordKey;
    await store.delete(s.sessionId);
    expect(await store.get(s.sessionId)).toBeUndefined();
    expect(held).toEqual(new Uint8Array(32));
    await store.delete('never-existed-000000');
  });

  test('close() forgets every session and wipes every record key it held', async () => {
    const store = createMemorySessionStore({ now: () => 0 });
    const held: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) {
      const s = session(1000);
      expect(await store.create(s, tag(100 + i))).toBe('created');
      const got = await store.get(s.sessionId);
      if (got === undefined) throw new Error('session not stored');
      expect(got.recordKey.some((byte) => byte !== 0)).toBe(true);
      held.push(got.recordKey);
    }
    store.close();
    for (const key of held) expect(key).toEqual(new Uint8Array(32));
    expect(await store.get('session-000000000001')).toBeUndefined();
  });

  test('a replay tag is refused while live, and nothing is stored for the replay', async () => {
    const store = createMemorySessionStore({ now: () => 0 });
    const a = session(1000);
    expect(await store.create(a, tag(7))).toBe('created');
    const b = session(1000);
    expect(await store.create(b, tag(7))).toBe('replayed');
    expect(await store.get(b.sessionId)).toBeUndefined();
    // Same ciphertext hash under another key pair is a different handshake.
    expect(await store.create(session(1000), tag(7, 'cd'.repeat(32)))).toBe('created');
  });

  test('TTL: an expired session is purged (and wiped) by the next write; its replay tag is released', async () => {
    let now = 10_000;
    const store = createMemorySessionStore({ now: () => now });
    const a = session(now + 100);
    await store.create(a, tag(1));
    const held = (await store.get(a.sessionId))?.recordKey;
    now += 99;
    expect(await store.create(session(now + 100), tag(1))).toBe('replayed');
    now += 1;
    // get() still returns it until purged, so a records route can answer 410 rather than 404.
    expect((await store.get(a.sessionId))?.expiresAt).toBe(now);
    expect(await store.create(session(now + 100), tag(2))).toBe('created');
    expect(await store.get(a.sessionId)).toBeUndefined();
    expect(held).toEqual(new Uint8Array(32));
    expect(await store.create(session(now + 100), tag(1))).toBe('created');
  });

  test('bounded: the oldest session is evicted and wiped; its replay tag stays refused until expiry', async () => {
    let now = 0;
    const store = createMemorySessionStore({ maxSessions: 3, now: () => now });
    const made: StoredSession[] = [];
    for (let i = 0; i < 5; i++) {
      const s = session(1_000);
      made.push(s);
      expect(await store.create(s, tag(100 + i))).toBe('created');
    }
    const present = await Promise.all(
      made.map(async (s) => (await store.get(s.sessionId)) !== undefined),
    );
    expect(present).toEqual([false, false, true, true, true]);
    // Evicted before expiry: still refused.
    expect(await store.create(session(1_000), tag(100))).toBe('replayed');
    expect(await store.create(session(1_000), tag(101))).toBe('replayed');
    now = 1_000;
    expect(await store.create(session(2_000), tag(100))).toBe('created');
  });

  test('the tags of deleted or evicted sessions are bounded too, oldest dropped first, live ones never', async () => {
    const store = createMemorySessionStore({ maxSessions: 2, maxRetiredReplays: 2, now: () => 0 });
    const live = session(1_000);
    await store.create(live, tag(1));
    for (let i = 2; i <= 6; i++) {
      const s = session(1_000);
      await store.create(s, tag(i));
      await store.delete(s.sessionId);
    }
    // Retired: tags 5 and 6 kept, 2..4 dropped. Tag 1 belongs to a live session: kept.
    expect(await store.create(session(1_000), tag(1))).toBe('replayed');
    expect(await store.create(session(1_000), tag(6))).toBe('replayed');
    expect(await store.create(session(1_000), tag(5))).toBe('replayed');
    expect(await store.create(session(1_000), tag(2))).toBe('created');
    expect(await store.get(live.sessionId)).toBeDefined();
  });

  test('a duplicate session id is refused without replacing the session', async () => {
    const store = createMemorySessionStore({ now: () => 0 });
    const a = session(1_000, 'fixed-session-id-00001');
    await store.create(a, tag(1));
    await expectCodeAsync(
      store.create(session(1_000, 'fixed-session-id-00001'), tag(2)),
      'store_error',
    );
    expect(await store.create(session(1_000), tag(2))).toBe('created');
  });

  test('bounds and clock are validated', () => {
    expect(() => createMemorySessionStore({ maxSessions: 0 })).toThrow(RangeError);
    expect(() => createMemorySessionStore({ maxRetiredReplays: -1 })).toThrow(RangeError);
    expect(() => createMemorySessionStore({ now: 3 as unknown as () => number })).toThrow(
      TypeError,
    );
  });

  test('the responder evicts through its default store (maxSessions)', async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, maxSessions: 2 });
    const a = await clientHandshake(responder.fetch, 'edge-01');
    await clientHandshake(responder.fetch, 'edge-01');
    await clientHandshake(responder.fetch, 'edge-01');
    // The oldest session was evicted, its replay tag is still refused.
    const replay = await responder.fetch(
      new Request('https://responder.test/api/keyex/edge-01/handshake', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cipher_text: a.cipherTextB64 }),
      }),
    );
    expect(replay.status).toBe(409);
  });

  test('an idle session costs well under 1 KiB', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const n = 10_000;
    const stores: unknown[] = [];
    const samples: number[] = [];
    const fill = (store: ReturnType<typeof createMemorySessionStore>, round: number): void => {
      for (let i = 0; i < n; i++) {
        // As the responder makes them: 16 bytes, base64url without padding.
        const sessionId = base64Encode(sha256(new Uint8Array([i, i >> 8, round])).subarray(0, 16))
          .replace(/=+$/, '')
          .replace(/\+/g, '-')
          .replace(/\//g, '_');
        const recordKey = new Uint8Array(32).fill(1);
        void store.create(
          { sessionId, slug: 'edge-01', machineId: 'machine:edge-01', recordKey, expiresAt: 1e12 },
          {
            fingerprint: 'ab'.repeat(32),
            cipherTextHash: sha256(new Uint8Array([i, i >> 8, round, 2])),
          },
        );
      }
    };
    for (let round = 0; round < 3; round++) {
      gc();
      gc();
      const before = process.memoryUsage().heapUsed;
      const store = createMemorySessionStore({ maxSessions: n, now: () => 0 });
      stores.push(store);
      fill(store, round); // everything but what the store keeps is garbage afterwards
      gc();
      gc();
      samples.push((process.memoryUsage().heapUsed - before) / n);
    }
    expect(stores).toHaveLength(3);
    const median = [...samples].sort((a, b) => a - b)[1] as number;
    expect(median).toBeGreaterThan(32); // the record key alone
    // About 540 B on Node 20, most of it the record key's Uint8Array; 768 leaves room for other engines.
    expect(median).toBeLessThan(768);
  });
});

describe('key manager', () => {
  test('close() wipes the cached decapsulation keys', async () => {
    const manager = createKeyManager({
      sealKey: deriveSealKey(hex(FIELD_KEY)),
      keyStore: createMemoryKeyStore(),
      logger: recordingLogger(),
      now: Date.now,
    });
    const key = await manager.obtain('edge-01', 'machine:edge-01');
    // The default backend of the manager is noble, whose expanded key bytes can be seen and zeroed.
    expect(key.secretKey.backend).toBe('noble');
    const bytes = nobleSecretKeyBytes(key.secretKey) ?? new Uint8Array(0);
    expect(bytes).toHaveLength(2400);
    expect(bytes.some((b) => b !== 0)).toBe(true);
    expect(await manager.find('edge-01', 'machine:edge-01')).toBe(key);
    manager.close();
    expect(bytes.every((b) => b === 0)).toBe(true);
    await expectCodeAsync(key.secretKey.decapsulate(new Uint8Array(1088)), 'invalid_secret_key');
    await expectCodeAsync(manager.obtain('edge-01', 'machine:edge-01'), 'machine_unavailable');
  });

  test('find() never generates; obtain() after a concurrent empty find() does', async () => {
    const keyStore = observedKeyStore();
    const manager = createKeyManager({
      sealKey: deriveSealKey(hex(FIELD_KEY)),
      keyStore,
      logger: recordingLogger(),
      now: Date.now,
    });
    const [found, obtained] = await Promise.all([
      manager.find('edge-01', 'machine:edge-01'),
      manager.obtain('edge-01', 'machine:edge-01'),
    ]);
    expect(found).toBeUndefined();
    expect(obtained.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(keyStore.writes).toHaveLength(1);
    expect((await manager.find('edge-01', 'machine:edge-01'))?.fingerprint).toBe(
      obtained.fingerprint,
    );
  });

  test('a store failure is not cached: the next request tries again', async () => {
    let fail = true;
    const inner = createMemoryKeyStore();
    const manager = createKeyManager({
      sealKey: deriveSealKey(hex(FIELD_KEY)),
      keyStore: {
        get: (slug) => (fail ? Promise.reject(new Error('transient')) : inner.get(slug)),
        putIfAbsent: (k) => inner.putIfAbsent(k),
      },
      logger: recordingLogger(),
      now: Date.now,
    });
    await expectCodeAsync(manager.obtain('edge-01', 'machine:edge-01'), 'store_error');
    fail = false;
    expect((await manager.obtain('edge-01', 'machine:edge-01')).machineId).toBe('machine:edge-01');
  });
});

describe('a stored key that does not open is never replaced', () => {
  async function setup(): Promise<{
    keyStore: ReturnType<typeof observedKeyStore>;
    fingerprint: string;
  }> {
    const keyStore = observedKeyStore();
    const original = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, keyStore });
    const { fingerprint } = await fetchKeyDoc(original.fetch, 'edge-01');
    return { keyStore, fingerprint };
  }

  async function expectRefused(
    keyStore: ReturnType<typeof observedKeyStore>,
    options: { fieldKey?: string; machines?: Record<string, string> },
    reason: string,
  ): Promise<void> {
    const logger = recordingLogger();
    const before = keyStore.snapshot();
    const puts = keyStore.calls.putIfAbsent;
    const responder = createResponder({
      fieldKey: options.fieldKey ?? FIELD_KEY,
      machines: options.machines ?? MACHINES,
      keyStore,
      logger,
    });
    for (let i = 0; i < 3; i++) {
      const response = await responder.fetch(getRequest('/api/keyex/edge-01/pubkey'));
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'internal', message: 'internal error' });
    }
    await expectCodeAsync(responder.keyDocument('edge-01'), 'machine_unavailable');
    expect(keyStore.snapshot()).toBe(before);
    expect(keyStore.calls.putIfAbsent).toBe(puts);
    const reasons = logger.lines
      .filter((l) => l.fields?.['reason'] !== undefined)
      .map((l) => l.fields?.['reason']);
    expect(logger.lines.every((l) => l.fields?.['code'] === 'machine_unavailable')).toBe(true);
    expect(reasons.length).toBeGreaterThan(0);
    expect(new Set(reasons)).toEqual(new Set([reason]));
  }

  test('wrong field key → that machine refuses (500), store untouched, no new key', async () => {
    const { keyStore } = await setup();
    await expectRefused(keyStore, { fieldKey: OTHER_FIELD_KEY }, 'unseal_failed');
  });

  test('a tampered sealed key → refused', async () => {
    const { keyStore } = await setup();
    const [[, record]] = JSON.parse(keyStore.snapshot()) as [[string, StoredKey]];
    const bytes = Buffer.from(record.sealedSecretKey, 'base64');
    bytes[20] = (bytes[20] ?? 0) ^ 1;
    keyStore.tamper('edge-01', { ...record, sealedSecretKey: bytes.toString('base64') });
    await expectRefused(keyStore, {}, 'unseal_failed');
  });

  test('a stored key bound to another machine_id than configured → refused', async () => {
    const { keyStore } = await setup();
    await expectRefused(
      keyStore,
      { machines: { 'edge-01': 'machine:other' } },
      'machine_id_mismatch',
    );
  });

  test('a record whose machine_id was rewritten to match the configuration → the seal refuses it', async () => {
    const { keyStore } = await setup();
    const [[, record]] = JSON.parse(keyStore.snapshot()) as [[string, StoredKey]];
    keyStore.tamper('edge-01', { ...record, machineId: 'machine:other' });
    await expectRefused(keyStore, { machines: { 'edge-01': 'machine:other' } }, 'unseal_failed');
  });

  test('a swapped public key → refused', async () => {
    const { keyStore } = await setup();
    const [[, record]] = JSON.parse(keyStore.snapshot()) as [[string, StoredKey]];
    keyStore.tamper('edge-01', {
      ...record,
      publicKey: base64Encode(new Uint8Array(1184).fill(1)),
    });
    await expectRefused(keyStore, {}, 'unseal_failed');
  });

  test('malformed records → refused', async () => {
    const { keyStore } = await setup();
    const [[, record]] = JSON.parse(keyStore.snapshot()) as [[string, StoredKey]];
    keyStore.tamper('edge-01', { ...record, alg: 'ML-KEM-1024' });
    await expectRefused(keyStore, {}, 'unsupported_alg');
    // An alg the SDK speaks, but not the machine's (spec §9): never served as the machine's alg.
    keyStore.tamper('edge-01', { ...record, alg: 'X-Wing' });
    await expectRefused(keyStore, {}, 'alg_mismatch');
    keyStore.tamper('edge-01', { ...record, publicKey: 'short' });
    await expectRefused(keyStore, {}, 'invalid_public_key');
    keyStore.tamper('edge-01', { ...record, slug: 'edge-02' });
    await expectRefused(keyStore, {}, 'slug_mismatch');
    keyStore.tamper('edge-01', { ...record, createdAt: 5 } as unknown as StoredKey);
    await expectRefused(keyStore, {}, 'malformed_record');
  });

  test('a handshake to a machine that cannot open its key → 500, no session', async () => {
    const { keyStore, fingerprint } = await setup();
    const responder = createResponder({ fieldKey: OTHER_FIELD_KEY, machines: MACHINES, keyStore });
    const response = await responder.fetch(
      new Request('https://responder.test/api/keyex/edge-01/handshake', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cipher_text: base64Encode(new Uint8Array(1088)), fingerprint }),
      }),
    );
    expect(response.status).toBe(500);
  });
});
