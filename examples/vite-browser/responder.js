import { createServer } from 'node:http';
import { toNodeListener } from 'zeq-keyex/node';
import { createResponder } from 'zeq-keyex/responder';

/**
 * The responder on its own origin, open (CORS) to the page's origin only.
 * @param {{ fieldKey: string, pageOrigin: string, port?: number }} options
 */
export async function startResponder({ fieldKey, pageOrigin, port = 8787 }) {
  const responder = createResponder({
    fieldKey,
    machines: { 'edge-01': 'machine:edge-01' },
    cors: { origins: [pageOrigin] },
    onRecord: (plaintext) =>
      new TextEncoder().encode(`pong: ${new TextDecoder().decode(plaintext)}`),
    onError: (error) => console.error(error),
  });
  await responder.ready();
  const server = createServer(toNodeListener(responder.fetch));
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { responder, server, origin: `http://127.0.0.1:${server.address().port}` };
}
