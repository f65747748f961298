/**
 * Bodies that arrive a byte at a time: more chunks than a function call can take arguments. The
 * responder's body reader and the initiator's transport both join what they read without spreading
 * the chunks into one call.
 */
import { describe, expect, test } from 'vitest';
import { joinChunks } from '../src/core/encoding.js';
import { readBody } from '../src/responder/http.js';
import { createTransport } from '../src/initiator/transport.js';

/** Far more than the ~120 000 arguments a call takes. */
const CHUNKS = 300_000;

function trickle(length: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller): void {
      // Many one-byte chunks per pull, so the test does not spend its time in promise turns.
      for (let i = 0; i < 1000 && sent < length; i++, sent++)
        controller.enqueue(Uint8Array.of(sent & 0xff));
      if (sent === length) controller.close();
    },
  });
}

const expected = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i & 0xff);

describe('a body of one-byte chunks', () => {
  test('joinChunks joins them in order; one chunk comes back as itself', () => {
    const chunks = Array.from(expected(CHUNKS), (b) => Uint8Array.of(b));
    expect(joinChunks(chunks)).toEqual(expected(CHUNKS));
    const only = Uint8Array.of(1, 2, 3);
    expect(joinChunks([only])).toBe(only);
    expect(joinChunks([])).toEqual(new Uint8Array(0));
  });

  test("the responder's readBody reads it whole", async () => {
    const request = new Request('http://responder.test/', {
      method: 'POST',
      body: trickle(CHUNKS),
      duplex: 'half',
    } as RequestInit);
    expect(await readBody(request, CHUNKS)).toEqual(expected(CHUNKS));
  });

  test("the initiator's transport reads it whole", async () => {
    const transport = createTransport({
      fetch: async () => new Response(trickle(CHUNKS)),
      maxResponseBytes: CHUNKS,
      retry: 0,
    });
    const { body } = await transport.postBytes('http://responder.test/records', new Uint8Array(1));
    expect(body).toEqual(expected(CHUNKS));
  });
});
