/**
 * The two apps of the bundle budget (`scripts/bundle-budget.mjs`) do the job the budget compares
 * them on: a pinned first contact with a real responder (fetch injection). The floor, built from
 * the bare dependencies, must stay a complete client — one that checks the pin before sending
 * anything and only returns once the key confirmation opened — or the budget would measure the
 * SDK against less than its job.
 *
 * The identity app (the identity path, measured apart) completes an identity-pinned handshake.
 *
 * The SDK app imports `zeq-keyex`; here that name is the package's source entry.
 */
import { expect, test, vi } from 'vitest';
import { SLUG, STRANGER_FP, makeFixture } from './helpers/client-kit.js';
import { TEST_IDENTITY_PIN, signing } from './helpers/identity.js';

vi.mock('zeq-keyex', async () => await import('../src/index.js'));
vi.mock('zeq-keyex/identity', async () => await import('../src/identity.js'));

interface BudgetApp {
  handshake(options: {
    origin: string;
    slug: string;
    pin: string;
    fetch?: (request: Request) => Promise<Response>;
  }): Promise<{
    sessionId: string;
    recordKey: Uint8Array;
  }>;
}

const APPS = {
  floor: new URL('../scripts/bundle-budget/floor-app.mjs', import.meta.url).pathname,
  client: new URL('../scripts/bundle-budget/client-app.mjs', import.meta.url).pathname,
};

async function loadApp(path: string): Promise<BudgetApp> {
  return (await import(path)) as BudgetApp;
}

test.each(Object.keys(APPS) as (keyof typeof APPS)[])(
  'the %s app completes a pinned handshake with a real responder',
  async (name) => {
    const app = await loadApp(APPS[name]);
    const f = await makeFixture();
    const methods: string[] = [];
    const result = await app.handshake({
      origin: 'https://edge.test',
      slug: SLUG,
      pin: f.doc.fingerprint,
      fetch: (request) => {
        methods.push(request.method);
        return f.responder.fetch(request);
      },
    });
    expect(methods).toEqual(['GET', 'POST']);
    expect(result.sessionId).toMatch(/^[A-Za-z0-9_-]{16,128}$/);
    expect(f.sessions.created).toEqual([result.sessionId]);
    // The responder keeps the record key it derived: the app's must be the same 32 bytes.
    const stored = await f.sessions.get(result.sessionId);
    expect(result.recordKey).toHaveLength(32);
    expect(Array.from(result.recordKey)).toEqual(Array.from(stored?.recordKey ?? []));
  },
);

test('the floor app refuses a key that does not match the pin before sending anything', async () => {
  const app = await loadApp(APPS.floor);
  const f = await makeFixture();
  const methods: string[] = [];
  await expect(
    app.handshake({
      origin: 'https://edge.test',
      slug: SLUG,
      pin: STRANGER_FP,
      fetch: (request) => {
        methods.push(request.method);
        return f.responder.fetch(request);
      },
    }),
  ).rejects.toThrow(Error);
  expect(methods).toEqual(['GET']);
});

test('the floor app refuses a key confirmation that does not open', async () => {
  const app = await loadApp(APPS.floor);
  const f = await makeFixture();
  const tampered = async (request: Request): Promise<Response> => {
    const response = await f.responder.fetch(request);
    if (request.method !== 'POST') return response;
    const body = (await response.json()) as Record<string, string>;
    const sealed = Uint8Array.from(atob(body['key_confirmation'] ?? ''), (c) => c.charCodeAt(0));
    sealed[sealed.length - 1] = (sealed[sealed.length - 1] as number) ^ 1;
    return Response.json({ ...body, key_confirmation: btoa(String.fromCharCode(...sealed)) });
  };
  await expect(
    app.handshake({
      origin: 'https://edge.test',
      slug: SLUG,
      pin: f.doc.fingerprint,
      fetch: tampered,
    }),
  ).rejects.toThrow(Error);
});

test('the identity app completes an identity-pinned handshake with signed key documents', async () => {
  const path = new URL('../scripts/bundle-budget/identity-app.mjs', import.meta.url).pathname;
  const app = (await import(path)) as {
    handshake(options: {
      origin: string;
      slug: string;
      identity: string;
      fetch: (request: Request) => Promise<Response>;
    }): Promise<{ sessionId: string; identity: string | undefined }>;
  };
  const f = await makeFixture();
  const result = await app.handshake({
    origin: 'https://edge.test',
    slug: SLUG,
    identity: TEST_IDENTITY_PIN,
    fetch: signing(f.handler, {}, Math.floor(Date.now() / 1000)),
  });
  expect(result.identity).toBe(TEST_IDENTITY_PIN);
  expect(f.sessions.created).toEqual([result.sessionId]);
});
