/**
 * The workerd smoke worker (bundled with esbuild from the scratch consumer, so `zeq-keyex` is the
 * packed package). Two routes:
 * - `GET /__smoke` runs the checks of `smoke.mjs` inside workerd and answers their JSON result;
 * - everything else is the responder's fetch handler, which the Node side handshakes with and
 *   sends records to over real HTTP (`workerd-client.mjs`).
 *
 * Workers may not draw random numbers outside a request, so the responder (its random field key)
 * is created by the first request that needs it.
 */
import * as lib from 'zeq-keyex';
import * as protocolLib from 'zeq-keyex/protocol';
import * as responderLib from 'zeq-keyex/responder';
import vectors from './vectors.mjs';
import { SMOKE_MACHINE, randomFieldKey, replyTo, runSmoke } from './smoke.mjs';

/** @type {import('zeq-keyex/responder').Responder | undefined} */
let responder;

export default {
  /** @param {Request} request */
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/__smoke')
      return Response.json(await runSmoke({ lib, protocolLib, responderLib, vectors }));
    responder ??= responderLib.createResponder({
      fieldKey: randomFieldKey(),
      machines: { [SMOKE_MACHINE.slug]: SMOKE_MACHINE.machineId },
      onRecord: (plaintext) => replyTo(plaintext),
    });
    return responder.fetch(request);
  },
};
