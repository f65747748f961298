/**
 * The Mode-B admin endpoints (spec §4.1, §4.2) of two responders wired to each other in process:
 * initiate on one, respond on the other, equal commitments and equal sealed seeds; admin checks;
 * the peer fetch's failures (unreachable, garbage, oversized, self-inconsistent, bad key, http);
 * request validation; and a scan of every response and log line for the seed.
 */
import { describe, expect, test } from 'vitest';
import { createBearerTokenAuthorizer } from '../src/responder/admin.js';
import { ALG } from '../src/core/constants.js';
import { base64Decode, base64Encode } from '../src/core/encoding.js';
import { computeFingerprint } from '../src/core/fingerprint.js';
import { createResponder } from '../src/responder/responder.js';
import type { FetchFunction } from '../src/initiator/transport.js';
import { type StoredSeed, unsealStoredSeed } from '../src/responder/seed-store.js';
import {
  FIELD_KEY,
  INITIATE,
  ORIGIN_A,
  ORIGIN_B,
  OTHER_FIELD_KEY,
  RESPOND,
  TOKEN_A,
  TOKEN_B,
  adminRequest,
  bearer,
  twoResponders,
} from './helpers/modeb.js';
import { expectError, fetchKeyDoc, recordingLogger } from './helpers/responder.js';
import { toHex } from './helpers/vectors.js';

interface InitiateBody {
  cipher_text: string;
  seed_commitment: string;
  peer_machine_id: string;
  peer_fingerprint: string;
  local_machine_id: string;
  alg: string;
}
interface RespondBody {
  seed_commitment: string;
  local_machine_id: string;
  fingerprint: string;
  alg: string;
}

const initiateBody = (fingerprint: string, peerOrigin = ORIGIN_B): Record<string, string> => ({
  local_machine: 'edge-01',
  peer_origin: peerOrigin,
  peer_machine: 'core-01',
  expected_fingerprint: fingerprint,
});

/** Fingerprint of B's core-01 (generating its key). */
async function pinOfB(pair: ReturnType<typeof twoResponders>): Promise<string> {
  return (await fetchKeyDoc(pair.b.fetch, 'core-01')).fingerprint;
}

