import express from 'express';
import { toNodeListener } from 'zeq-keyex/node';
import { createResponder } from 'zeq-keyex/responder';

/**
 * An Express 5 app with the responder mounted under `/zeq` (before any body parser: the responder
 * reads the body itself) and a route of the app's own, with `express.json()`, after it.
 * @param {string} fieldKey - 64 hex characters.
 */
export async function createApp(fieldKey) {
  const responder = createResponder({
    fieldKey,
    basePath: '/zeq',
    machines: { 'edge-01': 'machine:edge-01' },
    onRecord: (plaintext) =>
      new TextEncoder().encode(`pong: ${new TextDecoder().decode(plaintext)}`),
    onError: (error) => console.error(error),
  });
  await responder.ready();
  const app = express();
  app.use('/zeq', toNodeListener(responder.fetch));
  app.use(express.json());
  app.post('/api/echo', (req, res) => res.json(req.body));
  return { app, responder };
}
