import { createClient, sessionRecords } from 'zeq-keyex';

/**
 * The app's code: sends `name` to the edge machine `edge-01` over a pinned, encrypted session and
 * returns its answer. It knows nothing of tests; its requests go to `origin` with the global fetch.
 * @param {string} name
 * @param {{ origin: string, pin: string }} edge
 */
export async function greet(name, { origin, pin }) {
  const client = createClient({ origin, pins: { 'edge-01': pin } });
  const session = await client.handshake('edge-01');
  try {
    const reply = await sessionRecords(session).request(new TextEncoder().encode(name));
    return new TextDecoder().decode(reply);
  } finally {
    session.wipe();
  }
}
