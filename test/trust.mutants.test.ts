/**
 * The trust decision (`src/initiator/trust.ts`, spec §2.1 check 3, §6) at each of its edges: the
 * TOFU stores never overwrite a remembered fingerprint and read back what they hold, a store that
 * keeps nothing or holds something else is `store_error`, the unauthenticated mode is chosen only
 * by `true`, and the options are checked at creation. `client-trust.test.ts` has the main rules.
 */
import { describe, expect, test } from 'vitest';
import { ZeqKeyExError, isZeqKeyExError } from '../src/core/errors.js';
import {
  type IdentityTrust,
  type StorageLike,
  type TrustStore,
  createLocalStorageTrustStore,
  createMemoryTrustStore,
  createTrustPolicy,
  isSerial,
  tofuKey,
} from '../src/initiator/trust.js';
import { expectCode, expectCodeAsync } from './helpers/errors.js';

const ORIGIN = 'https://edge.test';
const SLUG = 'edge-01';
const FP = 'ab'.repeat(32);
const OTHER_FP = 'cd'.repeat(32);

class MemoryStorage implements StorageLike {
  readonly items = new Map<string, string>();
  writes = 0;
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.writes += 1;
    this.items.set(key, value);
  }
}

describe('the TOFU stores', () => {
  test('tofuKey is the origin, one space, the slug', () => {
    expect(tofuKey(ORIGIN, SLUG)).toBe('https://edge.test edge-01');
  });

  test('the memory store: putIfAbsent keeps the first fingerprint and returns it', async () => {
    const store = createMemoryTrustStore();
    expect(await store.get('k')).toBeUndefined();
    expect(await store.putIfAbsent('k', FP)).toBe(FP);
    expect(await store.putIfAbsent('k', OTHER_FP)).toBe(FP);
    expect(await store.get('k')).toBe(FP);
    expect(await store.get('other')).toBeUndefined();
    expect(await store.putIfAbsent('other', OTHER_FP)).toBe(OTHER_FP);
    expect(await store.get('other')).toBe(OTHER_FP);
  });

  test('two memory stores share nothing', async () => {
    const a = createMemoryTrustStore();
    await a.putIfAbsent('k', FP);
    expect(await createMemoryTrustStore().get('k')).toBeUndefined();
  });

  test('the localStorage store reads back what it holds, under its prefix', async () => {
    const storage = new MemoryStorage();
    const store = createLocalStorageTrustStore({ storage });
    expect(await store.get('k')).toBeUndefined();
    storage.setItem('zeq-keyex:tofu:k', FP);
    expect(await store.get('k')).toBe(FP);
    expect(await store.get('zeq-keyex:tofu:k')).toBeUndefined();
    const prefixed = createLocalStorageTrustStore({ storage, prefix: 'app/' });
    expect(await prefixed.get('k')).toBeUndefined();
    expect(await prefixed.putIfAbsent('k', OTHER_FP)).toBe(OTHER_FP);
    expect(storage.getItem('app/k')).toBe(OTHER_FP);
    expect(await prefixed.get('k')).toBe(OTHER_FP);
  });

  test('the localStorage store: putIfAbsent never overwrites, and writes only when empty', async () => {
    const storage = new MemoryStorage();
    const store = createLocalStorageTrustStore({ storage });
    expect(await store.putIfAbsent('k', FP)).toBe(FP);
    expect(storage.writes).toBe(1);
    expect(await store.putIfAbsent('k', OTHER_FP)).toBe(FP);
    expect(storage.writes).toBe(1);
    expect(storage.getItem('zeq-keyex:tofu:k')).toBe(FP);
    expect(await store.get('k')).toBe(FP);
  });

  test('a localStorage store remembers a first use across clients (a reload)', async () => {
    const storage = new MemoryStorage();
    const first = createTrustPolicy({ tofu: createLocalStorageTrustStore({ storage }) });
    await (await first.check(ORIGIN, SLUG, { fingerprint: FP })).confirmed();
    const second = createTrustPolicy({ tofu: createLocalStorageTrustStore({ storage }) });
    expect((await second.check(ORIGIN, SLUG, { fingerprint: FP })).mode).toBe('tofu-match');
    await expectCodeAsync(
      second.check(ORIGIN, SLUG, { fingerprint: OTHER_FP }),
      'tofu_key_changed',
    );
  });
});

