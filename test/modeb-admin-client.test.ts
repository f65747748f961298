/**
 * The SDK's Mode-B admin client against two in-process responders and against scripted answers:
 * the full flow, credentials (bearer and cookie), error mapping (`fingerprint_mismatch` with both
 * fingerprints, `http_error` with status and wire code), response validation, input checks before
 * anything is sent, time limit, and no redirects.
 */
import { describe, expect, test } from 'vitest';
import { createModeBAdminClient } from '../src/initiator/admin-client.js';
import { ALG } from '../src/core/constants.js';
import { base64Encode } from '../src/core/encoding.js';
import { isZeqKeyExError } from '../src/core/errors.js';
import type { FetchFunction } from '../src/initiator/transport.js';
import { createResponder } from '../src/responder/responder.js';
import { unsealStoredSeed } from '../src/responder/seed-store.js';
import { expectCodeAsync } from './helpers/errors.js';
import {
  FIELD_KEY,
  ORIGIN_A,
  ORIGIN_B,
  OTHER_FIELD_KEY,
  TOKEN_A,
  TOKEN_B,
  twoResponders,
} from './helpers/modeb.js';
import { fetchKeyDoc } from './helpers/responder.js';
import { toHex } from './helpers/vectors.js';

async function caught(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    expect(isZeqKeyExError(error), String(error)).toBe(true);
    return error as Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

const PIN = 'ab'.repeat(32);
const CT = base64Encode(new Uint8Array(1088).fill(3));

describe('against two responders', () => {
  test('initiate on A, respond on B: equal commitments, equal sealed seeds', async () => {
    const pair = twoResponders();
    const pin = (await fetchKeyDoc(pair.b.fetch, 'core-01')).fingerprint;
    const edge = createModeBAdminClient({
      origin: `${ORIGIN_A}/`,
      token: TOKEN_A,
      fetch: pair.a.fetch,
    });
    const core = createModeBAdminClient({ origin: ORIGIN_B, token: TOKEN_B, fetch: pair.b.fetch });
    expect(edge.origin).toBe(ORIGIN_A);
    // The pin may be given as an operator writes it.
    const grouped = pin.toUpperCase().match(/..../g)?.join(' ') as string;
    const l = await edge.initiate({
      localMachine: 'edge-01',
      peerOrigin: ORIGIN_B,
      peerMachine: 'core-01',
      expectedFingerprint: grouped,
    });
    expect(l).toMatchObject({
      localMachineId: 'machine:edge-01',
      peerMachineId: 'machine:core-01',
      peerFingerprint: pin,
      alg: ALG,
    });
    const p = await core.respond({
      localMachine: 'core-01',
      peerMachineId: l.localMachineId,
      cipherText: l.cipherText,
    });
    expect(p).toEqual({
      seedCommitment: l.seedCommitment,
      localMachineId: 'machine:core-01',
      fingerprint: pin,
      alg: ALG,
    });
    const storedA = await pair.seedsA.get('machine:edge-01', 'machine:core-01');
    const storedB = await pair.seedsB.get('machine:core-01', 'machine:edge-01');
    if (storedA === undefined || storedB === undefined) throw new Error('a side stored no seed');
    const seedA = unsealStoredSeed(FIELD_KEY, storedA);
    const seedB = unsealStoredSeed(OTHER_FIELD_KEY, storedB);
    expect(toHex(seedA)).toBe(toHex(seedB));
    // No result carries the seed.
    expect(JSON.stringify([l, p])).not.toContain(toHex(seedA));
  });

  test('a wrong pin is fingerprint_mismatch with both fingerprints; nothing is stored', async () => {
    const pair = twoResponders();
    const pin = (await fetchKeyDoc(pair.b.fetch, 'core-01')).fingerprint;
    const edge = createModeBAdminClient({ origin: ORIGIN_A, token: TOKEN_A, fetch: pair.a.fetch });
    const error = await caught(
      edge.initiate({
        localMachine: 'edge-01',
        peerOrigin: ORIGIN_B,
        peerMachine: 'core-01',
        expectedFingerprint: PIN,
      }),
    );
    expect(error).toMatchObject({
      code: 'fingerprint_mismatch',
      status: 409,
      responseCode: 'fingerprint_mismatch',
      expectedFingerprint: PIN,
      actualFingerprint: pin,
    });
    expect(pair.seedsA.puts).toHaveLength(0);
  });

  test('other wire errors are http_error with status and responseCode', async () => {
    const pair = twoResponders({ peerFetch: () => Promise.reject(new TypeError('fetch failed')) });
    const request = {
      localMachine: 'edge-01',
      peerOrigin: ORIGIN_B,
      peerMachine: 'core-01',
      expectedFingerprint: PIN,
    };
    const anonymous = createModeBAdminClient({ origin: ORIGIN_A, fetch: pair.a.fetch });
    expect(await caught(anonymous.initiate(request))).toMatchObject({
      code: 'http_error',
      status: 401,
      responseCode: 'unauthorized',
    });
    const other = createModeBAdminClient({ origin: ORIGIN_A, token: TOKEN_B, fetch: pair.a.fetch });
    expect(await caught(other.initiate(request))).toMatchObject({
      code: 'http_error',
      status: 403,
      responseCode: 'forbidden',
    });
    const admin = createModeBAdminClient({ origin: ORIGIN_A, token: TOKEN_A, fetch: pair.a.fetch });
    expect(await caught(admin.initiate(request))).toMatchObject({
      code: 'http_error',
      status: 502,
      responseCode: 'peer_unreachable',
    });
    expect(
      await caught(
        admin.respond({
          localMachine: 'edge-01',
          peerMachineId: 'machine:core-01',
          cipherText: CT,
        }),
      ),
    ).toMatchObject({
      code: 'http_error',
      status: 409,
      responseCode: 'key_mismatch',
    });
  });

  test('credentials as any headers, e.g. a session cookie', async () => {
    const pair = twoResponders({
      adminA: {
        authorize: (r) =>
          r.headers.get('cookie') === 'session=admin'
            ? 'admin'
            : r.headers.has('cookie')
              ? 'forbidden'
              : 'unauthenticated',
      },
    });
    const pin = (await fetchKeyDoc(pair.b.fetch, 'core-01')).fingerprint;
    const request = {
      localMachine: 'edge-01',
      peerOrigin: ORIGIN_B,
      peerMachine: 'core-01',
      expectedFingerprint: pin,
    };
    const ok = createModeBAdminClient({
      origin: ORIGIN_A,
      headers: { cookie: 'session=admin' },
      fetch: pair.a.fetch,
    });
    expect((await ok.initiate(request)).peerFingerprint).toBe(pin);
    const user = createModeBAdminClient({
      origin: ORIGIN_A,
      headers: { cookie: 'session=user' },
      fetch: pair.a.fetch,
    });
    expect(await caught(user.initiate(request))).toMatchObject({ code: 'http_error', status: 403 });
  });
});

describe('seed_conflict and replace (revision 2)', () => {
  test("a pinned peer declaring another peer's machine_id: an error with both fingerprints, the seed kept; replace re-seeds", async () => {
    const c = createResponder({ fieldKey: OTHER_FIELD_KEY, machines: { evil: 'machine:core-01' } });
    const pair = twoResponders({
      peerFetch: (request) =>
        new URL(request.url).hostname === 'evil.test' ? c.fetch(request) : pair.b.fetch(request),
    });
    const pinB = (await fetchKeyDoc(pair.b.fetch, 'core-01')).fingerprint;
    const pinC = (await fetchKeyDoc(c.fetch, 'evil')).fingerprint;
    const edge = createModeBAdminClient({ origin: ORIGIN_A, token: TOKEN_A, fetch: pair.a.fetch });
    await edge.initiate({
      localMachine: 'edge-01',
      peerOrigin: ORIGIN_B,
      peerMachine: 'core-01',
      expectedFingerprint: pinB,
    });
    const before = pair.seedsA.snapshot();
    const impostor = {
      localMachine: 'edge-01',
      peerOrigin: 'https://evil.test',
      peerMachine: 'evil',
      expectedFingerprint: pinC,
    };
    expect(await caught(edge.initiate(impostor))).toMatchObject({
      code: 'http_error',
      status: 409,
      responseCode: 'seed_conflict',
      expectedFingerprint: pinB,
      actualFingerprint: pinC,
    });
    expect(pair.seedsA.snapshot()).toBe(before);
    await expect(
      edge.initiate({ ...impostor, replace: 'yes' as unknown as boolean }),
    ).rejects.toThrow(TypeError);
    const replaced = await edge.initiate({ ...impostor, replace: true });
    expect((await pair.seedsA.get('machine:edge-01', 'machine:core-01'))?.seedCommitment).toBe(
      replaced.seedCommitment,
    );
  });
});

describe('credentials over plain http', () => {
  const ok: FetchFunction = () => Promise.resolve(new Response('{}', { status: 500 }));
  test.each([
    { origin: 'http://edge.test', token: TOKEN_A },
    { origin: 'http://edge.test:8080/zeq', headers: { cookie: 'session=1' } },
    { origin: 'http://10.0.0.1', token: TOKEN_A },
    { origin: 'http://[::ffff:127.0.0.1]', token: TOKEN_A },
    { origin: 'http://localhost.example', token: TOKEN_A },
  ])('$origin with credentials is a TypeError at creation', (options) => {
    expect(() => createModeBAdminClient({ ...options, fetch: ok })).toThrow(TypeError);
  });

  test('loopback, a named host, https, or no credentials are accepted; nothing else is sent', async () => {
    const sent: Request[] = [];
    const record: FetchFunction = (request) => {
      sent.push(request);
      return Promise.resolve(new Response('{}', { status: 500 }));
    };
    for (const origin of [
      'http://127.0.0.1:8787',
      'http://127.9.9.9',
      'http://[::1]:8787',
      'http://localhost:8787',
      'http://edge.localhost',
    ])
      expect(createModeBAdminClient({ origin, token: TOKEN_A, fetch: record }).origin).toBe(origin);
    expect(
      createModeBAdminClient({
        origin: 'http://EDGE.test:8080',
        token: TOKEN_A,
        allowInsecureHosts: ['edge.TEST'],
        fetch: record,
      }).origin,
    ).toBe('http://edge.test:8080');
    expect(() =>
      createModeBAdminClient({
        origin: 'http://core.test',
        token: TOKEN_A,
        allowInsecureHosts: ['edge.test'],
      }),
    ).toThrow(TypeError);
    expect(() =>
      createModeBAdminClient({ origin: ORIGIN_A, allowInsecureHosts: ['edge.test:80'] }),
    ).toThrow(TypeError);
    expect(createModeBAdminClient({ origin: 'http://edge.test' }).origin).toBe('http://edge.test');
    expect(sent).toHaveLength(0);
  });
});

describe('against scripted answers', () => {
  function scripted(
    answer: (request: Request, init?: RequestInit) => Response | Promise<Response>,
  ): { fetch: FetchFunction; calls: { request: Request; init: RequestInit | undefined }[] } {
    const calls: { request: Request; init: RequestInit | undefined }[] = [];
    return {
      calls,
      fetch: async (request, init) => {
        calls.push({ request: request.clone(), init });
        return answer(request, init);
      },
    };
  }
  const json = (body: unknown, status = 200): Response =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const good = {
    cipher_text: CT,
    seed_commitment: 'cd'.repeat(32),
    peer_machine_id: 'p',
    peer_fingerprint: PIN,
    local_machine_id: 'l',
    alg: ALG,
  };
  const initiate = {
    localMachine: 'edge-01',
    peerOrigin: 'https://peer.test/base/',
    peerMachine: 'core-01',
    expectedFingerprint: PIN,
  };

  test('sends exactly the §4.1 / §4.2 bodies, with the bearer token and without following redirects', async () => {
    const s = scripted((request) =>
      request.url.endsWith('/initiate')
        ? json(good)
        : json({
            seed_commitment: 'cd'.repeat(32),
            local_machine_id: 'p',
            fingerprint: PIN,
            alg: ALG,
          }),
    );
    const client = createModeBAdminClient({
      origin: 'https://edge.test/zeq',
      token: TOKEN_A,
      fetch: s.fetch,
    });
    expect(await client.initiate(initiate)).toEqual({
      cipherText: CT,
      seedCommitment: 'cd'.repeat(32),
      peerMachineId: 'p',
      peerFingerprint: PIN,
      localMachineId: 'l',
      alg: ALG,
    });
    await client.respond({
      localMachine: 'core-01',
      peerMachineId: 'machine:edge-01',
      cipherText: new Uint8Array(1088).fill(3),
    });
    const [first, second] = s.calls;
    expect(first?.request.url).toBe('https://edge.test/zeq/api/ssl/peer-seed/keyex/initiate');
    expect(first?.request.method).toBe('POST');
    expect(first?.request.headers.get('authorization')).toBe(`Bearer ${TOKEN_A}`);
    expect(first?.request.headers.get('content-type')).toMatch(/^application\/json/);
    expect(first?.init?.redirect).toBe('manual');
    expect(await first?.request.json()).toEqual({
      local_machine: 'edge-01',
      peer_origin: 'https://peer.test/base',
      peer_machine: 'core-01',
      expected_fingerprint: PIN,
    });
    await client.initiate({ ...initiate, replace: true });
    await client.initiate({ ...initiate, replace: false });
    expect(await s.calls[2]?.request.json()).toMatchObject({ replace: true });
    expect(await s.calls[3]?.request.json()).not.toHaveProperty('replace');
    expect(second?.request.url).toBe('https://edge.test/zeq/api/ssl/peer-seed/keyex/respond');
    expect(await second?.request.json()).toEqual({
      local_machine: 'core-01',
      peer_machine_id: 'machine:edge-01',
      cipher_text: CT,
    });
  });

  test('a redirect is an error, never followed', async () => {
    const s = scripted(
      () => new Response(null, { status: 307, headers: { location: 'https://elsewhere.test/' } }),
    );
    const client = createModeBAdminClient({ origin: ORIGIN_A, token: TOKEN_A, fetch: s.fetch });
    expect(await caught(client.initiate(initiate))).toMatchObject({
      code: 'http_error',
      status: 307,
    });
    expect(s.calls).toHaveLength(1);
  });

  test.each([
    ['a missing field', { ...good, alg: undefined }],
    ['another alg', { ...good, alg: 'X-Wing' }],
    ['a short cipher text', { ...good, cipher_text: base64Encode(new Uint8Array(10)) }],
    ['an upper-case commitment', { ...good, seed_commitment: 'CD'.repeat(32) }],
    ['a malformed machine id', { ...good, local_machine_id: 'a b' }],
    ['an array', [good]],
  ])('a success body with %s is malformed_response', async (_, body) => {
    const client = createModeBAdminClient({
      origin: ORIGIN_A,
      token: TOKEN_A,
      fetch: scripted(() => json(body)).fetch,
    });
    await expectCodeAsync(client.initiate(initiate), 'malformed_response');
  });

  test('a responder that encapsulated to another key than the pin is response_mismatch', async () => {
    const client = createModeBAdminClient({
      origin: ORIGIN_A,
      token: TOKEN_A,
      fetch: scripted(() => json({ ...good, peer_fingerprint: 'ef'.repeat(32) })).fetch,
    });
    await expectCodeAsync(client.initiate(initiate), 'response_mismatch');
  });

  test('a 409 without both fingerprints stays http_error', async () => {
    for (const body of [
      { error: 'fingerprint_mismatch', message: 'x' },
      { error: 'fingerprint_mismatch', expected_fingerprint: 'x', actual_fingerprint: PIN },
      'nonsense',
    ]) {
      const client = createModeBAdminClient({
        origin: ORIGIN_A,
        token: TOKEN_A,
        fetch: scripted(() => json(body, 409)).fetch,
      });
      expect(await caught(client.initiate(initiate))).toMatchObject({
        code: 'http_error',
        status: 409,
      });
    }
    const huge = {
      error: 'fingerprint_mismatch',
      expected_fingerprint: PIN,
      actual_fingerprint: 'cd'.repeat(32),
      pad: 'x'.repeat(70_000),
    };
    const client = createModeBAdminClient({
      origin: ORIGIN_A,
      token: TOKEN_A,
      fetch: scripted(() => json(huge, 409)).fetch,
    });
    expect(await caught(client.initiate(initiate))).toMatchObject({
      code: 'http_error',
      status: 409,
      expectedFingerprint: undefined,
    });
  });

  test('a responder that does not answer in time is timeout', async () => {
    const hang: FetchFunction = (request) =>
      new Promise((_, reject) =>
        request.signal.addEventListener('abort', () => reject(request.signal.reason), {
          once: true,
        }),
      );
    const client = createModeBAdminClient({
      origin: ORIGIN_A,
      token: TOKEN_A,
      fetch: hang,
      timeoutMs: 100,
    });
    await expectCodeAsync(client.initiate(initiate), 'timeout');
  });

  test('inputs are checked before anything is sent', async () => {
    const s = scripted(() => json(good));
    const client = createModeBAdminClient({ origin: ORIGIN_A, token: TOKEN_A, fetch: s.fetch });
    await expect(client.initiate({ ...initiate, localMachine: 'a/b' })).rejects.toThrow(TypeError);
    await expect(client.initiate({ ...initiate, peerMachine: '' })).rejects.toThrow(TypeError);
    await expect(client.initiate({ ...initiate, expectedFingerprint: 'abc' })).rejects.toThrow(
      TypeError,
    );
    await expect(client.initiate({ ...initiate, peerOrigin: 'ftp://x' })).rejects.toThrow(
      TypeError,
    );
    await expect(
      client.respond({ localMachine: 'c', peerMachineId: 'bad id', cipherText: CT }),
    ).rejects.toThrow(TypeError);
    await expectCodeAsync(
      client.respond({ localMachine: 'c', peerMachineId: 'm', cipherText: `${CT} ` }),
      'invalid_encoding',
    );
    await expectCodeAsync(
      client.respond({
        localMachine: 'c',
        peerMachineId: 'm',
        cipherText: base64Encode(new Uint8Array(1000)),
      }),
      'invalid_encoding',
    );
    await expectCodeAsync(
      client.respond({ localMachine: 'c', peerMachineId: 'm', cipherText: new Uint8Array(1000) }),
      'invalid_cipher_text',
    );
    expect(s.calls).toHaveLength(0);
    expect(() => createModeBAdminClient({ origin: 'edge.test' })).toThrow(TypeError);
    expect(() => createModeBAdminClient({ origin: ORIGIN_A, token: 'short' })).toThrow(TypeError);
    expect(() => createModeBAdminClient({ origin: ORIGIN_A, timeoutMs: 0 })).toThrow(RangeError);
  });
});