describe('initiate on A, respond on B', () => {
  test('equal commitments; both store the seed sealed, and the two seeds are equal', async () => {
    const pair = twoResponders();
    const pin = await pinOfB(pair);
    const texts: string[] = [];

    const r1 = await pair.a.fetch(
      adminRequest(ORIGIN_A, INITIATE, initiateBody(pin), bearer(TOKEN_A)),
    );
    const t1 = await r1.text();
    texts.push(t1);
    expect(r1.status, t1).toBe(200);
    expect(r1.headers.get('content-type')).toBe('application/json');
    expect(r1.headers.get('cache-control')).toBe('no-store');
    const init = JSON.parse(t1) as InitiateBody;
    expect(Object.keys(init).sort()).toEqual([
      'alg',
      'cipher_text',
      'local_machine_id',
      'peer_fingerprint',
      'peer_machine_id',
      'seed_commitment',
    ]);
    expect(init).toMatchObject({
      alg: ALG,
      local_machine_id: 'machine:edge-01',
      peer_machine_id: 'machine:core-01',
      peer_fingerprint: pin,
    });
    expect(base64Decode(init.cipher_text, 1088)).toHaveLength(1088);
    expect(init.seed_commitment).toMatch(/^[0-9a-f]{64}$/);
    // The peer fetch carried none of the admin request's credentials.
    expect(pair.peerRequests).toHaveLength(1);
    expect(pair.peerRequests[0]?.method).toBe('GET');
    expect(pair.peerRequests[0]?.url).toBe(`${ORIGIN_B}/api/keyex/core-01/pubkey`);
    expect(pair.peerRequests[0]?.headers.get('authorization')).toBeNull();

    const r2 = await pair.b.fetch(
      adminRequest(
        ORIGIN_B,
        RESPOND,
        {
          local_machine: 'core-01',
          peer_machine_id: init.local_machine_id,
          cipher_text: init.cipher_text,
        },
        bearer(TOKEN_B),
      ),
    );
    const t2 = await r2.text();
    texts.push(t2);
    expect(r2.status, t2).toBe(200);
    const resp = JSON.parse(t2) as RespondBody;
    expect(Object.keys(resp).sort()).toEqual([
      'alg',
      'fingerprint',
      'local_machine_id',
      'seed_commitment',
    ]);
    expect(resp).toMatchObject({ alg: ALG, local_machine_id: 'machine:core-01', fingerprint: pin });
    expect(resp.seed_commitment).toBe(init.seed_commitment);

    // Stored once on each side, sealed, under each responder's own field key.
    expect(pair.seedsA.puts).toHaveLength(1);
    expect(pair.seedsB.puts).toHaveLength(1);
    const storedA = (await pair.seedsA.get('machine:edge-01', 'machine:core-01')) as StoredSeed;
    const storedB = (await pair.seedsB.get('machine:core-01', 'machine:edge-01')) as StoredSeed;
    expect(Object.keys(storedA).sort()).toEqual([
      'alg',
      'createdAt',
      'fingerprint',
      'localMachineId',
      'localSlug',
      'peerMachineId',
      'role',
      'sealedSeed',
      'seedCommitment',
    ]);
    expect(storedA).toMatchObject({
      role: 'initiator',
      localSlug: 'edge-01',
      fingerprint: pin,
      seedCommitment: init.seed_commitment,
      alg: ALG,
    });
    expect(storedB).toMatchObject({
      role: 'responder',
      localSlug: 'core-01',
      fingerprint: pin,
      seedCommitment: init.seed_commitment,
      alg: ALG,
    });
    const seedA = unsealStoredSeed(FIELD_KEY, storedA);
    const seedB = unsealStoredSeed(OTHER_FIELD_KEY, storedB);
    expect(seedA).toHaveLength(32);
    expect(toHex(seedA)).toBe(toHex(seedB));
    expect(() => unsealStoredSeed(OTHER_FIELD_KEY, storedA)).toThrow(
      expect.objectContaining({ code: 'unseal_failed' }),
    );

    // The seed appears in no response, stored record or log line, in hex or base64.
    const haystack = [
      ...texts,
      JSON.stringify(storedA),
      JSON.stringify(storedB),
      pair.logA.text(),
      pair.logB.text(),
    ].join('\n');
    expect(haystack).not.toContain(toHex(seedA));
    expect(haystack).not.toContain(base64Encode(seedA).slice(0, 40));
  });

  test('seeding the pair again replaces the stored seed; respond is idempotent for one cipher text', async () => {
    const pair = twoResponders();
    const pin = await pinOfB(pair);
    const first = (await (
      await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, initiateBody(pin), bearer(TOKEN_A)))
    ).json()) as InitiateBody;
    const second = (await (
      await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, initiateBody(pin), bearer(TOKEN_A)))
    ).json()) as InitiateBody;
    expect(second.seed_commitment).not.toBe(first.seed_commitment);
    expect((await pair.seedsA.get('machine:edge-01', 'machine:core-01'))?.seedCommitment).toBe(
      second.seed_commitment,
    );
    const respond = (): Promise<Response> =>
      pair.b.fetch(
        adminRequest(
          ORIGIN_B,
          RESPOND,
          {
            local_machine: 'core-01',
            peer_machine_id: 'machine:edge-01',
            cipher_text: second.cipher_text,
          },
          bearer(TOKEN_B),
        ),
      );
    const x = (await (await respond()).json()) as RespondBody;
    const y = (await (await respond()).json()) as RespondBody;
    expect(x.seed_commitment).toBe(second.seed_commitment);
    expect(y.seed_commitment).toBe(second.seed_commitment);
  });

  test('a base path on the peer origin is kept', async () => {
    const pair = twoResponders({ extraB: { basePath: '/zeq' } });
    const pin = (await fetchKeyDoc(pair.b.fetch, 'core-01', '/zeq')).fingerprint;
    const r = await pair.a.fetch(
      adminRequest(ORIGIN_A, INITIATE, initiateBody(pin, `${ORIGIN_B}/zeq/`), bearer(TOKEN_A)),
    );
    expect(r.status).toBe(200);
    expect(pair.peerRequests[0]?.url).toBe(`${ORIGIN_B}/zeq/api/keyex/core-01/pubkey`);
  });

  test('a ciphertext for another machine of B gives another commitment (implicit rejection)', async () => {
    const pair = twoResponders();
    const pin = await pinOfB(pair);
    await fetchKeyDoc(pair.b.fetch, 'core-02');
    const init = (await (
      await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, initiateBody(pin), bearer(TOKEN_A)))
    ).json()) as InitiateBody;
    const r = await pair.b.fetch(
      adminRequest(
        ORIGIN_B,
        RESPOND,
        {
          local_machine: 'core-02',
          peer_machine_id: 'machine:edge-01',
          cipher_text: init.cipher_text,
        },
        bearer(TOKEN_B),
      ),
    );
    expect(r.status).toBe(200);
    expect(((await r.json()) as RespondBody).seed_commitment).not.toBe(init.seed_commitment);
  });
});

describe('a wrong pin', () => {
  test('409 fingerprint_mismatch with both fingerprints, and nothing stored', async () => {
    const pair = twoResponders();
    const pin = await pinOfB(pair);
    const wrong = 'ab'.repeat(32);
    const before = pair.seedsA.snapshot();
    const r = await pair.a.fetch(
      adminRequest(ORIGIN_A, INITIATE, initiateBody(wrong), bearer(TOKEN_A)),
    );
    const body = await expectError(r, 409, 'fingerprint_mismatch');
    expect(body).toMatchObject({ expected_fingerprint: wrong, actual_fingerprint: pin });
    expect(Object.keys(body).sort()).toEqual([
      'actual_fingerprint',
      'error',
      'expected_fingerprint',
      'message',
    ]);
    expect(pair.seedsA.puts).toHaveLength(0);
    expect(pair.seedsA.snapshot()).toBe(before);
    expect(pair.logA.lines.some((l) => l.fields?.['code'] === 'fingerprint_mismatch')).toBe(true);
  });
});

