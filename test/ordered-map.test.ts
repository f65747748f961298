/**
 * `OrderedMap`: the same entries, values and insertion order as a `Map` under any sequence of
 * sets and deletes (compactions included), with its oldest entry at hand.
 */
import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { OrderedMap } from '../src/responder/ordered-map.js';

/** One step: set a key (to the step's number) or delete one, or drop the oldest entry. */
type Step = { readonly op: 'set' | 'delete'; readonly key: number } | { readonly op: 'shift' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: fc.nat(40) }),
  fc.record({ op: fc.constant('delete' as const), key: fc.nat(40) }),
  fc.record({ op: fc.constant('shift' as const) }),
);

describe('OrderedMap', () => {
  test('keeps insertion order; a key set again keeps its place, a key set after a delete is newest', () => {
    const map = new OrderedMap<string, number>();
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    map.set('a', 4);
    expect(map.values()).toEqual([4, 2, 3]);
    expect(map.oldest()).toEqual({ key: 'a', value: 4 });
    map.delete('a');
    map.set('a', 5);
    expect(map.values()).toEqual([2, 3, 5]);
    expect(map.oldest()).toEqual({ key: 'b', value: 2 });
    expect([map.size, map.get('a'), map.has('b'), map.get('z'), map.has('z')]).toEqual([
      3,
      5,
      true,
      undefined,
      false,
    ]);
  });

  test('has no oldest entry when empty, before and after use', () => {
    const map = new OrderedMap<string, number>();
    expect(map.oldest()).toBeUndefined();
    map.set('a', 1);
    map.delete('a');
    map.delete('a');
    expect(map.oldest()).toBeUndefined();
    expect(map.values()).toEqual([]);
    expect(map.size).toBe(0);
  });

  prop.prop([fc.array(step, { maxLength: 400 })])(
    'matches a Map under any sequence of sets, deletes and drops of the oldest entry',
    (steps) => {
      const map = new OrderedMap<number, number>();
      const model = new Map<number, number>();
      steps.forEach((s, index) => {
        if (s.op === 'set') {
          map.set(s.key, index);
          model.set(s.key, index);
        } else if (s.op === 'delete') {
          map.delete(s.key);
          model.delete(s.key);
        } else {
          const oldest = map.oldest();
          const first = model.entries().next();
          expect(oldest).toEqual(
            first.done === true ? undefined : { key: first.value[0], value: first.value[1] },
          );
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
    const map = new OrderedMap<number, number>();
    for (let i = 0; i < 10_000; i++) {
      map.set(i, i);
      if (map.size > 100) map.delete((map.oldest() as { key: number }).key);
    }
    expect(map.size).toBe(100);
    expect(map.oldest()).toEqual({ key: 9_900, value: 9_900 });
    expect(map.values()[99]).toBe(9_999);
  });
});
