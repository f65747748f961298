/**
 * The store contract: what every key store, session store, replay memory and seed store must do,
 * whatever keeps the data (process memory, files, Redis). Each `describe…Contract` registers the
 * same tests for one implementation; the test files call it once per implementation.
 *
 * Concurrency is part of the contract: many racing `putIfAbsent` calls end with exactly one
 * winner that every caller sees, and many racing uses of one replay tag give exactly one
 * `created` / `remembered`.
 */
import { describe, expect, test } from 'vitest';
import { ALG } from '../../src/core/constants.js';
import { sha256 } from '../../src/core/primitives.js';
import type { RateLimitStore } from '../../src/responder/rate-limit-store.js';
import type { ReplayMemory } from '../../src/responder/replay-memory.js';
import type { SeedStore, StoredSeed } from '../../src/responder/seed-store.js';
import type {
  KeyStore,
  ReplayTag,
  SessionStore,
  StoredKey,
  StoredSession,
} from '../../src/responder/stores.js';

/** How many callers race in the concurrency tests. */
const RACERS = 50;

/** Makes a fresh, empty store for one test. */
export type MakeStore<T> = () => Promise<T> | T;

let serial = 0;
/** A name no other test of this run uses (stores may be shared between tests). */
export function unique(prefix: string): string {
  serial += 1;
  return `${prefix}-${process.pid}-${serial}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A stored key of string fields (content is the key manager's to check, not the store's). */
export function storedKey(slug: string, publicKey = 'AAAA'): StoredKey {
  return {
    alg: ALG,
    slug,
    machineId: `machine:${slug}`,
    publicKey,
    sealedSecretKey: `sealed-${publicKey}`,
    createdAt: '2030-01-01T00:00:00.000Z',
  };
}

/** A 22-character session id, as the responder makes them. */
export function sessionId(): string {
  return Buffer.from(sha256(new TextEncoder().encode(unique('session'))))
    .subarray(0, 16)
    .toString('base64url');
}

/** A session with a distinctive record key. */
export function storedSession(expiresAt: number, id: string = sessionId()): StoredSession {
  return {
    sessionId: id,
    slug: 'edge-01',
    machineId: 'machine:edge-01',
    recordKey: sha256(new TextEncoder().encode(id)),
    expiresAt,
  };
}

/** A replay tag no other test uses. */
export function replayTag(): ReplayTag {
  return {
    fingerprint: 'ab'.repeat(32),
    cipherTextHash: sha256(new TextEncoder().encode(unique('ct'))),
  };
}

/** A stored seed for a fresh pair of machines. */
export function storedSeed(
  local: string = `machine:${unique('l')}`,
  peer: string = `machine:${unique('p')}`,
  commitment: string = 'cd'.repeat(32),
): StoredSeed {
  return {
    alg: ALG,
    role: 'initiator',
    localSlug: 'edge-01',
    localMachineId: local,
    peerMachineId: peer,
    fingerprint: 'ef'.repeat(32),
    seedCommitment: commitment,
    sealedSeed: `sealed-${commitment}`,
    createdAt: '2030-01-01T00:00:00.000Z',
  };
}

const plain = (key: StoredKey | undefined): unknown => (key === undefined ? key : { ...key });

/**
 * The key store contract.
 * @param name - the implementation's name.
 * @param make - a fresh store.
 */
export function describeKeyStoreContract(name: string, make: MakeStore<KeyStore>): void {
  describe(`${name} key store: the store contract`, () => {
    test('an unknown slug has no key', async () => {
      const store = await make();
      await expect(store.get(unique('none'))).resolves.toBeUndefined();
    });

    test('putIfAbsent stores a key, which get returns field for field', async () => {
      const store = await make();
      const key = storedKey(unique('slug'));
      expect(plain(await store.putIfAbsent(key))).toEqual(key);
      expect(plain(await store.get(key.slug))).toEqual(key);
    });

    test('a second putIfAbsent keeps the first key and returns it', async () => {
      const store = await make();
      const slug = unique('slug');
      const first = storedKey(slug, 'FIRST');
      await store.putIfAbsent(first);
      expect(plain(await store.putIfAbsent(storedKey(slug, 'SECOND')))).toEqual(first);
      expect(plain(await store.get(slug))).toEqual(first);
    });

    test('extra properties of a key are not stored', async () => {
      const store = await make();
      const key = { ...storedKey(unique('slug')), extra: 'dropped' };
      await store.putIfAbsent(key);
      expect(await store.get(key.slug)).not.toHaveProperty('extra');
    });

    test('a key that is not a StoredKey is refused and nothing is stored', async () => {
      const store = await make();
      const slug = unique('slug');
      const bad = { ...storedKey(slug), publicKey: 42 } as unknown as StoredKey;
      await expect(store.putIfAbsent(bad)).rejects.toBeInstanceOf(TypeError);
      await expect(store.get(slug)).resolves.toBeUndefined();
    });

    test(`${RACERS} racing putIfAbsent calls: exactly one key wins and every caller gets it`, async () => {
      const store = await make();
      const slug = unique('slug');
      const results = await Promise.all(
        Array.from({ length: RACERS }, (_, i) => store.putIfAbsent(storedKey(slug, `K${i}`))),
      );
      const winners = new Set(results.map((key) => key.publicKey));
      expect(winners.size).toBe(1);
      expect((await store.get(slug))?.publicKey).toBe(results[0]?.publicKey);
    });
  });
}

/**
 * The session store contract.
 * @param name - the implementation's name.
 * @param make - a fresh store.
 */
export function describeSessionStoreContract(name: string, make: MakeStore<SessionStore>): void {
  describe(`${name} session store: the store contract`, () => {
    const later = (): number => Date.now() + 60_000;

    test('a created session is returned with its fields and record key', async () => {
      const store = await make();
      const session = storedSession(later());
      await expect(store.create(session, replayTag())).resolves.toBe('created');
      const got = await store.get(session.sessionId);
      expect(got?.sessionId).toBe(session.sessionId);
      expect(got?.slug).toBe(session.slug);
      expect(got?.machineId).toBe(session.machineId);
      expect(got?.expiresAt).toBe(session.expiresAt);
      expect(Array.from(got?.recordKey ?? [])).toEqual(Array.from(session.recordKey));
    });

    test('the store keeps its own copy of the record key', async () => {
      const store = await make();
      const session = storedSession(later());
      const expected = Array.from(session.recordKey);
      await store.create(session, replayTag());
      session.recordKey.fill(0);
      expect(Array.from((await store.get(session.sessionId))?.recordKey ?? [])).toEqual(expected);
    });

    test('an unknown session id is undefined', async () => {
      const store = await make();
      await expect(store.get(sessionId())).resolves.toBeUndefined();
    });

    test('a replayed tag is refused and stores nothing', async () => {
      const store = await make();
      const tag = replayTag();
      await store.create(storedSession(later()), tag);
      const second = storedSession(later());
      await expect(store.create(second, tag)).resolves.toBe('replayed');
      await expect(store.get(second.sessionId)).resolves.toBeUndefined();
    });

    test('a deleted session is gone, and its tag stays refused', async () => {
      const store = await make();
      const tag = replayTag();
      const session = storedSession(later());
      await store.create(session, tag);
      await store.delete(session.sessionId);
      await expect(store.get(session.sessionId)).resolves.toBeUndefined();
      await expect(store.create(storedSession(later()), tag)).resolves.toBe('replayed');
    });

    test('deleting an unknown session is not an error', async () => {
      const store = await make();
      await expect(store.delete(sessionId())).resolves.toBeUndefined();
    });

    test('a replay tag that is not a fingerprint and a 32-byte hash is refused', async () => {
      const store = await make();
      const bad = { fingerprint: 'ab'.repeat(32), cipherTextHash: new Uint8Array(31) };
      await expect(store.create(storedSession(later()), bad)).rejects.toBeInstanceOf(TypeError);
    });

    test(`${RACERS} racing creates with one replay tag: exactly one is created`, async () => {
      const store = await make();
      const tag = replayTag();
      const sessions = Array.from({ length: RACERS }, () => storedSession(later()));
      const results = await Promise.all(sessions.map((session) => store.create(session, tag)));
      expect(results.filter((result) => result === 'created')).toHaveLength(1);
      const stored = await Promise.all(sessions.map((session) => store.get(session.sessionId)));
      expect(stored.filter((session) => session !== undefined)).toHaveLength(1);
    });
  });
}

/**
 * The replay memory contract.
 * @param name - the implementation's name.
 * @param make - a fresh memory.
 */
export function describeReplayMemoryContract(name: string, make: MakeStore<ReplayMemory>): void {
  describe(`${name} replay memory: the store contract`, () => {
    const later = (): number => Date.now() + 60_000;

    test('a new tag is remembered, then replayed', async () => {
      const memory = await make();
      const tag = replayTag();
      await expect(memory.remember(tag, later())).resolves.toEqual({ status: 'remembered' });
      await expect(memory.remember(tag, later())).resolves.toEqual({ status: 'replayed' });
    });

    test('the same ciphertext hash under another key pair is another tag', async () => {
      const memory = await make();
      const tag = replayTag();
      await memory.remember(tag, later());
      const other = { ...tag, fingerprint: '01'.repeat(32) };
      await expect(memory.remember(other, later())).resolves.toEqual({ status: 'remembered' });
    });

    test('a forgotten tag may be remembered again', async () => {
      const memory = await make();
      const tag = replayTag();
      await memory.remember(tag, later());
      await memory.forget(tag);
      await expect(memory.remember(tag, later())).resolves.toEqual({ status: 'remembered' });
    });

    test('a malformed tag or expiry is refused', async () => {
      const memory = await make();
      const bad = { fingerprint: 'ab'.repeat(32), cipherTextHash: new Uint8Array(8) };
      await expect(memory.remember(bad, later())).rejects.toBeInstanceOf(TypeError);
      await expect(memory.remember(replayTag(), Number.NaN)).rejects.toBeInstanceOf(TypeError);
    });

    test(`${RACERS} racing remembers of one tag: exactly one is remembered`, async () => {
      const memory = await make();
      const tag = replayTag();
      const results = await Promise.all(
        Array.from({ length: RACERS }, () => memory.remember(tag, later())),
      );
      expect(results.filter((result) => result.status === 'remembered')).toHaveLength(1);
      expect(results.filter((result) => result.status === 'replayed')).toHaveLength(RACERS - 1);
    });
  });
}

/**
 * The seed store contract.
 * @param name - the implementation's name.
 * @param make - a fresh store.
 */
export function describeSeedStoreContract(name: string, make: MakeStore<SeedStore>): void {
  describe(`${name} seed store: the store contract`, () => {
    test('an unknown pair has no seed', async () => {
      const store = await make();
      await expect(
        store.get(`machine:${unique('a')}`, `machine:${unique('b')}`),
      ).resolves.toBeUndefined();
    });

    test('put stores a seed, which get returns field for field, for its pair only', async () => {
      const store = await make();
      const seed = storedSeed();
      await store.put(seed);
      expect({ ...(await store.get(seed.localMachineId, seed.peerMachineId)) }).toEqual(seed);
      await expect(store.get(seed.peerMachineId, seed.localMachineId)).resolves.toBeUndefined();
    });

    test('put replaces the seed of the pair', async () => {
      const store = await make();
      const first = storedSeed();
      await store.put(first);
      const second = storedSeed(first.localMachineId, first.peerMachineId, '12'.repeat(32));
      await store.put(second);
      expect({ ...(await store.get(first.localMachineId, first.peerMachineId)) }).toEqual(second);
    });

    test('list gives every stored seed once, the replaced one as it is now', async () => {
      const store = await make();
      expect(store.list, 'the store can list its seeds').toBeTypeOf('function');
      const list = (): Promise<readonly StoredSeed[]> =>
        (store.list as NonNullable<SeedStore['list']>).call(store);
      const first = storedSeed();
      const second = storedSeed();
      await store.put(first);
      await store.put(second);
      const replaced = storedSeed(first.localMachineId, first.peerMachineId, '34'.repeat(32));
      await store.put(replaced);
      const listed = (await list()).map((seed) => ({ ...seed }));
      // The store may hold seeds of other tests (a shared Redis): look for these two only.
      const mine = listed.filter((seed) =>
        [first.localMachineId, second.localMachineId].includes(seed.localMachineId),
      );
      expect(mine).toHaveLength(2);
      expect(mine).toContainEqual(replaced);
      expect(mine).toContainEqual(second);
    });

    test('a record that is not a StoredSeed is refused', async () => {
      const store = await make();
      const bad = { ...storedSeed(), role: 'nobody' } as unknown as StoredSeed;
      await expect(store.put(bad)).rejects.toBeInstanceOf(TypeError);
    });

    test(`${RACERS} racing puts for one pair: a reader sees one whole record`, async () => {
      const store = await make();
      const first = storedSeed();
      const seeds = Array.from({ length: RACERS }, (_, i) =>
        storedSeed(
          first.localMachineId,
          first.peerMachineId,
          i.toString(16).padStart(2, '0').repeat(32),
        ),
      );
      await Promise.all(seeds.map((seed) => store.put(seed)));
      const got = await store.get(first.localMachineId, first.peerMachineId);
      expect(seeds.map((seed) => ({ ...seed }))).toContainEqual({ ...got });
    });
  });
}

/**
 * The rate-limit store contract: atomic token-bucket takes on the caller's clock.
 * @param name - the implementation's name.
 * @param make - a fresh store.
 */
export function describeRateLimitStoreContract(
  name: string,
  make: MakeStore<RateLimitStore>,
): void {
  describe(`${name} rate-limit store: the store contract`, () => {
    const START = 1_800_000_000_000;
    const limit = { burst: 3, perSecond: 2 };

    test('a new bucket holds its burst, then refuses with the time until the next token', async () => {
      const store = await make();
      const bucket = unique('handshake');
      for (let i = 0; i < 3; i++)
        await expect(store.take(bucket, limit, START)).resolves.toEqual({
          allowed: true,
          retryAfterMs: 0,
        });
      await expect(store.take(bucket, limit, START)).resolves.toEqual({
        allowed: false,
        retryAfterMs: 500,
      });
    });

    test('tokens come back with time, never beyond the burst; a clock gone back refills nothing', async () => {
      const store = await make();
      const bucket = unique('records');
      for (let i = 0; i < 3; i++) await store.take(bucket, limit, START);
      expect((await store.take(bucket, limit, START - 10_000)).allowed).toBe(false);
      const half = await store.take(bucket, limit, START + 250);
      expect(half).toEqual({ allowed: false, retryAfterMs: 250 });
      expect((await store.take(bucket, limit, START + 500)).allowed).toBe(true);
      expect((await store.take(bucket, limit, START + 500)).allowed).toBe(false);
      const later = START + 60_000;
      const taken = await Promise.all([0, 1, 2, 3].map(() => store.take(bucket, limit, later)));
      expect(taken.map((t) => t.allowed)).toEqual([true, true, true, false]);
    });

    test('buckets of other names are apart', async () => {
      const store = await make();
      const one = unique('handshake');
      for (let i = 0; i < 3; i++) await store.take(one, limit, START);
      expect((await store.take(one, limit, START)).allowed).toBe(false);
      expect((await store.take(unique('handshake'), limit, START)).allowed).toBe(true);
    });

    test(`${RACERS} racing takes from a bucket of 10: exactly 10 are allowed`, async () => {
      const store = await make();
      const bucket = unique('handshake');
      const results = await Promise.all(
        Array.from({ length: RACERS }, () =>
          store.take(bucket, { burst: 10, perSecond: 0.001 }, START),
        ),
      );
      expect(results.filter((result) => result.allowed)).toHaveLength(10);
    });
  });
}
