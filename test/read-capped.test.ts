/**
 * `readCapped`, the one size-capped body reader: exactly the cap is read, one byte more is refused
 * (`undefined`) without reading further, no body is empty, a failing stream or an abort throws, and
 * the stream is cancelled whenever the read does not run to its end.
 */
import { describe, expect, test } from 'vitest';
import { readCapped } from '../src/core/read-capped.js';

interface Source {
  readonly stream: ReadableStream<Uint8Array>;
  /** Chunks the reader asked for. */
  readonly pulls: () => number;
  /** Whether the reader cancelled it. */
  readonly cancelled: () => boolean;
}

/** A stream of `chunks` chunks of `chunkBytes` bytes (byte i of the body is `i & 0xff`). */
function source(chunks: number, chunkBytes: number, failAt?: number): Source {
  let pulled = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller): void {
        if (pulled === failAt) {
          controller.error(new Error('connection reset'));
          return;
        }
        if (pulled === chunks) {
          controller.close();
          return;
        }
        controller.enqueue(
          Uint8Array.from({ length: chunkBytes }, (_, i) => (pulled * chunkBytes + i) & 0xff),
        );
        pulled++;
      },
      cancel(): void {
        cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulls: () => pulled, cancelled: () => cancelled };
}

const body = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i & 0xff);

describe('readCapped', () => {
  test('a body of exactly the cap is read whole and not cancelled', async () => {
    const { stream, cancelled } = source(4, 10);
    expect(await readCapped(stream, 40)).toEqual(body(40));
    expect(cancelled()).toBe(false);
  });

  test('one byte over the cap is refused, the stream cancelled and read no further', async () => {
    const { stream, pulls, cancelled } = source(1000, 10);
    expect(await readCapped(stream, 39)).toBeUndefined();
    expect(pulls()).toBe(4);
    expect(cancelled()).toBe(true);
  });

  test('a single chunk over the cap is refused', async () => {
    const { stream, cancelled } = source(1, 41);
    expect(await readCapped(stream, 40)).toBeUndefined();
    expect(cancelled()).toBe(true);
  });

  test('no body reads as empty; an empty stream too', async () => {
    expect(await readCapped(null, 0)).toEqual(new Uint8Array(0));
    expect(await readCapped(source(0, 10).stream, 0)).toEqual(new Uint8Array(0));
  });

  test("a stream that errors throws the stream's error", async () => {
    const { stream } = source(10, 10, 2);
    await expect(readCapped(stream, 1000)).rejects.toThrow('connection reset');
  });

  test('an aborted signal throws its reason and cancels the stream', async () => {
    const { stream, cancelled } = source(10, 10);
    const reason = new Error('gave up');
    await expect(readCapped(stream, 1000, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(cancelled()).toBe(true);
  });

  test('an abort during the read throws its reason and cancels the stream', async () => {
    let cancelled = false;
    // A stream that sends one chunk and then stalls.
    let sent = false;
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller): Promise<void> | void {
          if (sent) return new Promise<void>(() => undefined);
          sent = true;
          controller.enqueue(new Uint8Array(5));
        },
        cancel(): void {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    const controller = new AbortController();
    const read = readCapped(stream, 1000, controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const reason = new Error('deadline');
    controller.abort(reason);
    await expect(read).rejects.toBe(reason);
    expect(cancelled).toBe(true);
  });

  test('a signal that never aborts changes nothing', async () => {
    const { stream } = source(3, 7);
    expect(await readCapped(stream, 21, new AbortController().signal)).toEqual(body(21));
  });

  test('the stream is released: after a refusal it is no longer locked', async () => {
    const { stream } = source(10, 10);
    expect(await readCapped(stream, 5)).toBeUndefined();
    expect(stream.locked).toBe(false);
  });
});
