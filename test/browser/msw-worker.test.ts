/**
 * First contact through msw's browser service worker: the page's real `fetch` goes out, the
 * service worker intercepts it, and the SDK's msw handlers (`zeq-keyex/msw`) answer with an
 * in-page responder. This is the path an app's own browser test suite takes.
 *
 * Requests to the test server itself (module loads) pass through; any other request without a
 * handler is an error, and is recorded so a test can assert none happened.
 */
import { setupWorker } from 'msw/browser';
import { http, HttpResponse } from 'msw';
import { afterAll, afterEach, beforeAll, expect, test, vi } from 'vitest';
import { createClient } from '../../src/initiator/client.js';
import { createResponderHandlers } from '../../src/msw.js';
import { isZeqKeyExError } from '../../src/core/errors.js';
import { createMemorySessionStore } from '../../src/responder.js';
import { expectCodeAsync } from '../helpers/errors.js';
import { toHex } from '../helpers/vector-data.js';
import { MACHINES, ORIGIN, OTHER_FIELD_KEY, makeResponder } from './fixtures.js';
import { sessionRecords } from '../../src/initiator/records.js';

const sessionStore = createMemorySessionStore();
// Records are answered with the request's bytes reversed, so a reply proves a round trip.
const responder = makeResponder({
  sessionStore,
  onRecord: (plaintext) => plaintext.slice().reverse(),
});
const worker = setupWorker(...createResponderHandlers(responder, ORIGIN));
const unhandled: string[] = [];

beforeAll(async () => {
  await worker.start({
    serviceWorker: { url: '/mockServiceWorker.js' },
    quiet: true,
    onUnhandledRequest(request, print) {
      if (new URL(request.url).origin === location.origin) return;
      unhandled.push(`${request.method} ${request.url}`);
      print.error();
    },
  });
  // The page must be controlled, or fetches would reach the (absent) network.
  expect(navigator.serviceWorker.controller?.scriptURL).toBe(
    new URL('/mockServiceWorker.js', location.origin).href,
  );
});

afterEach(() => {
  worker.resetHandlers();
});

afterAll(() => {
  worker.stop();
});

test('a pinned handshake and a record round trip over the page fetch, answered through the service worker', async () => {
  const doc = await responder.keyDocument('edge-01');
  const seen: string[] = [];
  worker.events.on('request:start', ({ request }) => {
    seen.push(`${request.method} ${new URL(request.url).pathname}`);
  });
  try {
    // No `fetch` option: the client uses the page's global fetch.
    const client = createClient({ origin: ORIGIN, retry: 0, pins: { 'edge-01': doc.fingerprint } });
    const session = await client.handshake('edge-01');
    expect(session).toMatchObject({
      slug: 'edge-01',
      machineId: MACHINES['edge-01'],
      fingerprint: doc.fingerprint,
      trust: 'pinned',
      authenticated: true,
    });
    const stored = await sessionStore.get(session.sessionId);
    expect(stored).toBeDefined();
    expect(toHex(stored?.recordKey ?? new Uint8Array())).toBe(toHex(session.recordKey));
    // Binary bodies (application/octet-stream) cross the service worker both ways.
    const payload = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
    const reply = await sessionRecords(session).request(payload);
    expect(toHex(reply)).toBe(toHex(payload.slice().reverse()));
    session.wipe();
  } finally {
    worker.events.removeAllListeners('request:start');
  }
  expect(seen.slice(0, 2)).toEqual([
    'GET /api/keyex/edge-01/pubkey',
    'POST /api/keyex/edge-01/handshake',
  ]);
  expect(seen[2]).toMatch(/^POST \/api\/keyex\/edge-01\/sessions\/[A-Za-z0-9_-]{22}\/records$/);
  expect(seen).toHaveLength(3);
  expect(unhandled).toEqual([]);
});

test('a wrong pin is refused before anything is posted through the worker', async () => {
  const posts: string[] = [];
  worker.events.on('request:start', ({ request }) => {
    if (request.method === 'POST') posts.push(request.url);
  });
  try {
    const client = createClient({ origin: ORIGIN, retry: 0, pins: { 'edge-01': 'cd'.repeat(32) } });
    await expectCodeAsync(client.handshake('edge-01'), 'fingerprint_mismatch');
  } finally {
    worker.events.removeAllListeners('request:start');
  }
  expect(posts).toEqual([]);
  expect(unhandled).toEqual([]);
});

test('an overriding handler that swaps the key document for another deployment is caught by the pin', async () => {
  const pinned = (await responder.keyDocument('edge-01')).fingerprint;
  const impostor = makeResponder({ fieldKey: OTHER_FIELD_KEY });
  worker.use(
    http.get(`${ORIGIN}/api/keyex/edge-01/pubkey`, async () =>
      HttpResponse.json(await impostor.keyDocument('edge-01')),
    ),
  );
  const client = createClient({ origin: ORIGIN, retry: 0, pins: { 'edge-01': pinned } });
  await expectCodeAsync(client.handshake('edge-01'), 'fingerprint_mismatch');
  expect(unhandled).toEqual([]);
});

test('a request to an origin without handlers fails as a network error and is reported', async () => {
  // msw reports it on console.error; kept out of the test output, but checked.
  const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const client = createClient({
    origin: 'https://unmocked.test',
    retry: 0,
    insecureUnpinned: true,
  });
  let thrown: unknown;
  let prints: number;
  try {
    await client.handshake('edge-01');
  } catch (error) {
    thrown = error;
  } finally {
    prints = printed.mock.calls.length;
    printed.mockRestore();
  }
  expect(isZeqKeyExError(thrown, 'network_error')).toBe(true);
  expect(prints).toBeGreaterThan(0);
  expect(unhandled).toEqual(['GET https://unmocked.test/api/keyex/edge-01/pubkey']);
  unhandled.length = 0;
});
