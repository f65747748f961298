/**
 * A map in insertion order, as `Map` is, whose oldest entry is found in amortised constant time:
 * for what is swept or evicted from its oldest end on every request — the memory session store's
 * sessions and retired replay ids (`stores.ts`), the sessions registered for records
 * (`record-sessions.ts`), the replay memory's tags, admission's token buckets and the memory
 * rate-limit store's, the Redis session store's opened sessions.
 *
 * Why not a `Map` alone: V8 leaves the slot of a deleted entry in a `Map`'s table until the table
 * is next rehashed, and iteration from the start walks over every such slot. A store that deletes
 * from its oldest end and then looks at it again walks over all the entries it deleted since the
 * last rehash — thousands of slots per write at 10,000 sessions, about 20 µs a handshake
 * (docs/performance.md), and more the larger the store.
 *
 * Here a `Map` finds a value by key, and an array holds the values in insertion order, read from
 * a moving head. A deleted value leaves its slot in the array and is skipped when the head reaches
 * it; the array is compacted once more than half of it is behind the head or stale, so it never
 * holds more than about twice as many slots as there are values. Internal: no entry exports it.
 * @module
 */

/** Slots behind the head, or stale, tolerated before compaction in any case. */
const SLACK = 32;

/**
 * Values in insertion order, found by a key each value carries (`keyOf`), whose oldest value is
 * found in amortised constant time. The array holds the values themselves, so an entry costs a
 * `Map` entry and an array slot or two: no wrapper object per entry (an idle session is small).
 * Each value is its own object, added once: a slot is live while the map holds that very object.
 */
export class OrderedMap<K, V extends object> {
  readonly #values = new Map<K, V>();
  readonly #keyOf: (value: V) => K;
  /** Values in insertion order from `#head` on; a slot is stale when its value was deleted. */
  #order: (V | undefined)[] = [];
  #head = 0;

  /**
   * @param keyOf - the key a value is found by.
   */
  constructor(keyOf: (value: V) => K) {
    this.#keyOf = keyOf;
  }

  /** How many values there are. */
  get size(): number {
    return this.#values.size;
  }

  /**
   * @param key - the key.
   * @returns its value, or `undefined`.
   */
  get(key: K): V | undefined {
    return this.#values.get(key);
  }

  /**
   * @param key - the key.
   * @returns whether it has a value.
   */
  has(key: K): boolean {
    return this.#values.has(key);
  }

  /**
   * Adds a value as the newest, under its key; a value already there under that key is deleted
   * first (so the new one is the newest, as after `delete` and `set` on a `Map`).
   * @param value - a value not added before.
   */
  add(value: V): void {
    const key = this.#keyOf(value);
    this.delete(key);
    this.#values.set(key, value);
    this.#order.push(value);
  }

  /**
   * Deletes a key's value.
   * @param key - the key.
   */
  delete(key: K): void {
    if (!this.#values.delete(key)) return;
    // Stale slots beyond what the values need: keep the live ones, in order.
    if (this.#order.length - this.#head > 2 * this.#values.size + SLACK) {
      this.#order = this.#order.slice(this.#head).filter((value) => this.#isLive(value));
      this.#head = 0;
    }
  }

  /**
   * The oldest value: the first added of those still there.
   * @returns it, or `undefined` when there is none.
   */
  oldest(): V | undefined {
    const order = this.#order;
    while (this.#head < order.length && !this.#isLive(order[this.#head])) {
      order[this.#head] = undefined;
      this.#head += 1;
    }
    const value = order[this.#head];
    // Slots behind the head are dropped once they are half of the array.
    if (this.#head > SLACK && 2 * this.#head > order.length) {
      this.#order = order.slice(this.#head);
      this.#head = 0;
    }
    return value;
  }

  /**
   * @returns the values, oldest first.
   */
  values(): V[] {
    return this.#order.slice(this.#head).filter((value) => this.#isLive(value)) as V[];
  }

  /** Whether a slot holds the map's current value for its key. */
  #isLive(value: V | undefined): boolean {
    return value !== undefined && this.#values.get(this.#keyOf(value)) === value;
  }
}