describe('admin checks', () => {
  const validRespond = {
    local_machine: 'core-01',
    peer_machine_id: 'machine:edge-01',
    cipher_text: base64Encode(new Uint8Array(1088)),
  };

  test('without a hook configured both endpoints refuse everyone with 403, whatever the request', async () => {
    const pair = twoResponders({ adminA: null });
    const pin = await pinOfB(pair);
    await expectError(
      await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, initiateBody(pin), bearer(TOKEN_A))),
      403,
      'forbidden',
    );
    await expectError(
      await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, initiateBody(pin))),
      403,
      'forbidden',
    );
    await expectError(
      await pair.a.fetch(adminRequest(ORIGIN_A, RESPOND, validRespond, bearer(TOKEN_A))),
      403,
      'forbidden',
    );
    expect(pair.peerRequests).toHaveLength(0);
    expect(pair.seedsA.puts).toHaveLength(0);
  });

  test('no credentials: 401 unauthorized (before the body is looked at); a non-admin: 403 forbidden', async () => {
    const pair = twoResponders();
    const pin = await pinOfB(pair);
    for (const path of [INITIATE, RESPOND]) {
      const body = path === INITIATE ? initiateBody(pin) : validRespond;
      await expectError(
        await pair.a.fetch(adminRequest(ORIGIN_A, path, body)),
        401,
        'unauthorized',
      );
      await expectError(
        await pair.a.fetch(adminRequest(ORIGIN_A, path, 'not json')),
        401,
        'unauthorized',
      );
      await expectError(
        await pair.a.fetch(
          adminRequest(ORIGIN_A, path, body, { authorization: `Basic ${btoa('admin:admin')}` }),
        ),
        401,
        'unauthorized',
      );
      await expectError(
        await pair.a.fetch(adminRequest(ORIGIN_A, path, body, bearer(TOKEN_B))),
        403,
        'forbidden',
      );
      await expectError(
        await pair.a.fetch(adminRequest(ORIGIN_A, path, body, bearer(`${TOKEN_A}x`))),
        403,
        'forbidden',
      );
      await expectError(
        await pair.a.fetch(adminRequest(ORIGIN_A, path, 'not json', bearer(TOKEN_B))),
        403,
        'forbidden',
      );
    }
    expect(pair.peerRequests).toHaveLength(0);
    expect(pair.seedsA.puts).toHaveLength(0);
  });

  test('a custom hook (a cookie); anything but "admin" refuses; a hook that throws is 500 with no detail', async () => {
    const decisions: unknown[] = [];
    const pair = twoResponders({
      adminA: {
        authorize(request) {
          const cookie = request.headers.get('cookie');
          if (cookie === null) return 'unauthenticated';
          if (cookie === 'session=boom') throw new Error('hook failed with a secret detail');
          const decision =
            cookie === 'session=admin'
              ? 'admin'
              : cookie === 'session=odd'
                ? ('yes' as 'admin')
                : 'forbidden';
          decisions.push(decision);
          return Promise.resolve(decision);
        },
      },
    });
    const pin = await pinOfB(pair);
    expect(
      (
        await pair.a.fetch(
          adminRequest(ORIGIN_A, INITIATE, initiateBody(pin), { cookie: 'session=admin' }),
        )
      ).status,
    ).toBe(200);
    await expectError(
      await pair.a.fetch(
        adminRequest(ORIGIN_A, INITIATE, initiateBody(pin), { cookie: 'session=user' }),
      ),
      403,
      'forbidden',
    );
    await expectError(
      await pair.a.fetch(
        adminRequest(ORIGIN_A, INITIATE, initiateBody(pin), { cookie: 'session=odd' }),
      ),
      403,
      'forbidden',
    );
    await expectError(
      await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, initiateBody(pin))),
      401,
      'unauthorized',
    );
    const boom = await pair.a.fetch(
      adminRequest(ORIGIN_A, INITIATE, initiateBody(pin), { cookie: 'session=boom' }),
    );
    const body = await expectError(boom, 500, 'internal');
    expect(JSON.stringify(body)).not.toContain('secret detail');
    expect(pair.logA.text()).not.toContain('secret detail');
    expect(pair.seedsA.puts).toHaveLength(1);
    expect(decisions).toEqual(['admin', 'forbidden', 'yes']);
  });

  test('createBearerTokenAuthorizer: several tokens, case-insensitive scheme, malformed tokens refused at creation', () => {
    const auth = createBearerTokenAuthorizer([TOKEN_A, TOKEN_B]);
    const req = (value?: string): Request =>
      new Request(ORIGIN_A, value === undefined ? {} : { headers: { authorization: value } });
    expect(auth.authorize(req(`Bearer ${TOKEN_A}`))).toBe('admin');
    expect(auth.authorize(req(`bearer ${TOKEN_B}`))).toBe('admin');
    expect(auth.authorize(req(`Bearer ${TOKEN_A.slice(0, -1)}`))).toBe('forbidden');
    expect(auth.authorize(req('Bearer'))).toBe('unauthenticated');
    expect(auth.authorize(req())).toBe('unauthenticated');
    expect(auth.authorize(req(`Token ${TOKEN_A}`))).toBe('unauthenticated');
    expect(() => createBearerTokenAuthorizer('short')).toThrow(TypeError);
    expect(() => createBearerTokenAuthorizer('has a space in it, sixteen+')).toThrow(TypeError);
    expect(() => createBearerTokenAuthorizer([])).toThrow(TypeError);
  });
});

