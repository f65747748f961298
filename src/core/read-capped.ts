/**
 * The one size-capped body reader of the SDK, for requests (the responder's routes, spec §2.3,
 * §3.1) and responses (the initiator's transport, spec §2.1's 64 KiB limit) alike: it reads a
 * stream chunk by chunk and stops as soon as the total passes the cap, so no more than the cap
 * (plus one chunk) is ever buffered, whatever the peer sends or declares.
 * @module
 */
import { joinChunks } from './encoding.js';

/** Rejects when `signal` aborts, with its reason; never settles otherwise. */
function whenAborted(signal: AbortSignal): Promise<never> {
  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  // A race that has already settled leaves this rejection unobserved: it is not an error.
  aborted.catch(() => undefined);
  return aborted;
}

/**
 * Reads a whole body of at most `maxBytes`.
 * @param body - the body stream, or `null` for none.
 * @param maxBytes - the cap.
 * @param signal - stops the read (with the signal's reason) when it aborts.
 * @returns the bytes (empty for no body), or `undefined` as soon as the body passes the cap.
 * @throws whatever the stream's read throws, or the signal's reason. The stream is cancelled
 *   whenever the read does not run to its end.
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<Uint8Array | undefined> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const aborted = signal === undefined ? undefined : whenAborted(signal);
  const chunks: Uint8Array[] = [];
  let total = 0;
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await (aborted === undefined
        ? reader.read()
        : Promise.race([reader.read(), aborted]));
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) return undefined;
      chunks.push(value);
    }
    finished = true;
  } finally {
    if (!finished) reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return joinChunks(chunks);
}
