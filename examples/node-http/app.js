import { createServer } from 'node:http';
import { toNodeListener } from 'zeq-keyex/node';
import { createResponder } from 'zeq-keyex/responder';

/**
 * A responder for one machine, `edge-01`, whose records endpoint answers `pong: <what it got>`,
 * served by `node:http` through `toNodeListener`.
 * @param {string} fieldKey - 64 hex characters (the key the stored secrets are sealed with).
 */
export async function startServer(fieldKey, port = 8787) {
  const responder = createResponder({
    fieldKey,
    machines: { 'edge-01': 'machine:edge-01' },
    onRecord: (plaintext) =>
      new TextEncoder().encode(`pong: ${new TextDecoder().decode(plaintext)}`),
    onError: (error) => console.error(error),
  });
  await responder.ready();
  const server = createServer(toNodeListener(responder.fetch));
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { responder, server, origin: `http://127.0.0.1:${server.address().port}` };
}
