/**
 * Section 7: X-Wing (spec §9) handshakes beside ML-KEM-768 handshakes, on each SDK backend this
 * runtime has, measured side by side in one run (samples interleaved, ratio per round).
 *
 * - In process: a pinned `client.handshake()` against a responder through fetch injection, one
 *   responder machine per alg, the same backend option on both sides.
 * - Over loopback: the same, with the responder behind the Node server adapter (`serve` of
 *   `zeq-keyex/node`, rate limits off) on 127.0.0.1 and the client on the platform's fetch; Node
 *   build only.
 *
 * The ratio is the cost of an X-Wing handshake over the cost of an ML-KEM-768 one (ML-KEM rate /
 * X-Wing rate); issue 17's target on native backends is ≤ 1.3×, and noble is reported as it is.
 */
import { check, measureRates, pairedRatio } from '../lib.mjs';
import { MACHINE_ID, ORIGIN, SLUG, sdkBackends } from '../sdk.mjs';
import { randomBytes } from 'node:crypto';

const XWING = 'X-Wing';
const MLKEM = 'ML-KEM-768';

/** A responder serving one machine of `alg`, and a client pinned to it that accepts only `alg`. */
async function pairFor(sdk, option, alg, fetchFor) {
  const responder = sdk.createResponder({
    fieldKey: randomBytes(32).toString('hex'),
    machines: { [SLUG]: MACHINE_ID },
    alg,
    rateLimits: false,
    ...option,
  });
  const doc = await responder.keyDocument(SLUG);
  check(doc.alg === alg, `the responder serves ${doc.alg}, not ${alg}`);
  const { origin, fetch, close } = await fetchFor(responder);
  const client = sdk.createClient({
    origin,
    pins: { [SLUG]: doc.fingerprint },
    algs: [alg],
    retry: 0,
    ...(fetch === undefined ? {} : { fetch }),
    ...option,
  });
  // One handshake before timing: a failure here fails the run, not a slow number.
  const session = await client.handshake(SLUG);
  check(session.alg === alg, `the session reports ${session.alg}, not ${alg}`);
  session.wipe();
  return {
    client,
    close: async () => {
      await close();
      responder.close();
    },
  };
}

const inProcess = async (responder) => ({
  origin: ORIGIN,
  fetch: (request) => responder.fetch(request),
  close: async () => {},
});

async function loopbackFor() {
  const { serve } = await import('zeq-keyex/node');
  return async (responder) => {
    const server = await serve(responder.fetch, { host: '127.0.0.1', port: 0 });
    return { origin: server.url, fetch: undefined, close: () => server.close() };
  };
}

export async function run({ timing }) {
  const info = await sdkBackends();
  const rows = [];
  const transports = [['in process', async () => inProcess]];
  transports.push(['loopback', loopbackFor]);
  for (const backend of info.backends) {
    for (const [transport, makeFetchFor] of transports) {
      const base = { section: 'xwing', backend: backend.label, transport };
      if (backend.unavailable !== undefined) {
        rows.push({ ...base, unavailable: backend.unavailable });
        continue;
      }
      if (transport === 'loopback' && backend.build === 'portable') continue;
      const fetchFor = await makeFetchFor();
      const pairs = {};
      for (const alg of [MLKEM, XWING])
        pairs[alg] = await pairFor(backend.sdk, backend.option, alg, fetchFor);
      try {
        const rates = await measureRates(
          [MLKEM, XWING].map((alg) => ({
            name: alg,
            fn: async () => (await pairs[alg].client.handshake(SLUG)).wipe(),
          })),
          // Twice the samples of other sections: the ratio of two close rates needs them.
          { ...timing, samples: timing.samples * 2 },
        );
        rows.push({
          ...base,
          mlkemPerSec: rates[MLKEM].opsPerSec,
          xwingPerSec: rates[XWING].opsPerSec,
          // Cost of an X-Wing handshake over an ML-KEM-768 one, per round of interleaved samples.
          costRatio: pairedRatio(rates[MLKEM].samples, rates[XWING].samples),
          native: backend.option.kem === 'native',
        });
      } finally {
        for (const pair of Object.values(pairs)) await pair.close();
      }
    }
  }
  return rows;
}
