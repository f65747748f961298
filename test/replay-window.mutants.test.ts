/**
 * The anti-replay window of spec §3 (`src/core/replay-window.ts`), line by line: where it slides,
 * which slots a slide clears, and its edges (the floor, the top, a jump of a whole window). Each
 * case states what a receiver must do; the receiver cases run through the ratchet (test seam
 * `src/internal/record-state.ts`), the others on the window functions themselves.
 */
import { describe, expect, test } from 'vitest';
import { REPLAY_WINDOW } from '../src/core/constants.js';
import { type ReplayWindow, checkWindow, markSeen } from '../src/core/replay-window.js';
import { sealRecord } from '../src/core/record-format.js';
import { createReceiverAt } from '../src/internal/record-state.js';
import { expectCode } from './helpers/errors.js';
import { fakeClock, keyAt, text, utf8 } from './helpers/records.js';

const SID = 'replay-window-session-01';
const RECORD_KEY = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

function record(seq: number): Uint8Array {
  return sealRecord(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, 0, seq, utf8(`s${seq}`));
}

function receiver(): ReturnType<typeof createReceiverAt> {
  return createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID, { now: fakeClock().now });
}

/** A window that accepted `seqs`, in order. */
function windowOf(...seqs: number[]): ReplayWindow {
  const window: ReplayWindow = { top: -1, bits: undefined };
  for (const seq of seqs) {
    checkWindow(window, seq);
    markSeen(window, seq);
  }
  return window;
}

/** The seqs of [from, to] the window would let through. */
function admitted(window: ReplayWindow, from: number, to: number): number[] {
  const out: number[] = [];
  for (let seq = from; seq <= to; seq++) {
    try {
      checkWindow(window, seq);
      out.push(seq);
    } catch {
      // refused
    }
  }
  return out;
}

describe('the receiver', () => {
  test('after seqs 5, 900 and 1100, a reordered 1029 (the slot of 5) is accepted once', () => {
    const r = receiver();
    for (const seq of [5, 900, 1100]) expect(text(r.open(record(seq)))).toBe(`s${seq}`);
    expect(text(r.open(record(1029)))).toBe('s1029');
    expectCode(() => r.open(record(1029)), 'record_replayed');
    // 5 is now below the window's floor (1100 − 1024 = 76).
    expectCode(() => r.open(record(5)), 'record_too_old');
    expectCode(() => r.open(record(900)), 'record_replayed');
    expect(text(r.open(record(1099)))).toBe('s1099');
  });

  test('after a jump of more than a window, a seq in the slot of an old one is accepted', () => {
    const r = receiver();
    r.open(record(5));
    r.open(record(2000));
    expect(text(r.open(record(1029)))).toBe('s1029');
    expectCode(() => r.open(record(1029)), 'record_replayed');
  });

  test('after a jump of exactly one window, every slot is free again', () => {
    const r = receiver();
    for (const seq of [3, 4, 5]) r.open(record(seq));
    r.open(record(5 + REPLAY_WINDOW));
    expectCode(() => r.open(record(5)), 'record_too_old');
    expect(text(r.open(record(4 + REPLAY_WINDOW)))).toBe(`s${4 + REPLAY_WINDOW}`);
    expect(text(r.open(record(6)))).toBe('s6');
  });
});

