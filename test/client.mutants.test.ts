/**
 * The initiator client (`src/initiator/client.ts`) at the lines the end-to-end suites pass over:
 * its options checked at creation (`origin`, `algs`, `maxRecordBytes`, the trust options), the
 * request it sends (routes, the ciphertext and fingerprint), the response bound to the key it
 * encapsulated to field by field (`response_mismatch`), and nothing sent without a trust choice.
 */
import { describe, expect, test } from 'vitest';
import { ALG } from '../src/core/constants.js';
import { base64Decode } from '../src/core/encoding.js';
import { type ClientOptions, createClient } from '../src/initiator/client.js';
import { createMemoryTrustStore, tofuKey } from '../src/initiator/trust.js';
import { isZeqKeyExError } from '../src/core/errors.js';
import { expectCodeAsync } from './helpers/errors.js';
import {
  type FetchHandler,
  MACHINE_ID,
  OTHER_SLUG,
  SLUG,
  editHandshake,
  failFirst,
  makeFixture,
  spy,
  switchable,
} from './helpers/client-kit.js';
import { FIELD_KEY } from './helpers/responder.js';
import { createResponder } from '../src/responder/responder.js';
import { createMemoryKeyStore } from '../src/responder/stores.js';

const ORIGIN = 'https://edge.test';

function client(handler: FetchHandler, options: Partial<ClientOptions> = {}) {
  return createClient({
    origin: ORIGIN,
    retry: 0,
    fetch: (request) => handler(request),
    ...options,
  });
}

describe('options', () => {
  test('the origin is normalised, and must be an http(s) URL without query or credentials', () => {
    const fetch: FetchHandler = async () => new Response(null, { status: 500 });
    expect(
      createClient({ origin: 'https://Edge.Test/', fetch, insecureUnpinned: true }).origin,
    ).toBe('https://edge.test');
    for (const origin of [
      'ftp://edge.test',
      'https://edge.test/?q',
      'https://u:p@edge.test',
      'edge',
    ])
      expect(() => createClient({ origin, fetch, insecureUnpinned: true })).toThrow(TypeError);
  });

  test('algs: ML-KEM-768 and X-Wing only, and not empty', () => {
    const fetch: FetchHandler = async () => new Response(null, { status: 500 });
    const base = { origin: ORIGIN, fetch, insecureUnpinned: true };
    expect(() => createClient({ ...base, algs: [ALG] })).not.toThrow();
    expect(() => createClient({ ...base, algs: ['X-Wing'] })).not.toThrow();
    expect(() => createClient({ ...base, algs: [ALG, 'X-Wing'] })).not.toThrow();
    for (const algs of [[], ['x-wing'], [ALG, 'ML-KEM-1024'], ['ml-kem-768']]) {
      expect(() => createClient({ ...base, algs: algs as (typeof ALG)[] })).toThrow(TypeError);
      // The message lists the algs there are.
      expect(() => createClient({ ...base, algs: algs as (typeof ALG)[] })).toThrow(
        /ML-KEM-768, X-Wing/,
      );
    }
  });

  test('maxRecordBytes: an integer above 0', () => {
    const fetch: FetchHandler = async () => new Response(null, { status: 500 });
    const base = { origin: ORIGIN, fetch, insecureUnpinned: true };
    expect(() => createClient({ ...base, maxRecordBytes: 1 })).not.toThrow();
    for (const maxRecordBytes of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      expect(() => createClient({ ...base, maxRecordBytes })).toThrow(RangeError);
      expect(() => createClient({ ...base, maxRecordBytes })).toThrow(/maxRecordBytes/);
    }
  });

  test('trust options are checked at creation', () => {
    const fetch: FetchHandler = async () => new Response(null, { status: 500 });
    expect(() => createClient({ origin: ORIGIN, fetch, pins: { [SLUG]: 'abc' } })).toThrow(
      TypeError,
    );
    expect(() =>
      createClient({
        origin: ORIGIN,
        fetch,
        tofu: {} as ReturnType<typeof createMemoryTrustStore>,
      }),
    ).toThrow(TypeError);
  });
});

