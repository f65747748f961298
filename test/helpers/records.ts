/**
 * Helpers of the record tests (`test/records-*.test.ts`): a fake clock, a serialisation of a
 * receiver's whole internal state (keys and replay windows included), and key-chain derivation.
 */
import type { RecordReceiver } from '../../src/core/record-channel.js';
import { receiverState } from '../../src/internal/record-state.js';
import { type Direction, deriveTrafficKey, rekey } from '../../src/core/record-format.js';
import { toHex } from './vectors.js';

/** A clock the test moves by hand. */
export interface FakeClock {
  t: number;
  readonly now: () => number;
  advance(ms: number): void;
}

export function fakeClock(start = 1_700_000_000_000): FakeClock {
  const clock: FakeClock = {
    t: start,
    now: () => clock.t,
    advance(ms: number) {
      clock.t += ms;
    },
  };
  return clock;
}

/**
 * Every field of a receiver's state (made by `createReceiverAt`), byte buffers as hex, for equality
 * checks. The asynchronous keys are left out: each is a handle on its epoch's key, made when first
 * needed.
 */
export function snapshot(receiver: RecordReceiver): string {
  return JSON.stringify(receiverState(receiver), (key, value: unknown) => {
    if (key === 'asyncKey') return undefined;
    if (value instanceof Uint8Array) return toHex(value);
    if (value instanceof Uint32Array)
      return toHex(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    return value;
  });
}

/** `k[epoch]` of a direction of a session, derived from the record key the slow way. */
export function keyAt(
  recordKey: Uint8Array,
  sessionId: string,
  direction: Direction,
  epoch: number,
): Uint8Array {
  let key = deriveTrafficKey(recordKey, sessionId, direction);
  for (let e = 0; e < epoch; e++) {
    const next = rekey(key);
    key.fill(0);
    key = next;
  }
  return key;
}

/** The epoch and seq a record's header names (no checks). */
export function headerOf(record: Uint8Array): { epoch: number; seq: number } {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  return { epoch: view.getUint32(1), seq: view.getUint32(9) };
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
