// A pinned handshake with the server over real HTTP, then one encrypted record and its reply.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createClient, sessionRecords } from 'zeq-keyex';
import { startServer } from './app.js';

const { responder, server, origin } = await startServer(randomBytes(32).toString('hex'), 0);
try {
  // The pin comes from the server's side, as an operator's `zeq-keyex fingerprint` would give it.
  const { fingerprint } = await responder.keyDocument('edge-01');
  const client = createClient({ origin, pins: { 'edge-01': fingerprint } });
  const session = await client.handshake('edge-01');
  assert.equal(session.fingerprint, fingerprint);
  const reply = await sessionRecords(session).request(new TextEncoder().encode('ping'));
  assert.equal(new TextDecoder().decode(reply), 'pong: ping');
  session.wipe();
  console.log('node-http: pinned handshake and one record: ok');
} finally {
  server.close();
  server.closeAllConnections();
  responder.close();
}