describe('a handshake', () => {
  test('without a trust choice nothing is sent: pin_required', async () => {
    const f = await makeFixture();
    const s = spy(f.handler);
    await expectCodeAsync(client(s.handler).handshake(SLUG), 'pin_required');
    expect(s.requests).toHaveLength(0);
  });

  test('kem: native, for any accepted alg: a runtime without it sends nothing', async () => {
    const f = await makeFixture();
    for (const algs of [[ALG], [ALG, 'X-Wing']] as const) {
      const s = spy(f.handler);
      const c = client(s.handler, { pins: { [SLUG]: f.doc.fingerprint }, kem: 'native', algs });
      try {
        const session = await c.handshake(SLUG);
        // This runtime has a native KEM for every alg accepted.
        expect(session.kemBackend).not.toBe('noble');
        session.wipe();
      } catch (error) {
        expect(isZeqKeyExError(error, 'kem_unavailable')).toBe(true);
        expect(s.requests).toHaveLength(0);
      }
    }
  });

  test('a malformed slug is a TypeError, before anything is sent', async () => {
    const f = await makeFixture();
    const s = spy(f.handler);
    const c = client(s.handler, { insecureUnpinned: true });
    await expect(c.handshake('../x')).rejects.toThrow(TypeError);
    await expect(c.fetchKeyDocument('a b')).rejects.toThrow(TypeError);
    expect(s.requests).toHaveLength(0);
  });

  test('sends the ciphertext and the fingerprint it encapsulated to, to the slug’s routes', async () => {
    const f = await makeFixture();
    const s = spy(f.handler);
    const session = await client(s.handler, { pins: { [SLUG]: f.doc.fingerprint } }).handshake(
      SLUG,
    );
    expect(s.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /api/keyex/${SLUG}/pubkey`,
      `POST /api/keyex/${SLUG}/handshake`,
    ]);
    const body = JSON.parse(s.requests[1]?.body ?? '{}') as Record<string, unknown>;
    expect(body['fingerprint']).toBe(f.doc.fingerprint);
    expect(base64Decode(body['cipher_text'])).toHaveLength(1088);
    expect(session).toMatchObject({
      slug: SLUG,
      machineId: MACHINE_ID,
      fingerprint: f.doc.fingerprint,
      trust: 'pinned',
      authenticated: true,
    });
    session.wipe();
  });

  test('a response naming another machine, key or alg is response_mismatch', async () => {
    const f = await makeFixture();
    const edits: Record<string, unknown>[] = [
      { machine_id: 'machine:other' },
      { fingerprint: 'ab'.repeat(32) },
      { alg: 'X-Wing' },
    ];
    for (const edit of edits) {
      const handler = editHandshake(f.handler, (response) => ({ ...response, ...edit }));
      await expectCodeAsync(
        client(handler, { pins: { [SLUG]: f.doc.fingerprint } }).handshake(SLUG),
        'response_mismatch',
      );
    }
  });

  test('a TOFU first use is remembered only once the handshake is confirmed', async () => {
    const f = await makeFixture();
    const tofu = createMemoryTrustStore();
    const broken = editHandshake(f.handler, (response) => ({
      ...response,
      key_confirmation: 'AAAA',
    }));
    await expectCodeAsync(client(broken, { tofu }).handshake(SLUG), 'confirmation_failed');
    expect(await tofu.get(tofuKey(ORIGIN, SLUG))).toBeUndefined();
    const session = await client(f.handler, { tofu }).handshake(SLUG);
    expect(session.trust).toBe('tofu-first-use');
    expect(await tofu.get(tofuKey(ORIGIN, SLUG))).toBe(f.doc.fingerprint);
  });
});

describe('one round trip: the kept key documents (spec §8.2)', () => {
  test('a KEM-key pin keeps the document: the next handshake only posts', async () => {
    const f = await makeFixture();
    const s = spy(f.handler);
    const c = client(s.handler, { pins: { [SLUG]: f.doc.fingerprint } });
    expect((await c.handshake(SLUG)).documentCached).toBe(false);
    const second = await c.handshake(SLUG);
    expect(second).toMatchObject({ documentCached: true, trust: 'pinned', slug: SLUG });
    expect(s.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'POST']);
    expect(await f.sessions.get(second.sessionId)).toBeDefined();
    // Kept per slug: another slug fetches its own.
    const other = await client(s.handler, {
      pins: {
        [SLUG]: f.doc.fingerprint,
        [OTHER_SLUG]: (await f.responder.keyDocument(OTHER_SLUG)).fingerprint,
      },
    }).handshake(OTHER_SLUG);
    expect(other.documentCached).toBe(false);
  });

  test('cacheKeyDocuments: false, a TOFU store or no authentication: the document every time', async () => {
    const f = await makeFixture();
    for (const options of [
      { pins: { [SLUG]: f.doc.fingerprint }, cacheKeyDocuments: false },
      { tofu: createMemoryTrustStore() },
      { insecureUnpinned: true as const },
    ] satisfies Partial<ClientOptions>[]) {
      const s = spy(f.handler);
      const c = client(s.handler, options);
      await c.handshake(SLUG);
      expect((await c.handshake(SLUG)).documentCached).toBe(false);
      expect(s.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'GET', 'POST']);
    }
    const s = spy(f.handler);
    const c = client(s.handler, { pins: { [SLUG]: f.doc.fingerprint }, cacheKeyDocuments: true });
    await c.handshake(SLUG);
    expect((await c.handshake(SLUG)).documentCached).toBe(true);
  });

  test('409 key_mismatch on a kept document: the document again, once, and the handshake retried', async () => {
    const before = await makeFixture();
    const after = await makeFixture();
    const target = switchable(before.handler);
    const s = spy(target.handler);
    const c = client(s.handler, {
      pins: { [SLUG]: [before.doc.fingerprint, after.doc.fingerprint] },
    });
    await c.handshake(SLUG);
    target.set(after.handler); // the responder rotated its key
    const session = await c.handshake(SLUG);
    expect(session).toMatchObject({ documentCached: false, fingerprint: after.doc.fingerprint });
    expect(s.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'POST', 'GET', 'POST']);
    // The document fetched again is kept in turn.
    expect((await c.handshake(SLUG)).documentCached).toBe(true);
  });

  test('any other failure on a kept document is thrown, and the document dropped', async () => {
    const f = await makeFixture();
    const target = switchable(f.handler);
    const s = spy(target.handler);
    const c = client(s.handler, { pins: { [SLUG]: f.doc.fingerprint } });
    await c.handshake(SLUG);
    for (const [status, code] of [
      [503, 'unavailable'],
      [409, 'session_exists'],
      [400, 'key_mismatch_not'],
    ] as const) {
      target.set(failFirst(f.handler, 'POST', 1, status, code));
      await expectCodeAsync(c.handshake(SLUG), 'http_error');
      const methods = s.requests.map((r) => r.method);
      expect(methods.at(-1)).toBe('POST');
      target.set(f.handler);
      expect((await c.handshake(SLUG)).documentCached).toBe(false);
      expect(s.requests.map((r) => r.method).slice(methods.length)).toEqual(['GET', 'POST']);
    }
    // A failed confirmation on a kept document: thrown, not retried.
    target.set(editHandshake(f.handler, (response) => ({ ...response, key_confirmation: 'AAAA' })));
    const sent = s.requests.length;
    await expectCodeAsync(c.handshake(SLUG), 'confirmation_failed');
    expect(s.requests.map((r) => r.method).slice(sent)).toEqual(['POST']);
  });

  test('at most 64 documents: the 65th slug empties the cache', async () => {
    const slugs = Array.from({ length: 65 }, (_, i) => `m-${i}`);
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: Object.fromEntries(slugs.map((slug) => [slug, `machine:${slug}`])),
      keyStore: createMemoryKeyStore(),
    });
    const pins: Record<string, string> = {};
    for (const slug of slugs) pins[slug] = (await responder.keyDocument(slug)).fingerprint;
    const s = spy((request) => responder.fetch(request));
    const c = client(s.handler, { pins });
    for (const slug of slugs.slice(0, 64)) await c.handshake(slug);
    // All 64 kept; one of them kept again does not empty the full cache.
    expect((await c.handshake('m-0')).documentCached).toBe(true);
    expect((await c.handshake('m-63')).documentCached).toBe(true);
    expect((await c.handshake('m-0')).documentCached).toBe(true);
    await c.handshake('m-64'); // the cache was full: emptied, then this one kept
    expect((await c.handshake('m-64')).documentCached).toBe(true);
    expect((await c.handshake('m-0')).documentCached).toBe(false);
    expect((await c.handshake('m-63')).documentCached).toBe(false);
  });
});