describe('the peer fetch', () => {
  async function initiateWith(
    peerFetch: FetchFunction,
    extraA = {},
  ): Promise<{ response: Response; pair: ReturnType<typeof twoResponders> }> {
    const pair = twoResponders({ peerFetch, extraA });
    const response = await pair.a.fetch(
      adminRequest(ORIGIN_A, INITIATE, initiateBody('ab'.repeat(32)), bearer(TOKEN_A)),
    );
    return { response, pair };
  }

  const json = (body: unknown, init: ResponseInit = {}): Response =>
    new Response(JSON.stringify(body), {
      status: 200,
      headers: { 'content-type': 'application/json' },
      ...init,
    });

  /** B's real key document, to alter. */
  async function realDocument(): Promise<Record<string, string>> {
    const b = createResponder({
      fieldKey: OTHER_FIELD_KEY,
      machines: { 'core-01': 'machine:core-01' },
    });
    return { ...(await fetchKeyDoc(b.fetch, 'core-01')) };
  }

  test('an unreachable peer is 502 peer_unreachable, and nothing is stored', async () => {
    const { response, pair } = await initiateWith(() =>
      Promise.reject(new TypeError('fetch failed')),
    );
    await expectError(response, 502, 'peer_unreachable');
    expect(pair.seedsA.puts).toHaveLength(0);
    expect(
      pair.logA.lines.some(
        (l) => l.fields?.['code'] === 'peer_unreachable' && l.fields['reason'] === 'network_error',
      ),
    ).toBe(true);
  });

  test('a peer that does not answer in time is 502 peer_unreachable', async () => {
    const hang: FetchFunction = (request) =>
      new Promise((_, reject) =>
        request.signal.addEventListener('abort', () => reject(request.signal.reason), {
          once: true,
        }),
      );
    const started = performance.now();
    const { response, pair } = await initiateWith(hang, {
      modeB: { fetch: hang, peerTimeoutMs: 150 },
    });
    await expectError(response, 502, 'peer_unreachable');
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(pair.logA.lines.some((l) => l.fields?.['reason'] === 'timeout')).toBe(true);
  });

  test('a body that stalls after the headers is cut at the time limit', async () => {
    const stall: FetchFunction = () =>
      Promise.resolve(
        new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode('{"alg":'));
            },
          }),
          { status: 200 },
        ),
      );
    const { response } = await initiateWith(stall, { modeB: { fetch: stall, peerTimeoutMs: 150 } });
    await expectError(response, 502, 'peer_unreachable');
  });

  test.each([
    ['garbage (not JSON)', async () => new Response('<html>hello</html>', { status: 200 })],
    ['a JSON array', async () => json([1, 2, 3])],
    [
      'an error status',
      async () => json({ error: 'unknown_machine', message: 'x' }, { status: 404 }),
    ],
    [
      'a redirect',
      async () =>
        new Response(null, { status: 302, headers: { location: 'http://elsewhere.test/doc' } }),
    ],
    [
      'an oversized document (declared)',
      async () => json({ ...(await realDocument()), pad: 'x'.repeat(70 * 1024) }),
    ],
    [
      'an oversized document (streamed, no length)',
      async () => {
        const doc = JSON.stringify({ ...(await realDocument()), pad: 'x'.repeat(70 * 1024) });
        const bytes = new TextEncoder().encode(doc);
        return new Response(
          new ReadableStream({
            start(c) {
              for (let i = 0; i < bytes.length; i += 4096) c.enqueue(bytes.slice(i, i + 4096));
              c.close();
            },
          }),
          { status: 200 },
        );
      },
    ],
    [
      'a self-inconsistent fingerprint',
      async () => json({ ...(await realDocument()), fingerprint: 'ab'.repeat(32) }),
    ],
    ['an unsupported alg', async () => json({ ...(await realDocument()), alg: 'ML-KEM-1024' })],
    [
      'a key failing the modulus check',
      async () => {
        const bad = new Uint8Array(1184).fill(0xff);
        return json({
          ...(await realDocument()),
          public_key: base64Encode(bad),
          fingerprint: computeFingerprint(bad),
        });
      },
    ],
    [
      'a key of the wrong length',
      async () => {
        const short = new Uint8Array(1183);
        return json({
          ...(await realDocument()),
          public_key: base64Encode(short),
          fingerprint: computeFingerprint(short),
        });
      },
    ],
    [
      'a missing machine_id',
      async () => json({ ...(await realDocument()), machine_id: undefined }),
    ],
    [
      'non-canonical base64',
      async () =>
        json({
          ...(await realDocument()),
          public_key: `${(await realDocument())['public_key']}\n`,
        }),
    ],
  ] as const)(
    'a peer answering %s is 502 peer_invalid_response, and nothing is stored',
    async (_, answer) => {
      const { response, pair } = await initiateWith(() => answer());
      await expectError(response, 502, 'peer_invalid_response');
      expect(pair.seedsA.puts).toHaveLength(0);
      expect(pair.peerRequests).toHaveLength(1);
    },
  );

  test('plain http is refused (400, no fetch) unless the deployment allows the host', async () => {
    const refused = twoResponders();
    const pin = await pinOfB(refused);
    await expectError(
      await refused.a.fetch(
        adminRequest(ORIGIN_A, INITIATE, initiateBody(pin, 'http://core.test'), bearer(TOKEN_A)),
      ),
      400,
      'invalid_request',
    );
    expect(refused.peerRequests).toHaveLength(0);

    const allowed = twoResponders({
      extraA: {
        modeB: {
          allowHttpHosts: ['CORE.test', '::1'],
          allowPrivatePeerHosts: ['::1'],
          fetch: (r) => allowed.b.fetch(r),
        },
      },
    });
    const pinB = await pinOfB(allowed);
    expect(
      (
        await allowed.a.fetch(
          adminRequest(
            ORIGIN_A,
            INITIATE,
            initiateBody(pinB, 'http://core.test:8080'),
            bearer(TOKEN_A),
          ),
        )
      ).status,
    ).toBe(200);
    expect(
      (
        await allowed.a.fetch(
          adminRequest(ORIGIN_A, INITIATE, initiateBody(pinB, 'http://[::1]:9'), bearer(TOKEN_A)),
        )
      ).status,
    ).toBe(200);
    // Another host over http is still refused.
    await expectError(
      await allowed.a.fetch(
        adminRequest(
          ORIGIN_A,
          INITIATE,
          initiateBody(pinB, 'http://core.test.evil'),
          bearer(TOKEN_A),
        ),
      ),
      400,
      'invalid_request',
    );
  });

  test.each([
    'ftp://core.test',
    'core.test',
    'https://user:pw@core.test',
    'https://core.test/?x=1',
    'https://core.test/#f',
    '',
  ])('peer_origin %j is 400 invalid_request', async (origin) => {
    const pair = twoResponders();
    await expectError(
      await pair.a.fetch(
        adminRequest(ORIGIN_A, INITIATE, initiateBody('ab'.repeat(32), origin), bearer(TOKEN_A)),
      ),
      400,
      'invalid_request',
    );
    expect(pair.peerRequests).toHaveLength(0);
  });
});

