/**
 * A map in insertion order, as `Map` is, whose oldest entry is found in amortised constant time:
 * the memory session store's sessions and retired replay ids (`stores.ts`) and the sessions
 * registered for records (`record-sessions.ts`), which are swept and evicted from their oldest end
 * on every write.
 *
 * Why not a `Map` alone: V8 leaves the slot of a deleted entry in a `Map`'s table until the table
 * is next rehashed, and iteration from the start walks over every such slot. A store that deletes
 * from its oldest end and then looks at it again walks over all the entries it deleted since the
 * last rehash — thousands of slots per write at 10,000 sessions, about 20 µs a handshake
 * (docs/performance.md), and more the larger the store.
 *
 * Here a `Map` finds an entry by key, and an array holds the entries in insertion order, read from
 * a moving head. A deleted entry leaves its slot in the array and is skipped when the head reaches
 * it; the array is compacted once more than half of it is behind the head or stale, so it never
 * holds more than about twice as many slots as there are entries. Internal: no entry exports it.
 * @module
 */

/** One key and its value; the array and the map hold the same object while it is live. */
interface Entry<K, V> {
  readonly key: K;
  value: V;
}

/** Slots behind the head, or stale, tolerated before compaction in any case. */
const SLACK = 32;

/** A map in insertion order whose oldest entry is found in amortised constant time. */
export class OrderedMap<K, V> {
  readonly #entries = new Map<K, Entry<K, V>>();
  /** Entries in insertion order from `#head` on; a slot is stale when its entry was deleted. */
  #order: (Entry<K, V> | undefined)[] = [];
  #head = 0;

  /** How many entries there are. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * @param key - the key.
   * @returns its value, or `undefined`.
   */
  get(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /**
   * @param key - the key.
   * @returns whether it has an entry.
   */
  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /**
   * Sets a key's value. A new key becomes the newest entry; a key already there keeps its place,
   * as in a `Map`.
   * @param key - the key.
   * @param value - its value.
   */
  set(key: K, value: V): void {
    const known = this.#entries.get(key);
    if (known !== undefined) {
      known.value = value;
      return;
    }
    const entry = { key, value };
    this.#entries.set(key, entry);
    this.#order.push(entry);
  }

  /**
   * Deletes a key's entry.
   * @param key - the key.
   */
  delete(key: K): void {
    if (!this.#entries.delete(key)) return;
    // Stale slots beyond what the entries need: keep the live ones, in order.
    if (this.#order.length - this.#head > 2 * this.#entries.size + SLACK) {
      this.#order = this.#order.slice(this.#head).filter((entry) => this.#isLive(entry));
      this.#head = 0;
    }
  }

  /**
   * The oldest entry: the first set of those still there.
   * @returns its key and value, or `undefined` when there is none.
   */
  oldest(): { readonly key: K; readonly value: V } | undefined {
    const order = this.#order;
    while (this.#head < order.length && !this.#isLive(order[this.#head])) {
      order[this.#head] = undefined;
      this.#head += 1;
    }
    const entry = order[this.#head];
    // Slots behind the head are dropped once they are half of the array.
    if (this.#head > SLACK && 2 * this.#head > order.length) {
      this.#order = order.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }

  /**
   * @returns the values, oldest first.
   */
  values(): V[] {
    const values: V[] = [];
    for (let at = this.#head; at < this.#order.length; at++) {
      const entry = this.#order[at];
      if (entry !== undefined && this.#isLive(entry)) values.push(entry.value);
    }
    return values;
  }

  /** Whether a slot holds the map's current entry for its key. */
  #isLive(entry: Entry<K, V> | undefined): boolean {
    return entry !== undefined && this.#entries.get(entry.key) === entry;
  }
}
