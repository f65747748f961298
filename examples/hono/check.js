// The client calls the Hono app in-process: its `fetch` option takes `app.fetch` as it is. A pinned
// handshake, one encrypted record and its reply.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createClient, sessionRecords } from 'zeq-keyex';
import { createApp } from './app.js';

const { app, responder } = await createApp(randomBytes(32).toString('hex'));
try {
  const { fingerprint } = await responder.keyDocument('edge-01');
  const client = createClient({
    origin: 'https://edge.example',
    pins: { 'edge-01': fingerprint },
    fetch: app.fetch,
  });
  const session = await client.handshake('edge-01');
  assert.equal(session.fingerprint, fingerprint);
  const reply = await sessionRecords(session).request(new TextEncoder().encode('ping'));
  assert.equal(new TextDecoder().decode(reply), 'pong: ping');
  session.wipe();
  assert.equal(
    await (await app.fetch(new Request('https://edge.example/'))).text(),
    'hello from hono',
  );
  console.log('hono: pinned handshake and one record through app.fetch: ok');
} finally {
  responder.close();
}
