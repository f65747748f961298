/**
 * The receiver's anti-replay window of spec §3: per epoch, the highest sequence number accepted
 * and a sliding bitmap of the 1024 below it (128 bytes, allocated on the epoch's first accepted
 * record). A seq is accepted once; one at or below the window's floor is too old.
 *
 * Caveat (revision 2): consult it only for a record that opened. Checked before the AEAD, its
 * answer (`record_replayed` against `record_auth_failed`) would tell anyone without the key which
 * sequence numbers a session has used.
 * @module
 */
import { REPLAY_WINDOW } from './constants.js';
import { ZeqKeyExError } from './errors.js';

/** One epoch's window. */
export interface ReplayWindow {
  /** The highest seq accepted in the epoch, or -1. */
  top: number;
  /** Bit `s mod 1024` is set when seq `s` (within the window below `top`) was accepted. */
  bits: Uint32Array | undefined;
}

const WINDOW_WORDS = REPLAY_WINDOW / 32;

/**
 * Whether `seq` may still be accepted: throws the reason it may not.
 * @param window - the epoch's window.
 * @param seq - the record's sequence number.
 * @throws {ZeqKeyExError} `record_too_old` below the window, `record_replayed` for a seq it holds.
 */
export function checkWindow(window: ReplayWindow, seq: number): void {
  // Stryker disable next-line ConditionalExpression: `window.top < 0` → false is equivalent: with top −1 every seq is above the top, so `seq > window.top` returns all the same.
  if (window.top < 0 || seq > window.top) return;
  if (seq + REPLAY_WINDOW <= window.top) throw new ZeqKeyExError('record_too_old');
  const slot = seq % REPLAY_WINDOW;
  if (window.bits !== undefined && ((window.bits[slot >>> 5] as number) & (1 << (slot & 31))) !== 0)
    throw new ZeqKeyExError('record_replayed');
}

/**
 * Marks `seq` accepted, sliding the window forward when `seq` is the new top.
 * @param window - the epoch's window; changed in place.
 * @param seq - a sequence number {@link checkWindow} let through.
 */
export function markSeen(window: ReplayWindow, seq: number): void {
  const bits = (window.bits ??= new Uint32Array(WINDOW_WORDS));
  // Stryker disable next-line EqualityOperator: `>` → `>=` is equivalent: for seq equal to the top the branch changes nothing (the slide clears no slot, the top stays).
  if (seq > window.top) {
    if (window.top < 0 || seq - window.top >= REPLAY_WINDOW) {
      bits.fill(0);
    } else {
      // Clear the slots of the seqs the window slides over (window.top + 1 … seq).
      // Stryker disable next-line EqualityOperator: `<=` → `<` is equivalent: the slot of `seq` is set right after the loop.
      for (let s = window.top + 1; s <= seq; s++) {
        const slot = s % REPLAY_WINDOW;
        bits[slot >>> 5] = (bits[slot >>> 5] as number) & ~(1 << (slot & 31));
      }
    }
    window.top = seq;
  }
  const slot = seq % REPLAY_WINDOW;
  bits[slot >>> 5] = (bits[slot >>> 5] as number) | (1 << (slot & 31));
}