describe("peer hosts in the responder's own network (revision 2)", () => {
  test.each([
    'https://127.0.0.1',
    'https://127.1.2.3:8443',
    'https://0x7f.0.0.1',
    'https://2130706433',
    'https://0.0.0.0',
    'https://10.0.0.1',
    'https://100.64.0.1',
    'https://169.254.169.254',
    'https://172.16.5.4',
    'https://172.31.255.255',
    'https://192.168.1.1',
    'https://[::1]',
    'https://[::]',
    'https://[0:0:0:0:0:0:0:1]',
    'https://[fe80::1]',
    'https://[fc00::1]',
    'https://[fd12:3456::1]',
    'https://[fec0::1]',
    'https://[::ffff:127.0.0.1]',
    'https://[::ffff:10.1.2.3]',
    'https://[::ffff:169.254.169.254]',
    'https://[::127.0.0.1]',
    'https://[64:ff9b::a9fe:a9fe]',
    'https://localhost',
    'https://LOCALHOST.',
    'https://api.localhost/zeq',
  ])('peer_origin %s is 400 invalid_request, and nothing is fetched', async (origin) => {
    const pair = twoResponders();
    const pin = await pinOfB(pair);
    await expectError(
      await pair.a.fetch(
        adminRequest(ORIGIN_A, INITIATE, initiateBody(pin, origin), bearer(TOKEN_A)),
      ),
      400,
      'invalid_request',
    );
    expect(pair.peerRequests).toHaveLength(0);
    expect(pair.seedsA.puts).toHaveLength(0);
  });

  test.each([
    'https://8.8.8.8',
    'https://172.32.0.1',
    'https://192.169.0.1',
    'https://100.128.0.1',
    'https://[2001:db8::1]',
    'https://[::ffff:8.8.8.8]',
    'https://localhost.example',
  ])('public peer_origin %s is fetched', async (origin) => {
    const pair = twoResponders();
    const pin = await pinOfB(pair);
    const r = await pair.a.fetch(
      adminRequest(ORIGIN_A, INITIATE, initiateBody(pin, origin), bearer(TOKEN_A)),
    );
    expect(r.status).toBe(200);
    expect(pair.peerRequests).toHaveLength(1);
  });

  test('a host the operator names in allowPrivatePeerHosts is fetched; others still are not', async () => {
    const pair = twoResponders({
      extraA: {
        modeB: {
          allowPrivatePeerHosts: ['127.0.0.1', '::1', 'LocalHost'],
          fetch: (r) => pair.b.fetch(r),
        },
      },
    });
    const pin = await pinOfB(pair);
    for (const origin of ['https://127.0.0.1:8443', 'https://[::1]', 'https://localhost']) {
      const r = await pair.a.fetch(
        adminRequest(ORIGIN_A, INITIATE, initiateBody(pin, origin), bearer(TOKEN_A)),
      );
      expect(r.status, origin).toBe(200);
    }
    for (const origin of ['https://127.0.0.2', 'http://127.0.0.1', 'https://10.0.0.1']) {
      await expectError(
        await pair.a.fetch(
          adminRequest(ORIGIN_A, INITIATE, initiateBody(pin, origin), bearer(TOKEN_A)),
        ),
        400,
        'invalid_request',
      );
    }
  });
});

