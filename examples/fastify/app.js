import Fastify from 'fastify';
import { toNodeListener } from 'zeq-keyex/node';
import { createResponder } from 'zeq-keyex/responder';

/**
 * A Fastify app that hands the responder's routes (`/api/keyex/…`) the raw request before Fastify
 * parses the body, and serves its own routes as usual.
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
  const listener = toNodeListener(responder.fetch);
  const fastify = Fastify();
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!request.url.startsWith('/api/keyex/')) return done();
    reply.hijack();
    listener(request.raw, reply.raw);
  });
  fastify.get('/health', () => ({ ok: true }));
  return { fastify, responder };
}
