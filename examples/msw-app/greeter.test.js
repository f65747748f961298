// The app's test suite: msw routes https://edge.example to an in-process responder, so greet()
// runs unchanged (global fetch, real handshake, real records) without a server.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setupServer } from 'msw/node';
import { createResponderHandlers } from 'zeq-keyex/msw';
import { createResponder } from 'zeq-keyex/responder';
import { greet } from './greeter.js';

const ORIGIN = 'https://edge.example';
const responder = createResponder({
  fieldKey: randomBytes(32).toString('hex'),
  machines: { 'edge-01': 'machine:edge-01' },
  onRecord: (plaintext) =>
    new TextEncoder().encode(`hello, ${new TextDecoder().decode(plaintext)}`),
});
const server = setupServer(...createResponderHandlers(responder, ORIGIN));

before(() => server.listen({ onUnhandledRequest: 'error' }));
after(() => {
  server.close();
  responder.close();
});

test('greet() completes a pinned handshake and gets the record reply', async () => {
  const { fingerprint } = await responder.keyDocument('edge-01');
  assert.equal(await greet('msw', { origin: ORIGIN, pin: fingerprint }), 'hello, msw');
});

test('greet() refuses a responder whose key is not the pinned one', async () => {
  await assert.rejects(greet('msw', { origin: ORIGIN, pin: '00'.repeat(32) }), {
    code: 'fingerprint_mismatch',
  });
});