describe('the policy', () => {
  test('a store whose putIfAbsent keeps nothing is store_error, not a trusted first use', async () => {
    const policy = createTrustPolicy({
      tofu: {
        get: async () => undefined,
        putIfAbsent: async () => undefined as unknown as string,
      },
    });
    const decision = await policy.check(ORIGIN, SLUG, { fingerprint: FP });
    expect(decision.mode).toBe('tofu-first-use');
    await expectCodeAsync(decision.confirmed(), 'store_error');
  });

  test('a putIfAbsent that fails, throws, or returns a non-fingerprint is store_error', async () => {
    const stores: TrustStore['putIfAbsent'][] = [
      () => Promise.reject(new Error('disk full')),
      () => {
        throw new Error('sync');
      },
      async () => 'EF'.repeat(32),
      async () => 42 as unknown as string,
    ];
    for (const putIfAbsent of stores) {
      const policy = createTrustPolicy({ tofu: { get: async () => undefined, putIfAbsent } });
      const decision = await policy.check(ORIGIN, SLUG, { fingerprint: FP });
      await expectCodeAsync(decision.confirmed(), 'store_error');
    }
  });

  test('a first use confirmed through a store that kept the same fingerprint succeeds', async () => {
    const calls: [string, string][] = [];
    const policy = createTrustPolicy({
      tofu: {
        get: async () => undefined,
        putIfAbsent: async (key, fingerprint) => {
          calls.push([key, fingerprint]);
          return fingerprint;
        },
      },
    });
    const decision = await policy.check(ORIGIN, SLUG, { fingerprint: FP });
    await expect(decision.confirmed()).resolves.toBeUndefined();
    expect(calls).toEqual([[tofuKey(ORIGIN, SLUG), FP]]);
  });

  test('a store error keeps the store’s failure as its cause; the SDK’s own error passes as it is', async () => {
    const disk = new Error('disk');
    const policy = createTrustPolicy({
      tofu: { get: () => Promise.reject(disk), putIfAbsent: async () => FP },
    });
    const error: unknown = await policy
      .check(ORIGIN, SLUG, { fingerprint: FP })
      .catch((e: unknown) => e);
    expect(isZeqKeyExError(error, 'store_error')).toBe(true);
    expect((error as Error).cause).toBe(disk);
    const own = new ZeqKeyExError('store_error', 'file store: malformed JSON');
    const passing = createTrustPolicy({
      tofu: { get: () => Promise.reject(own), putIfAbsent: async () => FP },
    });
    await expect(passing.check(ORIGIN, SLUG, { fingerprint: FP })).rejects.toBe(own);
  });

  test('the TOFU store is asked under tofuKey(origin, slug)', async () => {
    const asked: string[] = [];
    const policy = createTrustPolicy({
      tofu: {
        get: async (key) => {
          asked.push(key);
          return FP;
        },
        putIfAbsent: async () => FP,
      },
    });
    const decision = await policy.check(ORIGIN, SLUG, { fingerprint: FP });
    expect(decision.mode).toBe('tofu-match');
    await expect(decision.confirmed()).resolves.toBeUndefined();
    expect(asked).toEqual([tofuKey(ORIGIN, SLUG)]);
  });

  test('settled decisions are frozen and their confirmed() does nothing', async () => {
    const policy = createTrustPolicy({ pins: { [SLUG]: FP }, insecureUnpinned: true });
    const pinned = await policy.check(ORIGIN, SLUG, { fingerprint: FP });
    const open = await policy.check(ORIGIN, 'other', { fingerprint: OTHER_FP });
    expect([pinned.mode, open.mode]).toEqual(['pinned', 'unauthenticated']);
    for (const decision of [pinned, open]) {
      expect(Object.isFrozen(decision)).toBe(true);
      await expect(decision.confirmed()).resolves.toBeUndefined();
    }
    expect(Object.isFrozen(policy)).toBe(true);
  });

  test('only insecureUnpinned: true chooses the unauthenticated mode', async () => {
    for (const value of [1, 'true', {}] as unknown as boolean[]) {
      const policy = createTrustPolicy({ insecureUnpinned: value });
      expectCode(() => policy.assertChoice(SLUG), 'pin_required');
      await expectCodeAsync(policy.check(ORIGIN, SLUG, { fingerprint: FP }), 'pin_required');
    }
    const policy = createTrustPolicy({ insecureUnpinned: true });
    expect(() => policy.assertChoice(SLUG)).not.toThrow();
  });

  test('a TOFU store is a trust choice for every slug; pins only for theirs', () => {
    const tofu = createTrustPolicy({ tofu: createMemoryTrustStore() });
    expect(() => tofu.assertChoice('any-slug')).not.toThrow();
    const pinned = createTrustPolicy({ pins: { [SLUG]: FP } });
    expect(() => pinned.assertChoice(SLUG)).not.toThrow();
    expectCode(() => pinned.assertChoice('any-slug'), 'pin_required');
    expectCode(() => createTrustPolicy({}).assertChoice(SLUG), 'pin_required');
  });

  test('pins of several slugs each decide for their own slug', async () => {
    const policy = createTrustPolicy({ pins: { a: FP, b: [OTHER_FP, FP] } });
    expect((await policy.check(ORIGIN, 'b', { fingerprint: OTHER_FP })).mode).toBe('pinned');
    await expectCodeAsync(
      policy.check(ORIGIN, 'a', { fingerprint: OTHER_FP }),
      'fingerprint_mismatch',
    );
  });

  test('a tofu option that lacks either call is a TypeError; a complete one is accepted', () => {
    const get = async (): Promise<undefined> => undefined;
    const putIfAbsent = async (): Promise<string> => FP;
    for (const tofu of [
      { get },
      { putIfAbsent },
      { get: 1, putIfAbsent },
      { get, putIfAbsent: 'x' },
    ])
      expect(() => createTrustPolicy({ tofu: tofu as unknown as TrustStore })).toThrow(TypeError);
    expect(() => createTrustPolicy({ tofu: { get, putIfAbsent } })).not.toThrow();
    expect(() => createTrustPolicy({ pins: { [SLUG]: FP } })).not.toThrow();
  });
});

