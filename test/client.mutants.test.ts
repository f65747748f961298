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
import { expectCodeAsync } from './helpers/errors.js';
import {
  type FetchHandler,
  MACHINE_ID,
  SLUG,
  editHandshake,
  makeFixture,
  spy,
} from './helpers/client-kit.js';

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
    for (const algs of [[], ['x-wing'], [ALG, 'ML-KEM-1024'], ['ml-kem-768']])
      expect(() => createClient({ ...base, algs: algs as (typeof ALG)[] })).toThrow(TypeError);
  });

  test('maxRecordBytes: an integer above 0', () => {
    const fetch: FetchHandler = async () => new Response(null, { status: 500 });
    const base = { origin: ORIGIN, fetch, insecureUnpinned: true };
    expect(() => createClient({ ...base, maxRecordBytes: 1 })).not.toThrow();
    for (const maxRecordBytes of [0, -1, 1.5, Number.NaN, 2 ** 53])
      expect(() => createClient({ ...base, maxRecordBytes })).toThrow(RangeError);
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
