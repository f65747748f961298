import { Hono } from 'hono';
import { createResponder } from 'zeq-keyex/responder';

/**
 * A Hono app that routes `/api/keyex/*` to the responder's fetch handler.
 * @param {string} fieldKey - 64 hex characters.
 */
export async function createApp(fieldKey) {
  const responder = createResponder({
    fieldKey,
    machines: { 'edge-01': 'machine:edge-01' },
    onRecord: (plaintext) =>
      new TextEncoder().encode(`pong: ${new TextDecoder().decode(plaintext)}`),
    onError: (error) => console.error(error),
  });
  await responder.ready();
  const app = new Hono();
  app.all('/api/keyex/*', (c) => responder.fetch(c.req.raw));
  app.get('/', (c) => c.text('hello from hono'));
  return { app, responder };
}