describe('what the errors name', () => {
  const message = async (promise: Promise<unknown>): Promise<string> => {
    const error: unknown = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    return (error as Error).message;
  };

  test('pin_required names the slug that has no trust choice', async () => {
    const policy = createTrustPolicy({ pins: { [SLUG]: FP } });
    expect(() => policy.assertChoice('edge-77')).toThrow(/edge-77/);
    expect(await message(policy.check(ORIGIN, 'edge-77', { fingerprint: FP }))).toMatch(/edge-77/);
  });

  test('a malformed tofu option names tofu; a missing storage names storage', () => {
    expect(() => createTrustPolicy({ tofu: {} as TrustStore })).toThrow(/tofu/);
    expect(() => createLocalStorageTrustStore({})).toThrow(/storage/);
  });

  test('a store_error says which entry of the store is at fault', async () => {
    const kept = createTrustPolicy({
      tofu: { get: async () => undefined, putIfAbsent: async () => undefined as unknown as string },
    });
    const decision = await kept.check(ORIGIN, SLUG, { fingerprint: FP });
    expect(await message(decision.confirmed())).toMatch(/fingerprint/);
    const edited = createTrustPolicy({
      tofu: { get: async () => 'not a fingerprint', putIfAbsent: async () => FP },
    });
    expect(await message(edited.check(ORIGIN, SLUG, { fingerprint: FP }))).toMatch(/fingerprint/);
    const storage = new MemoryStorage();
    storage.setItem('zeq-keyex:tofu:serial:k', 'twelve');
    const store = createLocalStorageTrustStore({ storage });
    expect(
      await message((store.raiseSerial as NonNullable<TrustStore['raiseSerial']>)('k', 1)),
    ).toMatch(/serial/);
  });
});

