/**
 * The portable build's `openAsync` (`src/core/record-channel.ts`, spec §3) where a line could go
 * wrong unseen: a wiped receiver refuses before it looks at the record or the AAD, an epoch the
 * receiver holds gets one asynchronous key that every later record of it reuses (the previous
 * epoch's too), and a later epoch's key serves one record only and is let go of at once, whether
 * the record opened or not. WebCrypto's key is swapped into the Node platform, as in
 * `records-async.test.ts`, and counted.
 */
import { beforeEach, describe, expect, test, vi } from 'vitest';
import type { AsyncAeadKey } from '../src/backends/aead-backend.js';
import { sealRecord } from '../src/core/record-format.js';
import { createReceiverAt, receiverState } from '../src/internal/record-state.js';
import { expectCodeAsync } from './helpers/errors.js';
import { keyAt, text, utf8 } from './helpers/records.js';

const keys = vi.hoisted(() => ({ made: 0, forgotten: 0 }));

vi.mock('../src/backends/platform.node.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/backends/platform.node.js')>();
  const { webCryptoAeadKey: make } = await import('../src/backends/webcrypto-aead.js');
  return {
    ...actual,
    aeadKeyAsync: (key: Uint8Array): AsyncAeadKey => {
      keys.made += 1;
      const made = make(key);
      return {
        seal: made.seal,
        open: made.open,
        forget: () => {
          keys.forgotten += 1;
          made.forget();
        },
      };
    },
  };
});

const SID = 'async-mutants-0001';
const RECORD_KEY = Uint8Array.from({ length: 32 }, (_, i) => 7 * i + 1);

function i2r(epoch: number, seq: number): Uint8Array {
  return sealRecord(
    keyAt(RECORD_KEY, SID, 'i2r', epoch),
    SID,
    epoch,
    seq,
    utf8(`e${epoch} s${seq}`),
  );
}

function receiver(): ReturnType<typeof createReceiverAt> {
  return createReceiverAt(keyAt(RECORD_KEY, SID, 'i2r', 0), SID);
}

beforeEach(() => {
  keys.made = 0;
  keys.forgotten = 0;
});

describe('a wiped receiver', () => {
  test('refuses with session_closed before it reads the AAD or the record', async () => {
    const r = receiver();
    r.wipe();
    await expectCodeAsync(r.openAsync(i2r(0, 0), 'aad' as unknown as Uint8Array), 'session_closed');
    await expectCodeAsync(r.openAsync(new Uint8Array(3)), 'session_closed');
    await expectCodeAsync(r.openAsync(i2r(0, 0)), 'session_closed');
    expect(keys.made).toBe(0);
  });
});

describe('the AAD', () => {
  test('that is not bytes is a rejection naming it, before any key is made', async () => {
    await expect(receiver().openAsync(i2r(0, 0), 'aad' as unknown as Uint8Array)).rejects.toThrow(
      /aad/,
    );
    expect(keys.made).toBe(0);
  });
});

describe('asynchronous keys', () => {
  test('an epoch the receiver holds gets one, reused by each of its records', async () => {
    const r = receiver();
    for (const seq of [0, 1, 2]) expect(text(await r.openAsync(i2r(0, seq)))).toBe(`e0 s${seq}`);
    expect([keys.made, keys.forgotten]).toEqual([1, 0]);
  });

  test('a later epoch’s key serves its one record and is let go of; the new epoch then gets its own', async () => {
    const r = receiver();
    await r.openAsync(i2r(0, 0));
    expect(text(await r.openAsync(i2r(1, 0)))).toBe('e1 s0');
    expect([keys.made, keys.forgotten]).toEqual([2, 1]);
    expect(receiverState(r).current?.epoch).toBe(1);
    // The new current epoch makes its own, once; the previous epoch keeps the one it had.
    expect(text(await r.openAsync(i2r(1, 1)))).toBe('e1 s1');
    expect(text(await r.openAsync(i2r(1, 2)))).toBe('e1 s2');
    expect(text(await r.openAsync(i2r(0, 1)))).toBe('e0 s1');
    expect([keys.made, keys.forgotten]).toEqual([3, 1]);
  });

  test('a later epoch’s key is let go of when its record does not open, too', async () => {
    const r = receiver();
    const forged = i2r(3, 0);
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
    await expectCodeAsync(r.openAsync(forged), 'record_auth_failed');
    expect([keys.made, keys.forgotten]).toEqual([1, 1]);
    expect(receiverState(r).current?.epoch).toBe(0);
    expect(text(await r.openAsync(i2r(3, 0)))).toBe('e3 s0');
    expect([keys.made, keys.forgotten]).toEqual([2, 2]);
  });

  test('a record of a held epoch leaves its key usable for the next one', async () => {
    const r = receiver();
    await r.openAsync(i2r(0, 5));
    const forged = i2r(0, 6);
    forged[20] = (forged[20] as number) ^ 1;
    await expectCodeAsync(r.openAsync(forged), 'record_auth_failed');
    expect(text(await r.openAsync(i2r(0, 6)))).toBe('e0 s6');
    expect([keys.made, keys.forgotten]).toEqual([1, 0]);
  });
});
