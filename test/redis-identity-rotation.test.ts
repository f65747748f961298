/**
 * The identity key (§8) and key rotation (§8.3) through one Redis (issue #15): two responders
 * share one identity (made once, whoever asks first), sign documents that verify under one
 * identity pin, with serials that never go back from one instance to the other; a key rotated
 * through one is served by the other, the retired key opens handshakes through both during its
 * grace period and through neither after it.
 */
import { describe, expect, test } from 'vitest';
import { checkAttestation } from '../src/core/attestation.js';
import { ALG } from '../src/core/constants.js';
import { base64Decode } from '../src/core/encoding.js';
import { kemEncapsulate } from '../src/core/kem.js';
import { createRedisKeyStore, createRedisStores } from '../src/redis.js';
import { type Responder, createIdentity, createResponder } from '../src/responder.js';
import { testPrefix, useRedis } from './helpers/redis.js';
import { FIELD_KEY, expectError, fetchKeyDoc, jsonRequest } from './helpers/responder.js';
import { storedKey } from './helpers/store-contract.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };
const redis = useRedis();

interface SignedDoc {
  public_key: string;
  fingerprint: string;
  machine_id: string;
  attestation: { serial: number };
}

/** A clock shared by the instances of a test, moved by hand. */
function clock(): { now: () => number; advance(ms: number): void } {
  let at = Date.now();
  return {
    now: () => at,
    advance(ms: number) {
      at += ms;
    },
  };
}

function instance(prefix: string, now: () => number, identity: boolean): Responder {
  const stores = createRedisStores({
    client: redis(),
    fieldKey: FIELD_KEY,
    keyPrefix: prefix,
    now,
  });
  return createResponder({
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    keyStore: stores.keyStore,
    sessionStore: stores.sessionStore,
    replayMemory: stores.replayMemory,
    recordState: stores.recordState,
    now,
    storeTimeoutMs: 2_000,
    ...(identity ? { identity: { store: stores.keyStore } } : {}),
  });
}

/** A handshake on the key of `doc` (its fingerprint named), through `fetch`. */
function handshakeTo(fetch: (r: Request) => Promise<Response>, doc: SignedDoc): Promise<Response> {
  const { cipherText } = kemEncapsulate(base64Decode(doc.public_key, 1184));
  return fetch(
    jsonRequest('/api/keyex/edge-01/handshake', {
      cipher_text: Buffer.from(cipherText).toString('base64'),
      fingerprint: doc.fingerprint,
    }),
  );
}

describe('the identity key in Redis', () => {
  test('two instances: one identity made once, documents that verify under one pin, serials that never go back', async () => {
    const prefix = testPrefix();
    const store = createRedisKeyStore(redis(), { keyPrefix: prefix });
    const made = await Promise.all(
      Array.from({ length: 4 }, () => createIdentity({ store, fieldKey: FIELD_KEY })),
    );
    expect(new Set(made.map((m) => m.identity)).size).toBe(1);
    expect(made.filter((m) => m.created)).toHaveLength(1);
    const identity = made[0]?.identity as string;

    const ahead = clock();
    ahead.advance(10_000);
    const behind = clock();
    const a = instance(prefix, ahead.now, true);
    const b = instance(prefix, behind.now, true);
    expect(await a.identity()).toBe(identity);
    expect(await b.identity()).toBe(identity);
    const docA = (await fetchKeyDoc(a.fetch, 'edge-01')) as unknown as SignedDoc;
    const docB = (await fetchKeyDoc(b.fetch, 'edge-01')) as unknown as SignedDoc;
    expect(docB.fingerprint).toBe(docA.fingerprint);
    // B's clock is 10 s behind; its serial is still not below the one A served.
    expect(docB.attestation.serial).toBeGreaterThanOrEqual(docA.attestation.serial);
    for (const [doc, now] of [
      [docA, ahead.now()],
      [docB, behind.now()],
    ] as const) {
      const checked = await checkAttestation(doc.attestation, {
        document: {
          alg: ALG,
          slug: 'edge-01',
          machineId: doc.machine_id,
          publicKey: base64Decode(doc.public_key, 1184),
        },
        identityPins: [identity],
        nowSeconds: Math.floor(now / 1000),
        skewSeconds: 60,
      });
      expect(checked.identity).toBe(identity);
    }
    a.close();
    b.close();
  });

  test('a stored identity that is not one is a store_error and is never replaced', async () => {
    const prefix = testPrefix();
    await redis().sendCommand(['SET', `${prefix}identity`, '{"sigAlg":1}']);
    const store = createRedisKeyStore(redis(), { keyPrefix: prefix });
    await expect(store.getIdentity()).rejects.toMatchObject({ code: 'store_error' });
    await expect(createIdentity({ store, fieldKey: FIELD_KEY })).rejects.toMatchObject({
      code: 'store_error',
    });
    expect(await redis().sendCommand(['GET', `${prefix}identity`])).toBe('{"sigAlg":1}');
    await redis().sendCommand(['HSET', `${prefix}serials`, `${'ab'.repeat(32)}/edge-01`, '-1']);
    await expect(store.getSerial('edge-01', 'ab'.repeat(32))).rejects.toMatchObject({
      code: 'store_error',
    });
  });
});

