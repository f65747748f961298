/**
 * `OrderedMap`: the same values, found by the same keys, in the same insertion order as a `Map`
 * given `delete` then `set` for each value added, under any sequence of adds and deletes
 * (compactions included), with its oldest value at hand.
 */
import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { OrderedMap } from '../src/responder/ordered-map.js';

interface Item {
  readonly key: string;
  readonly n: number;
}

const itemMap = (): OrderedMap<string, Item> => new OrderedMap<string, Item>((item) => item.key);

/** One step: add a value under a key, delete a key, or drop the oldest value. */
type Step = { readonly op: 'add' | 'delete'; readonly key: number } | { readonly op: 'shift' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), key: fc.nat(40) }),
  fc.record({ op: fc.constant('delete' as const), key: fc.nat(40) }),
  fc.record({ op: fc.constant('shift' as const) }),
);

describe('OrderedMap', () => {
  test('keeps insertion order; a key added again is the newest, its old value gone', () => {
    const map = itemMap();
    const a = { key: 'a', n: 1 };
    map.add(a);
    map.add({ key: 'b', n: 2 });
    map.add({ key: 'c', n: 3 });
    expect(map.oldest()).toBe(a);
    map.add({ key: 'a', n: 4 });
    expect(map.values().map((item) => item.n)).toEqual([2, 3, 4]);
    expect(map.oldest()).toEqual({ key: 'b', n: 2 });
    expect([map.size, map.get('a')?.n, map.has('b'), map.get('z'), map.has('z')]).toEqual([
      3,
      4,
      true,
      undefined,
      false,
    ]);
  });

  test('has no oldest value when empty, before and after use', () => {
    const map = itemMap();
    expect(map.oldest()).toBeUndefined();
    map.add({ key: 'a', n: 1 });
    map.delete('a');
    map.delete('a');
    expect(map.oldest()).toBeUndefined();
    expect(map.values()).toEqual([]);
    expect(map.size).toBe(0);
  });

  prop.prop([fc.array(step, { maxLength: 400 })])(
    'matches a Map under any sequence of adds, deletes and drops of the oldest value',
    (steps) => {
      const map = itemMap();
      const model = new Map<string, Item>();
      steps.forEach((s, n) => {
        if (s.op === 'add') {
          const item = { key: String(s.key), n };
          map.add(item);
          model.delete(item.key);
          model.set(item.key, item);
        } else if (s.op === 'delete') {
          map.delete(String(s.key));
          model.delete(String(s.key));
        } else {
          const oldest = map.oldest();
          expect(oldest).toBe(model.values().next().value);
          if (oldest !== undefined) {
            map.delete(oldest.key);
            model.delete(oldest.key);
          }
        }
        expect(map.size).toBe(model.size);
      });
      expect(map.values()).toEqual([...model.values()]);
      for (const key of model.keys()) expect(map.get(key)).toBe(model.get(key));
    },
  );

  test('drops from the oldest end in steady state as a bounded store does', () => {
    const map = itemMap();
    for (let n = 0; n < 10_000; n++) {
      map.add({ key: String(n), n });
      if (map.size > 100) map.delete((map.oldest() as Item).key);
    }
    expect(map.size).toBe(100);
    expect(map.oldest()?.n).toBe(9_900);
    expect(map.values().map((item) => item.n)[99]).toBe(9_999);
  });
});
