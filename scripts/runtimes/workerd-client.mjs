/**
 * The Node side of the workerd smoke run: `node workerd-client.mjs <origin>`.
 *
 * Fetches the in-worker result (`/__smoke`), then performs a pinned handshake with the worker's
 * responder over real HTTP and sends records over the session. The pin is taken from
 * `fetchKeyDocument`, the documented way to discover it (both ends run on this machine).
 */
import * as lib from 'zeq-keyex';
import { SMOKE_MACHINE, checkSession, printResult, recordRoundTrips } from './smoke.mjs';

const origin = process.argv[2];
const { slug } = SMOKE_MACHINE;
const checks = [];

async function check(name, fn) {
  try {
    const detail = await fn();
    checks.push(
      detail === undefined ? { name, ok: true } : { name, ok: true, detail: String(detail) },
    );
  } catch (error) {
    checks.push({
      name,
      ok: false,
      detail: `${error?.name ?? 'Error'}${error?.code ? ` [${error.code}]` : ''}: ${error?.message ?? error}`,
    });
  }
}

let inWorker = { runtime: 'workerd (no answer)', checks: [] };
await check('in-worker smoke answered', async () => {
  const response = await fetch(`${origin}/__smoke`, { signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  inWorker = await response.json();
});

let session;
await check('handshake over HTTP (Node client → workerd responder)', async () => {
  const probe = lib.createClient({ origin, insecureUnpinned: true, retry: 0 });
  const pin = (await probe.fetchKeyDocument(slug)).fingerprint;
  const client = lib.createClient({ origin, pins: { [slug]: pin }, retry: 0 });
  session = await client.handshake(slug);
  checkSession(lib, session, pin);
});
if (session !== undefined) {
  await check('record round trips over HTTP', () => recordRoundTrips(lib, session, undefined));
  session.wipe();
}

printResult({
  runtime: inWorker.runtime,
  backends: inWorker.backends,
  checks: [...inWorker.checks.map((c) => ({ ...c, name: `in worker: ${c.name}` })), ...checks],
});
