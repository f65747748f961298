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
 *
 * On native backends one more case runs interleaved with the two: the X25519 work an X-Wing
 * handshake cannot do without — an ephemeral key pair and two Diffie-Hellmans (the initiator's and
 * the responder's), on keys already imported, through the same native X25519 the backend uses — and
 * the row prints the floor it sets: an ML-KEM-768 handshake plus these three scalar
 * multiplications and nothing else (no import, no export, no combiner), per round of samples.
 */
import { check, measureRates, pairedRatio } from '../lib.mjs';
import { MACHINE_ID, ORIGIN, SLUG, sdkBackends } from '../sdk.mjs';
import { diffieHellman, generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto';

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

/**
 * The three X25519 scalar multiplications of one X-Wing handshake on `driver`'s native X25519,
 * keys imported beforehand: `fn` runs one handshake's worth.
 */
async function rawX25519For(driver) {
  if (driver === 'node') {
    const responder = generateKeyPairSync('x25519');
    return () => {
      const ephemeral = generateKeyPairSync('x25519');
      diffieHellman({ privateKey: ephemeral.privateKey, publicKey: responder.publicKey });
      diffieHellman({ privateKey: responder.privateKey, publicKey: ephemeral.publicKey });
    };
  }
  const subtle = webcrypto.subtle;
  const algorithm = { name: 'X25519' };
  const responder = await subtle.generateKey(algorithm, false, ['deriveBits']);
  return async () => {
    const ephemeral = await subtle.generateKey(algorithm, false, ['deriveBits']);
    await subtle.deriveBits(
      { ...algorithm, public: responder.publicKey },
      ephemeral.privateKey,
      256,
    );
    await subtle.deriveBits(
      { ...algorithm, public: ephemeral.publicKey },
      responder.privateKey,
      256,
    );
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
        const native = backend.option.kem === 'native';
        const cases = [MLKEM, XWING].map((alg) => ({
          name: alg,
          fn: async () => (await pairs[alg].client.handshake(SLUG)).wipe(),
        }));
        if (native) cases.push({ name: 'x25519', fn: await rawX25519For(backend.backend) });
        const rates = await measureRates(
          cases,
          // Twice the samples of other sections: the ratio of two close rates needs them.
          { ...timing, samples: timing.samples * 2 },
        );
        rows.push({
          ...base,
          mlkemPerSec: rates[MLKEM].opsPerSec,
          xwingPerSec: rates[XWING].opsPerSec,
          // Cost of an X-Wing handshake over an ML-KEM-768 one, per round of interleaved samples.
          costRatio: pairedRatio(rates[MLKEM].samples, rates[XWING].samples),
          native,
          // 1 + (time of the three X25519) / (time of an ML-KEM-768 handshake), per round.
          ...(native && {
            x25519PerSec: rates.x25519.opsPerSec,
            floorRatio: 1 + pairedRatio(rates[MLKEM].samples, rates.x25519.samples),
          }),
        });
      } finally {
        for (const pair of Object.values(pairs)) await pair.close();
      }
    }
  }
  return rows;
}