describe('checkWindow and markSeen', () => {
  test('an empty window admits every seq, 0 and 2^32 − 1 included', () => {
    const empty = windowOf();
    expect(() => checkWindow(empty, 0)).not.toThrow();
    expect(() => checkWindow(empty, 2 ** 32 - 1)).not.toThrow();
    expect(empty).toEqual({ top: -1, bits: undefined });
  });

  test('a seq above the top is admitted, even where the slot holds a seq one window older', () => {
    const w = windowOf(2000, 3000);
    expect(() => checkWindow(w, 3024)).not.toThrow(); // the slot of 2000
    expect(() => checkWindow(w, 4000)).not.toThrow(); // the slot of 3000
    expect(admitted(w, 3001, 3100)).toHaveLength(100);
  });

  test('a jump from 0 to 2^32 − 1 leaves only the new top (the bitmap cleared at once)', () => {
    const w = windowOf(0, 1, 2);
    markSeen(w, 2 ** 32 - 1);
    expect(w.top).toBe(2 ** 32 - 1);
    expect(w.bits?.reduce((n, word) => n + popcount(word), 0)).toBe(1);
    expect(admitted(w, 2 ** 32 - 3, 2 ** 32 - 1)).toEqual([2 ** 32 - 3, 2 ** 32 - 2]);
  });

  test('a window without a bitmap holds no seq', () => {
    expect(() => checkWindow({ top: 3, bits: undefined }, 1)).not.toThrow();
  });

  test('the top is refused as replayed; the floor is exactly one window below it', () => {
    const w = windowOf(3000);
    expect(w.top).toBe(3000);
    expectCode(() => checkWindow(w, 3000), 'record_replayed');
    expectCode(() => checkWindow(w, 3000 - REPLAY_WINDOW), 'record_too_old');
    expectCode(() => checkWindow(w, 0), 'record_too_old');
    expect(() => checkWindow(w, 3000 - REPLAY_WINDOW + 1)).not.toThrow();
    expect(() => checkWindow(w, 3001)).not.toThrow();
    expect(admitted(w, 3000 - REPLAY_WINDOW - 2, 3002)).toHaveLength(REPLAY_WINDOW - 1 + 2);
  });

  test('each accepted seq holds its own slot, in every word of the bitmap and every bit of a word', () => {
    const seqs = [0, 1, 31, 32, 33, 63, 64, 500, 991, 1022, 1023];
    const w = windowOf(...seqs);
    expect(admitted(w, 0, 1023)).toEqual(
      Array.from({ length: 1024 }, (_, i) => i).filter((s) => !seqs.includes(s)),
    );
    expect(w.bits?.reduce((n, word) => n + popcount(word), 0)).toBe(seqs.length);
  });

  test('a slide clears exactly the slots it passes over', () => {
    // 10 … 20 seen, then the top moves from 20 to 1034: the slots of 21 … 1034 (slots 21 … 1023
    // and 0 … 10) are cleared, so of the old seqs 11 … 20 stay refused and 10 is below the floor.
    const w = windowOf(...Array.from({ length: 11 }, (_, i) => 10 + i), 1034);
    expect(w.top).toBe(1034);
    expect(admitted(w, 11, 1034)).toEqual(
      Array.from({ length: 1034 - 11 }, (_, i) => 11 + i).filter((s) => s > 20 || s < 11),
    );
  });

  test('a slide of one keeps every slot but the new top’s', () => {
    const w = windowOf(100, 101, 102);
    markSeen(w, 103);
    expect(w.top).toBe(103);
    expect(admitted(w, 95, 104)).toEqual([95, 96, 97, 98, 99, 104]);
  });

  test('marking a seq below the top leaves the top where it is', () => {
    const w = windowOf(50);
    markSeen(w, 40);
    expect(w.top).toBe(50);
    expect(admitted(w, 39, 51)).toEqual([39, 41, 42, 43, 44, 45, 46, 47, 48, 49, 51]);
  });

  test('the bitmap is 1024 bits, made on the first mark and kept after', () => {
    const w = windowOf(7);
    const bits = w.bits;
    expect(bits).toBeInstanceOf(Uint32Array);
    expect(bits?.length).toBe(REPLAY_WINDOW / 32);
    markSeen(w, 5000);
    expect(w.bits).toBe(bits);
    expect(admitted(w, 5000 - REPLAY_WINDOW + 1, 5000)).toHaveLength(REPLAY_WINDOW - 1);
  });
});

function popcount(word: number): number {
  let n = 0;
  for (let v = word >>> 0; v !== 0; v >>>= 1) n += v & 1;
  return n;
}
