/* global document, location */
import { createClient, sessionRecords } from 'zeq-keyex';

// Where the responder is and the pin of its machine: `?responder=<origin>&pin=<fingerprint>` here;
// an app would have them in its configuration.
const params = new URLSearchParams(location.search);
const origin = params.get('responder') ?? 'http://127.0.0.1:8787';
const pin = params.get('pin') ?? '';
const status = document.getElementById('status');
const reply = document.getElementById('reply');

try {
  const client = createClient({ origin, pins: { 'edge-01': pin } });
  const session = await client.handshake('edge-01');
  status.textContent = `confirmed ${session.sessionId} (${session.kemBackend})`;
  const answer = await sessionRecords(session).request(
    new TextEncoder().encode('hello from the page'),
  );
  reply.textContent = new TextDecoder().decode(answer);
  session.wipe();
} catch (error) {
  status.textContent = `failed: ${error.code ?? error.name}: ${error.message}`;
}
