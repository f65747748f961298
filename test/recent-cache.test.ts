/**
 * `createRecentCache`: the last `limit` public keys added are kept, oldest out first, found by
 * their bytes (a copy), and a value that fails to be made is never kept.
 */
import { describe, expect, test } from 'vitest';
import { createRecentCache } from '../src/core/recent-cache.js';

const key = (byte: number): Uint8Array => new Uint8Array(8).fill(byte);

describe('createRecentCache', () => {
  test('makes a value once per key and finds it by its bytes', () => {
    const cache = createRecentCache<number>(2);
    let made = 0;
    expect(cache.obtain(key(1), () => ++made)).toBe(1);
    expect(cache.obtain(key(1), () => ++made)).toBe(1);
    expect(made).toBe(1);
    expect(cache.has(key(1))).toBe(true);
    expect(cache.has(key(2))).toBe(false);
    expect(cache.has(new Uint8Array(9).fill(1))).toBe(false);
  });

  test('keeps the last `limit` keys, oldest out first, and lets go of what falls out', () => {
    const dropped: number[] = [];
    const cache = createRecentCache<number>(2, (value) => dropped.push(value));
    for (const byte of [1, 2, 1, 3]) cache.obtain(key(byte), () => byte);
    expect([1, 2, 3].map((byte) => cache.has(key(byte)))).toEqual([false, true, true]);
    expect(dropped).toEqual([1]);
  });

  test("keeps a copy of the key: changing the caller's buffer makes another key", () => {
    const cache = createRecentCache<string>(4);
    const bytes = key(7);
    cache.obtain(bytes, () => 'seven');
    bytes[0] = 0;
    expect(cache.has(bytes)).toBe(false);
    expect(cache.has(key(7))).toBe(true);
  });

  test('keeps nothing when making the value throws', () => {
    const cache = createRecentCache<number>(4);
    expect(() =>
      cache.obtain(key(5), () => {
        throw new Error('refused');
      }),
    ).toThrow('refused');
    expect(cache.has(key(5))).toBe(false);
  });

  test('refuses a limit that is not a positive integer', () => {
    for (const limit of [0, -1, 1.5, Number.NaN])
      expect(() => createRecentCache(limit)).toThrow(RangeError);
  });
});