describe("seed_conflict: a pinned peer that declares another peer's machine_id (revision 2)", () => {
  /**
   * A and B as usual, plus C at https://evil.test: a responder whose key the operator pinned
   * legitimately, but whose machine `evil` declares B's machine_id `machine:core-01`.
   */
  async function withImpostor(): Promise<{
    pair: ReturnType<typeof twoResponders>;
    pinB: string;
    pinC: string;
  }> {
    const c = createResponder({
      fieldKey: OTHER_FIELD_KEY,
      machines: { evil: 'machine:core-01' },
    });
    const pair = twoResponders({
      peerFetch: (request) =>
        new URL(request.url).hostname === 'evil.test' ? c.fetch(request) : pair.b.fetch(request),
    });
    const pinB = await pinOfB(pair);
    const pinC = (await fetchKeyDoc(c.fetch, 'evil')).fingerprint;
    return { pair, pinB, pinC };
  }
  const impostorBody = (
    pin: string,
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> => ({
    local_machine: 'edge-01',
    peer_origin: 'https://evil.test',
    peer_machine: 'evil',
    expected_fingerprint: pin,
    ...extra,
  });

  test('409 seed_conflict with both fingerprints; the stored seed of the real peer is untouched', async () => {
    const { pair, pinB, pinC } = await withImpostor();
    const first = await pair.a.fetch(
      adminRequest(ORIGIN_A, INITIATE, initiateBody(pinB), bearer(TOKEN_A)),
    );
    expect(first.status).toBe(200);
    const before = pair.seedsA.snapshot();
    const storedBefore = await pair.seedsA.get('machine:edge-01', 'machine:core-01');

    const r = await pair.a.fetch(
      adminRequest(ORIGIN_A, INITIATE, impostorBody(pinC), bearer(TOKEN_A)),
    );
    const body = await expectError(r, 409, 'seed_conflict');
    expect(body).toMatchObject({ stored_fingerprint: pinB, actual_fingerprint: pinC });
    expect(Object.keys(body).sort()).toEqual([
      'actual_fingerprint',
      'error',
      'message',
      'stored_fingerprint',
    ]);
    expect(pair.seedsA.puts).toHaveLength(1);
    expect(pair.seedsA.snapshot()).toBe(before);
    expect(await pair.seedsA.get('machine:edge-01', 'machine:core-01')).toEqual(storedBefore);
    expect(unsealStoredSeed(FIELD_KEY, storedBefore as StoredSeed)).toHaveLength(32);
    expect(pair.logA.lines.some((l) => l.fields?.['code'] === 'seed_conflict')).toBe(true);
  });

  test('two racing initiates for one pair under different peer keys: one stores, the other is seed_conflict', async () => {
    for (const order of ['real peer first', 'impostor first']) {
      const { pair, pinB, pinC } = await withImpostor();
      const real = adminRequest(ORIGIN_A, INITIATE, initiateBody(pinB), bearer(TOKEN_A));
      const impostor = adminRequest(ORIGIN_A, INITIATE, impostorBody(pinC), bearer(TOKEN_A));
      const requests = order === 'real peer first' ? [real, impostor] : [impostor, real];
      const responses = await Promise.all(requests.map((r) => pair.a.fetch(r)));
      expect(responses.map((r) => r.status).sort(), order).toEqual([200, 409]);
      const winner = responses.find((r) => r.status === 200) as Response;
      const loser = responses.find((r) => r.status === 409) as Response;
      const won = (await winner.json()) as InitiateBody;
      const lost = await expectError(loser, 409, 'seed_conflict');
      expect(lost['stored_fingerprint']).toBe(won.peer_fingerprint);
      expect(pair.seedsA.puts).toHaveLength(1);
      const stored = await pair.seedsA.get('machine:edge-01', 'machine:core-01');
      expect(stored?.fingerprint).toBe(won.peer_fingerprint);
      expect(stored?.seedCommitment).toBe(won.seed_commitment);
    }
  });

  test('"replace": true replaces it, recording the new peer fingerprint', async () => {
    const { pair, pinB, pinC } = await withImpostor();
    await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, initiateBody(pinB), bearer(TOKEN_A)));
    const r = await pair.a.fetch(
      adminRequest(ORIGIN_A, INITIATE, impostorBody(pinC, { replace: true }), bearer(TOKEN_A)),
    );
    expect(r.status).toBe(200);
    const stored = await pair.seedsA.get('machine:edge-01', 'machine:core-01');
    expect(stored?.fingerprint).toBe(pinC);
    expect(stored?.seedCommitment).toBe(((await r.json()) as InitiateBody).seed_commitment);
    // And now the real peer is the one that conflicts.
    await expectError(
      await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, initiateBody(pinB), bearer(TOKEN_A))),
      409,
      'seed_conflict',
    );
  });

  test.each([['yes'], [1], [null], [{}]])(
    '"replace": %j is 400 invalid_request',
    async (replace) => {
      const { pair, pinC } = await withImpostor();
      await expectError(
        await pair.a.fetch(
          adminRequest(ORIGIN_A, INITIATE, impostorBody(pinC, { replace }), bearer(TOKEN_A)),
        ),
        400,
        'invalid_request',
      );
      expect(pair.peerRequests).toHaveLength(0);
    },
  );

  test('a seed this machine stored by respond is not replaced by an initiate without "replace"', async () => {
    const pair = twoResponders();
    const pinB = await pinOfB(pair);
    const init = (await (
      await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, initiateBody(pinB), bearer(TOKEN_A)))
    ).json()) as InitiateBody;
    const respond = await pair.b.fetch(
      adminRequest(
        ORIGIN_B,
        RESPOND,
        {
          local_machine: 'core-01',
          peer_machine_id: 'machine:edge-01',
          cipher_text: init.cipher_text,
        },
        bearer(TOKEN_B),
      ),
    );
    expect(respond.status).toBe(200);
    const pinA = (await fetchKeyDoc(pair.a.fetch, 'edge-01')).fingerprint;
    const before = pair.seedsB.snapshot();
    const body = await expectError(
      await pair.b.fetch(
        adminRequest(
          ORIGIN_B,
          INITIATE,
          {
            local_machine: 'core-01',
            peer_origin: ORIGIN_A,
            peer_machine: 'edge-01',
            expected_fingerprint: pinA,
          },
          bearer(TOKEN_B),
        ),
      ),
      409,
      'seed_conflict',
    );
    expect(body['actual_fingerprint']).toBe(pinA);
    expect(pair.seedsB.snapshot()).toBe(before);
  });

  test("respond replaces a stored seed: the peer machine_id there is the admin's word", async () => {
    const pair = twoResponders();
    const pinB = await pinOfB(pair);
    const respondWith = async (cipherText: string): Promise<number> =>
      (
        await pair.b.fetch(
          adminRequest(
            ORIGIN_B,
            RESPOND,
            {
              local_machine: 'core-01',
              peer_machine_id: 'machine:edge-01',
              cipher_text: cipherText,
            },
            bearer(TOKEN_B),
          ),
        )
      ).status;
    for (let i = 0; i < 2; i++) {
      const init = (await (
        await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, initiateBody(pinB), bearer(TOKEN_A)))
      ).json()) as InitiateBody;
      expect(await respondWith(init.cipher_text)).toBe(200);
      expect((await pair.seedsB.get('machine:core-01', 'machine:edge-01'))?.seedCommitment).toBe(
        init.seed_commitment,
      );
    }
  });
});

