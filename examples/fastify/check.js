// A pinned handshake with the Fastify app over real HTTP, one encrypted record and its reply.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createClient, sessionRecords } from 'zeq-keyex';
import { createApp } from './app.js';

const { fastify, responder } = await createApp(randomBytes(32).toString('hex'));
const origin = await fastify.listen({ port: 0, host: '127.0.0.1' });
try {
  const { fingerprint } = await responder.keyDocument('edge-01');
  const client = createClient({ origin, pins: { 'edge-01': fingerprint } });
  const session = await client.handshake('edge-01');
  assert.equal(session.fingerprint, fingerprint);
  const reply = await sessionRecords(session).request(new TextEncoder().encode('ping'));
  assert.equal(new TextDecoder().decode(reply), 'pong: ping');
  session.wipe();
  assert.deepEqual(await (await fetch(`${origin}/health`)).json(), { ok: true });
  console.log('fastify: pinned handshake and one record: ok');
} finally {
  await fastify.close();
  responder.close();
}