describe('identity pins come first', () => {
  const decision = { mode: 'identity', confirmed: async () => undefined } as const;
  const identity = (covered: readonly string[]): IdentityTrust => ({
    covers: (slug) => covered.includes(slug),
    check: async () => decision,
  });

  test('for a slug they cover, over its pin; other slugs keep their pins', async () => {
    const policy = createTrustPolicy({
      identity: identity([SLUG]),
      pins: { [SLUG]: OTHER_FP, other: OTHER_FP },
    });
    expect(await policy.check(ORIGIN, SLUG, { fingerprint: FP })).toBe(decision);
    await expectCodeAsync(
      policy.check(ORIGIN, 'other', { fingerprint: FP }),
      'fingerprint_mismatch',
    );
    expect(() => policy.assertChoice(SLUG)).not.toThrow();
  });

  test('a slug they do not cover, without a pin or store, has no trust choice', async () => {
    const policy = createTrustPolicy({ identity: identity([SLUG]) });
    await expectCodeAsync(policy.check(ORIGIN, 'other', { fingerprint: FP }), 'pin_required');
    expectCode(() => policy.assertChoice('other'), 'pin_required');
  });
});

describe('the serials of identity pins', () => {
  test('isSerial: an integer in [0, 2^53 − 1]', () => {
    for (const value of [0, 1, 2 ** 53 - 1]) expect(isSerial(value)).toBe(true);
    for (const value of [-1, 1.5, 2 ** 53, Number.NaN, Infinity, '1', null, undefined])
      expect(isSerial(value)).toBe(false);
  });

  const raise = (store: TrustStore): NonNullable<TrustStore['raiseSerial']> =>
    store.raiseSerial as NonNullable<TrustStore['raiseSerial']>;

  test('the memory store keeps the highest serial per key', async () => {
    const store = raise(createMemoryTrustStore());
    expect(await store('k', 5)).toBe(5);
    expect(await store('k', 3)).toBe(5);
    expect(await store('k', 7)).toBe(7);
    expect(await store('other', 0)).toBe(0);
    expect(await store('other', 1)).toBe(1);
  });

  test('the localStorage store keeps the highest serial beside the fingerprints, writing only a raise', async () => {
    const storage = new MemoryStorage();
    const store = raise(createLocalStorageTrustStore({ storage }));
    expect(await store('k', 0)).toBe(0);
    expect(storage.getItem('zeq-keyex:tofu:serial:k')).toBe('0');
    expect(await store('k', 12)).toBe(12);
    expect(storage.writes).toBe(2);
    expect(await store('k', 12)).toBe(12);
    expect(await store('k', 3)).toBe(12);
    expect(storage.writes).toBe(2);
    expect(storage.getItem('zeq-keyex:tofu:serial:k')).toBe('12');
    expect(await raise(createLocalStorageTrustStore({ storage, prefix: 'app/' }))('k', 1)).toBe(1);
    expect(storage.getItem('app/serial:k')).toBe('1');
  });

  test('a stored serial that is not a decimal integer in range is store_error', async () => {
    for (const stored of [
      '',
      ' 5',
      '5 ',
      '+5',
      '0x10',
      '1e3',
      '1.5',
      '-1',
      'twelve',
      '9999999999999999',
    ]) {
      const storage = new MemoryStorage();
      storage.setItem('zeq-keyex:tofu:serial:k', stored);
      await expectCodeAsync(
        raise(createLocalStorageTrustStore({ storage }))('k', 1),
        'store_error',
      );
    }
  });
});