describe('key rotation with Redis', () => {
  test('rotated through one, served by the other; the retired key opens handshakes through both in its grace, through neither after', async () => {
    const prefix = testPrefix();
    const c = clock();
    const a = instance(prefix, c.now, false);
    const b = instance(prefix, c.now, false);
    const old = (await fetchKeyDoc(a.fetch, 'edge-01')) as unknown as SignedDoc;
    expect(((await fetchKeyDoc(b.fetch, 'edge-01')) as unknown as SignedDoc).fingerprint).toBe(
      old.fingerprint,
    );
    const rotated = await a.rotateKey('edge-01', { graceSeconds: 600 });
    expect(rotated.previousFingerprint).toBe(old.fingerprint);
    // B re-reads the key once its cached one is a second old (keyRefreshMs).
    c.advance(1_000);
    const fresh = (await fetchKeyDoc(b.fetch, 'edge-01')) as unknown as SignedDoc;
    expect(fresh.fingerprint).toBe(rotated.fingerprint);
    expect(((await fetchKeyDoc(a.fetch, 'edge-01')) as unknown as SignedDoc).fingerprint).toBe(
      rotated.fingerprint,
    );
    for (const through of [a, b]) {
      expect((await handshakeTo(through.fetch, old)).status).toBe(200);
      expect((await handshakeTo(through.fetch, fresh)).status).toBe(200);
    }
    const store = createRedisKeyStore(redis(), { keyPrefix: prefix });
    expect((await store.getRetired('edge-01'))?.key.publicKey).toBe(old.public_key);
    c.advance(600_000);
    for (const through of [a, b]) {
      await expectError(await handshakeTo(through.fetch, old), 409, 'key_mismatch');
      expect((await handshakeTo(through.fetch, fresh)).status).toBe(200);
    }
    // The retired key's secret is gone from Redis.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await store.getRetired('edge-01')).toBeUndefined();
    a.close();
    b.close();
  });

  test('racing rotations of one key: exactly one replaces it; Redis drops a retired key whose grace has ended', async () => {
    const prefix = testPrefix();
    const store = createRedisKeyStore(redis(), { keyPrefix: prefix });
    const current = await store.putIfAbsent(storedKey('edge-01', 'OLD'));
    const until = Date.now() + 60_000;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.replace(current, storedKey('edge-01', `NEW${i}`), until),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await store.getRetired('edge-01'))?.key.publicKey).toBe('OLD');
    const now = (await store.get('edge-01')) as NonNullable<Awaited<ReturnType<typeof store.get>>>;
    // A grace that has already ended: Redis keeps no retired key.
    expect(await store.replace(now, storedKey('edge-01', 'NEWEST'), Date.now() - 1)).toBe(true);
    expect(await store.getRetired('edge-01')).toBeUndefined();
  });
});