describe('request validation', () => {
  const pin = 'ab'.repeat(32);
  const ct = base64Encode(new Uint8Array(1088));

  test.each([
    [
      'initiate: missing expected_fingerprint',
      INITIATE,
      { local_machine: 'edge-01', peer_origin: ORIGIN_B, peer_machine: 'core-01' },
      400,
      'invalid_request',
    ],
    [
      'initiate: upper-case expected_fingerprint',
      INITIATE,
      { ...initiateBody(pin), expected_fingerprint: pin.toUpperCase() },
      400,
      'invalid_request',
    ],
    [
      'initiate: short expected_fingerprint',
      INITIATE,
      { ...initiateBody(pin), expected_fingerprint: 'ab' },
      400,
      'invalid_request',
    ],
    [
      'initiate: numeric local_machine',
      INITIATE,
      { ...initiateBody(pin), local_machine: 7 },
      400,
      'invalid_request',
    ],
    [
      'initiate: null peer_origin',
      INITIATE,
      { ...initiateBody(pin), peer_origin: null },
      400,
      'invalid_request',
    ],
    [
      'initiate: bad local slug',
      INITIATE,
      { ...initiateBody(pin), local_machine: '../x' },
      400,
      'invalid_slug',
    ],
    [
      'initiate: bad peer slug',
      INITIATE,
      { ...initiateBody(pin), peer_machine: 'a/b' },
      400,
      'invalid_slug',
    ],
    [
      'initiate: unknown local machine',
      INITIATE,
      { ...initiateBody(pin), local_machine: 'nobody' },
      404,
      'unknown_machine',
    ],
    ['initiate: a JSON array', INITIATE, [], 400, 'invalid_request'],
    ['initiate: not JSON', INITIATE, '{', 400, 'invalid_request'],
    [
      'respond: missing cipher_text',
      RESPOND,
      { local_machine: 'edge-01', peer_machine_id: 'machine:core-01' },
      400,
      'invalid_request',
    ],
    [
      'respond: bad peer_machine_id',
      RESPOND,
      { local_machine: 'edge-01', peer_machine_id: 'a b', cipher_text: ct },
      400,
      'invalid_request',
    ],
    [
      'respond: bad local slug',
      RESPOND,
      { local_machine: '-x', peer_machine_id: 'm', cipher_text: ct },
      400,
      'invalid_slug',
    ],
    [
      'respond: short cipher_text',
      RESPOND,
      {
        local_machine: 'edge-01',
        peer_machine_id: 'm',
        cipher_text: base64Encode(new Uint8Array(1087)),
      },
      400,
      'invalid_cipher_text',
    ],
    [
      'respond: non-canonical cipher_text',
      RESPOND,
      { local_machine: 'edge-01', peer_machine_id: 'm', cipher_text: `${ct}\n` },
      400,
      'invalid_cipher_text',
    ],
    [
      'respond: unknown local machine',
      RESPOND,
      { local_machine: 'nobody', peer_machine_id: 'm', cipher_text: ct },
      404,
      'unknown_machine',
    ],
    [
      'respond: a machine without a key yet',
      RESPOND,
      { local_machine: 'edge-01', peer_machine_id: 'm', cipher_text: ct },
      409,
      'key_mismatch',
    ],
  ] as const)('%s → %i %s', async (_, path, body, status, code) => {
    const pair = twoResponders();
    await expectError(
      await pair.a.fetch(adminRequest(ORIGIN_A, path, body, bearer(TOKEN_A))),
      status,
      code,
    );
    expect(pair.peerRequests).toHaveLength(0);
    expect(pair.seedsA.puts).toHaveLength(0);
  });

  test('content-type, body size and method are checked as for a handshake', async () => {
    const pair = twoResponders();
    for (const path of [INITIATE, RESPOND]) {
      const wrongType = new Request(ORIGIN_A + path, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', ...bearer(TOKEN_A) },
        body: '{}',
      });
      await expectError(await pair.a.fetch(wrongType), 415, 'unsupported_media_type');
      await expectError(
        await pair.a.fetch(
          adminRequest(ORIGIN_A, path, { pad: 'x'.repeat(9000) }, bearer(TOKEN_A)),
        ),
        413,
        'payload_too_large',
      );
      const get = await pair.a.fetch(new Request(ORIGIN_A + path, { headers: bearer(TOKEN_A) }));
      await expectError(get, 405, 'method_not_allowed');
      expect(get.headers.get('allow')).toBe('POST, OPTIONS');
    }
  });
});

