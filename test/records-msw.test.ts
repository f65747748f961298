/**
 * Records end to end through msw (`onUnhandledRequest: 'error'`): the client's own HTTP stack
 * (ky over the global fetch) reaches an in-process responder through `createResponderHandlers`.
 */
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { createResponder } from '../src/responder/responder.js';
import { createResponderHandlers } from '../src/msw.js';
import { fakeClock, text, utf8 } from './helpers/records.js';
import { FIELD_KEY, ORIGIN } from './helpers/responder.js';
import { sessionRecords } from '../src/initiator/records.js';

const clock = fakeClock();
const responder = createResponder({
  fieldKey: FIELD_KEY,
  machines: { 'edge-01': 'machine:edge-01' },
  now: clock.now,
  rekeyIntervalMs: 50,
  onRecord: (plaintext, context) => utf8(`${context.machineId}: ${text(plaintext)}`),
});
const server = setupServer(...createResponderHandlers(responder, ORIGIN));

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => {
  server.close();
  responder.close();
});

test('request() through msw, across epochs, sequential and concurrent', async () => {
  const client = createClient({
    origin: ORIGIN,
    insecureUnpinned: true,
    retry: 0,
    now: clock.now,
    rekeyIntervalMs: 50,
  });
  const session = await client.handshake('edge-01');
  for (let i = 0; i < 40; i++) {
    expect(text(await sessionRecords(session).request(utf8(`n${i}`)))).toBe(
      `machine:edge-01: n${i}`,
    );
    clock.advance(13);
  }
  const replies = await Promise.all(
    Array.from({ length: 20 }, (_, i) => sessionRecords(session).request(utf8(`c${i}`))),
  );
  expect(replies.map(text)).toEqual(Array.from({ length: 20 }, (_, i) => `machine:edge-01: c${i}`));
});

test('a refused record surfaces as http_error with the wire code', async () => {
  const client = createClient({ origin: ORIGIN, insecureUnpinned: true, retry: 0, now: clock.now });
  const session = await client.handshake('edge-01');
  const error = await sessionRecords(session)
    .request(utf8('x'), { aad: utf8('not agreed') })
    .catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'http_error', status: 400, responseCode: 'invalid_record' });
});
