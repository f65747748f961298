/* global Bun */
import { createResponder, setClientAddress } from 'zeq-keyex/responder';

const fieldKey = process.env.ZEQ_FIELD_KEY;
if (fieldKey === undefined) throw new Error('ZEQ_FIELD_KEY is not set (64 hex characters)');

const responder = createResponder({
  fieldKey,
  machines: { 'edge-01': 'machine:edge-01' },
  onRecord: (plaintext) => new TextEncoder().encode(`pong: ${new TextDecoder().decode(plaintext)}`),
  onError: (error) => console.error(error),
});
await responder.ready();

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.env.PORT ?? 8787),
  fetch(request, server) {
    // The client's address, from the socket, for the responder's per-client rate limits.
    const address = server.requestIP(request)?.address;
    if (address !== undefined) setClientAddress(request, address);
    return responder.fetch(request);
  },
});
const { fingerprint } = await responder.keyDocument('edge-01');
console.log(`ready http://127.0.0.1:${server.port} ${fingerprint}`);