describe('operation', () => {
  test('a failing seed store is 503 unavailable (logged as store_error), and the response carries no detail', async () => {
    const logger = recordingLogger();
    const pair = twoResponders({
      extraA: {
        logger,
        seedStore: {
          get: () => Promise.resolve(undefined),
          put: () => Promise.reject(new Error('disk full at /secret/path')),
        },
      },
    });
    const pin = await pinOfB(pair);
    const body = await expectError(
      await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, initiateBody(pin), bearer(TOKEN_A))),
      503,
      'unavailable',
    );
    expect(JSON.stringify(body)).not.toContain('secret');
    expect(logger.lines.some((l) => l.fields?.['code'] === 'store_error')).toBe(true);
    expect(logger.text()).not.toContain('/secret/path');
  });

  test('after close(), both endpoints answer 500 and store nothing', async () => {
    const pair = twoResponders();
    const pin = await pinOfB(pair);
    pair.a.close();
    await expectError(
      await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, initiateBody(pin), bearer(TOKEN_A))),
      500,
      'internal',
    );
    expect(pair.seedsA.puts).toHaveLength(0);
  });

  test('options are checked when the responder is created', () => {
    const base = { fieldKey: FIELD_KEY, machines: { 'edge-01': 'machine:edge-01' } };
    expect(() => createResponder({ ...base, admin: {} as never })).toThrow(TypeError);
    expect(() => createResponder({ ...base, seedStore: {} as never })).toThrow(TypeError);
    expect(() => createResponder({ ...base, modeB: { allowHttpHosts: ['host:80'] } })).toThrow(
      TypeError,
    );
    expect(() => createResponder({ ...base, modeB: { allowHttpHosts: ['a/b'] } })).toThrow(
      TypeError,
    );
    expect(() =>
      createResponder({ ...base, modeB: { allowHttpHosts: 'localhost' as never } }),
    ).toThrow(TypeError);
    expect(() =>
      createResponder({ ...base, modeB: { allowPrivatePeerHosts: ['[::1]:80'] } }),
    ).toThrow(TypeError);
    expect(() =>
      createResponder({ ...base, modeB: { allowPrivatePeerHosts: '127.0.0.1' as never } }),
    ).toThrow(TypeError);
    expect(() => createResponder({ ...base, modeB: { peerTimeoutMs: 0 } })).toThrow(RangeError);
    expect(() => createResponder({ ...base, modeB: { fetch: 'x' as never } })).toThrow(TypeError);
  });
});
