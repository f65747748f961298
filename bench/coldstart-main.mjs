/**
 * One cold start, in a fresh process (see `sections/coldstart.mjs`): import the built package,
 * make a responder and a client pinned to it, complete one handshake in process, then a second.
 * Prints one `BENCH_RESULT` line with the times in milliseconds; `performance.now()` counts from
 * the start of the process.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

const RESULT_PREFIX = 'BENCH_RESULT ';
const { build = 'node', option = {} } = JSON.parse(process.argv[2] ?? '{}');
// The Node build by the package's name (what Node users import); the portable build by its file.
const entries =
  build === 'portable'
    ? [
        new URL('../dist/index.js', import.meta.url).href,
        new URL('../dist/responder.js', import.meta.url).href,
      ]
    : ['zeq-keyex', 'zeq-keyex/responder'];

try {
  const t0 = performance.now();
  const { createClient } = await import(entries[0]);
  const { createResponder } = await import(entries[1]);
  const t1 = performance.now();
  const responder = createResponder({
    fieldKey: randomBytes(32).toString('hex'),
    machines: { 'bench-01': 'm-bench-01' },
    ...option,
  });
  const { fingerprint } = await responder.keyDocument('bench-01');
  const client = createClient({
    origin: 'http://zeq-keyex.bench',
    pins: { 'bench-01': fingerprint },
    fetch: (request) => responder.fetch(request),
    retry: 0,
    ...option,
  });
  const first = await client.handshake('bench-01');
  const t2 = performance.now();
  const second = await client.handshake('bench-01');
  const t3 = performance.now();
  if (!first.authenticated || !second.authenticated)
    throw new Error('a pinned handshake is not authenticated');
  const backend = first.kemBackend;
  first.wipe();
  second.wipe();
  responder.close();
  process.stdout.write(
    `${RESULT_PREFIX}${JSON.stringify({ backend, bootMs: t0, importMs: t1 - t0, firstHandshakeMs: t2 - t1, importToHandshakeMs: t2 - t0, secondHandshakeMs: t3 - t2 })}\n`,
  );
} catch (error) {
  process.stdout.write(
    `${RESULT_PREFIX}${JSON.stringify({ error: `${error?.code ?? error?.name}: ${error?.message}` })}\n`,
  );
  process.exitCode = 1;
}
