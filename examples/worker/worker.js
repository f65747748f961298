import { createResponder } from 'zeq-keyex/responder';

/** @type {import('zeq-keyex/responder').Responder | undefined} */
let responder;

export default {
  /**
   * @param {Request} request
   * @param {{ ZEQ_FIELD_KEY: string }} env - the worker's bindings (a secret, in production).
   */
  fetch(request, env) {
    // Workers may not draw random numbers outside a request: the responder is made by the first one.
    // Its keys live in memory here; give a real deployment a `keyStore` on durable storage.
    responder ??= createResponder({
      fieldKey: env.ZEQ_FIELD_KEY,
      machines: { 'edge-01': 'machine:edge-01' },
      onRecord: (plaintext) =>
        new TextEncoder().encode(`pong: ${new TextDecoder().decode(plaintext)}`),
      onError: (error) => console.error(error),
    });
    return responder.fetch(request);
  },
};
