// A pinned handshake with the Express app over real HTTP, one encrypted record and its reply, and
// the app's own JSON route still working behind the responder.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createClient, sessionRecords } from 'zeq-keyex';
import { createApp } from './app.js';

const { app, responder } = await createApp(randomBytes(32).toString('hex'));
const server = await new Promise((resolve) => {
  const s = app.listen(0, '127.0.0.1', () => resolve(s));
});
const base = `http://127.0.0.1:${server.address().port}`;
try {
  const { fingerprint } = await responder.keyDocument('edge-01');
  const client = createClient({ origin: `${base}/zeq`, pins: { 'edge-01': fingerprint } });
  const session = await client.handshake('edge-01');
  assert.equal(session.fingerprint, fingerprint);
  const reply = await sessionRecords(session).request(new TextEncoder().encode('ping'));
  assert.equal(new TextDecoder().decode(reply), 'pong: ping');
  session.wipe();

  const echo = await fetch(`${base}/api/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hello: 'app' }),
  });
  assert.deepEqual(await echo.json(), { hello: 'app' });
  console.log('express: pinned handshake and one record under /zeq, app routes intact: ok');
} finally {
  server.close();
  server.closeAllConnections();
  responder.close();
}
