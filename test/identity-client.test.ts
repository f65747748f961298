/**
 * Identity pins end to end (spec §8.2), over fetch injection: a real responder whose key document
 * a stub signs with `signAttestation` (as a responder holding the identity key does), the client's
 * checks and their codes with nothing posted before they pass, rollback and expiry with a fake
 * clock, and one round trip: a counting fetch sees one request on the cached path, and a rotation
 * behind the origin (`409 key_mismatch`) fetches the document again once.
 */
import { describe, expect, test } from 'vitest';
import { identityKeygen, identityOf } from '../src/core/attestation.js';
import { parseKeyDocument } from '../src/core/document.js';
import { createClient, type ClientOptions } from '../src/initiator/client.js';
import {
  createLocalStorageTrustStore,
  createMemoryTrustStore,
  createTrustPolicy,
  serialKey,
} from '../src/initiator/trust.js';
import {
  type FetchHandler,
  MACHINE_ID,
  MemoryStorage,
  NOW,
  OTHER_SLUG,
  SLUG,
  editDocument,
  makeFixture,
  spy,
  switchable,
} from './helpers/client-kit.js';
import { expectCodeAsync } from './helpers/errors.js';
import { NOW_S, TEST_IDENTITY_PIN, WEEK_S, type Signing, signing } from './helpers/identity.js';
import { hex, protocolCases } from './helpers/vector-data.js';

const ORIGIN = 'https://edge.test';
const STRANGER = identityKeygen(new Uint8Array(32).fill(2));
const IDENTITY_PIN = TEST_IDENTITY_PIN;
const pinOf = identityOf;

function client(handler: FetchHandler, options: Partial<ClientOptions> = {}) {
  return createClient({
    origin: ORIGIN,
    fetch: handler,
    retry: 0,
    identityPins: { [SLUG]: IDENTITY_PIN },
    wallClock: () => NOW,
    ...options,
  });
}

describe('identity-pinned handshake', () => {
  test('is authenticated by the identity, and the next one takes one round trip', async () => {
    const f = await makeFixture();
    const counted = spy(signing(f.handler));
    const c = client(counted.handler);
    const first = await c.handshake(SLUG);
    expect(first).toMatchObject({
      trust: 'identity',
      authenticated: true,
      identity: IDENTITY_PIN,
      serial: NOW_S - 3600,
      documentCached: false,
      machineId: MACHINE_ID,
    });
    expect(counted.requests.map((r) => r.method)).toEqual(['GET', 'POST']);
    const second = await c.handshake(SLUG);
    expect(second).toMatchObject({ trust: 'identity', documentCached: true, serial: NOW_S - 3600 });
    expect(counted.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'POST']);
    expect(await f.sessions.get(second.sessionId)).toBeDefined();
  });

  test('a fleet identity covers every slug of the origin; a slug pin overrides it', async () => {
    const f = await makeFixture();
    const c = client(signing(f.handler), {
      identityPins: { [SLUG]: pinOf(STRANGER.publicKey) },
      fleetIdentityPins: [IDENTITY_PIN],
    });
    expect((await c.handshake(OTHER_SLUG)).trust).toBe('identity');
    await expectCodeAsync(c.handshake(SLUG), 'identity_mismatch');
  });

  test('a rotation behind the origin: 409 key_mismatch fetches the document again, once', async () => {
    const before = await makeFixture();
    const after = await makeFixture();
    const target = switchable(before.handler);
    let serial = NOW_S - 3600;
    const counted = spy(signing(target.handler, () => ({ serial })));
    const c = client(counted.handler);
    await c.handshake(SLUG);
    target.set(after.handler); // the new key, served at once
    serial += 60;
    const session = await c.handshake(SLUG);
    expect(session).toMatchObject({ documentCached: false, fingerprint: after.doc.fingerprint });
    expect(counted.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'POST', 'GET', 'POST']);
    // The refetched document is kept in turn.
    expect((await c.handshake(SLUG)).documentCached).toBe(true);
  });

  test('cacheKeyDocuments: false fetches the document for every handshake', async () => {
    const f = await makeFixture();
    const counted = spy(signing(f.handler));
    const c = client(counted.handler, { cacheKeyDocuments: false });
    await c.handshake(SLUG);
    expect((await c.handshake(SLUG)).documentCached).toBe(false);
    expect(counted.count('GET')).toBe(2);
    expect(() => client(counted.handler, { cacheKeyDocuments: 'yes' as never })).toThrow(TypeError);
  });

  test('a kept document is used until not_after, then fetched (and judged) again', async () => {
    const f = await makeFixture();
    const counted = spy(signing(f.handler));
    let now = NOW;
    const c = client(counted.handler, { wallClock: () => now });
    await c.handshake(SLUG);
    now = (NOW_S - 3600 + WEEK_S) * 1000; // exactly not_after: still kept
    expect((await c.handshake(SLUG)).documentCached).toBe(true);
    now += 61_000; // past not_after + skew: fetched again, and refused
    await expectCodeAsync(c.handshake(SLUG), 'attestation_expired');
    expect(counted.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'POST', 'GET']);
  });
});

describe('each check of §8.2 refuses before anything is posted', () => {
  const cases: [string, Signing | null, Partial<ClientOptions>, string][] = [
    ['no attestation', null, {}, 'attestation_required'],
    ['another identity', { key: STRANGER }, {}, 'identity_mismatch'],
    ['signed for another slug', { slug: OTHER_SLUG }, {}, 'attestation_invalid'],
    ['validity over 30 days', null, {}, 'attestation_invalid'],
    ['not yet valid', { notBefore: NOW_S + 61 }, {}, 'attestation_expired'],
    ['expired', { notBefore: NOW_S - WEEK_S - 61 }, {}, 'attestation_expired'],
  ];
  test.each(cases)('%s', async (why, sign, options, code) => {
    const f = await makeFixture();
    const inner =
      why === 'validity over 30 days'
        ? editDocument(signing(f.handler), (doc) => ({
            ...doc,
            attestation: { ...(doc['attestation'] as object), not_after: NOW_S + 40 * 86_400 },
          }))
        : sign === null
          ? f.handler
          : signing(f.handler, sign);
    const counted = spy(inner);
    await expectCodeAsync(client(counted.handler, options).handshake(SLUG), code as never);
    expect(counted.count('POST')).toBe(0);
  });

  test('the clock skew: 60 s by default, up to 300 s, validated', async () => {
    const f = await makeFixture();
    const notAfter = NOW_S - 3600 + WEEK_S;
    const at = (seconds: number, options: Partial<ClientOptions> = {}) =>
      client(signing(f.handler), { wallClock: () => seconds * 1000, ...options }).handshake(SLUG);
    expect((await at(notAfter + 60)).trust).toBe('identity');
    await expectCodeAsync(at(notAfter + 61), 'attestation_expired');
    expect((await at(notAfter + 300, { clockSkewMs: 300_000 })).trust).toBe('identity');
    expect(() => client(f.handler, { clockSkewMs: 300_001 })).toThrow(RangeError);
    expect(() => client(f.handler, { clockSkewMs: -1 })).toThrow(RangeError);
    expect(() => client(f.handler, { clockSkewMs: Number.NaN })).toThrow(RangeError);
  });
});

describe('anti-rollback (spec §8.2 check 7)', () => {
  test('a lower serial than one accepted is refused, for the same origin, slug and identity', async () => {
    const f = await makeFixture();
    let serial = NOW_S;
    const handler = signing(f.handler, () => ({ serial }));
    const serialStore = createMemoryTrustStore();
    const options = { serialStore, cacheKeyDocuments: false };
    await client(handler, options).handshake(SLUG);
    serial -= 1;
    const counted = spy(handler);
    await expectCodeAsync(client(counted.handler, options).handshake(SLUG), 'attestation_rollback');
    expect(counted.count('POST')).toBe(0);
    // The same serial again, and a higher one, are accepted; another origin has its own state.
    serial += 1;
    expect((await client(handler, options).handshake(SLUG)).serial).toBe(NOW_S);
    serial -= 5;
    expect(
      (await client(handler, { ...options, origin: 'https://other.test' }).handshake(SLUG)).serial,
    ).toBe(NOW_S - 5);
  });

  test('a client keeps serials in memory by default', async () => {
    const f = await makeFixture();
    let serial = NOW_S;
    const c = client(
      signing(f.handler, () => ({ serial })),
      { cacheKeyDocuments: false },
    );
    await c.handshake(SLUG);
    serial -= 1;
    await expectCodeAsync(c.handshake(SLUG), 'attestation_rollback');
  });

  test('localStorage keeps the highest serial beside the fingerprints', async () => {
    const storage = new MemoryStorage();
    const store = createLocalStorageTrustStore({ storage });
    const key = serialKey(ORIGIN, SLUG, IDENTITY_PIN);
    expect(await store.raiseSerial?.(key, 10)).toBe(10);
    expect(await store.raiseSerial?.(key, 9)).toBe(10);
    expect(await store.raiseSerial?.(key, 11)).toBe(11);
    expect(await store.get(`${ORIGIN} ${SLUG}`)).toBeUndefined();
    storage.setItem(`zeq-keyex:tofu:serial:${key}`, '1e3');
    await expectCodeAsync(store.raiseSerial?.(key, 1) as Promise<number>, 'store_error');
  });

  test('a store without raiseSerial cannot keep serials', () => {
    const store = { get: async () => undefined, putIfAbsent: async (_: string, fp: string) => fp };
    expect(() => createTrustPolicy({ serialStore: store })).toThrow(TypeError);
  });
});

describe('invalid.signed_documents through the trust policy', () => {
  test.each(protocolCases.badSignedDocuments.map((c) => [c.why, c] as const))(
    '%s',
    async (_, c) => {
      const serialStore = createMemoryTrustStore();
      const identity = c.identity_pins[0] as string;
      if (c.highest_serial !== undefined)
        await serialStore.raiseSerial?.(serialKey(ORIGIN, c.slug, identity), c.highest_serial);
      const policy = createTrustPolicy({
        identityPins: { [c.slug]: c.identity_pins },
        serialStore,
        wallClock: () => c.now * 1000,
      });
      await expectCodeAsync(policy.check(ORIGIN, c.slug, parseKeyDocument(c.document)), c.expect);
    },
  );

  test.each(protocolCases.signedDocuments.map((c) => [c.slug, c] as const))(
    'signed_documents %s is accepted, and its serial remembered',
    async (_, c) => {
      const serialStore = createMemoryTrustStore();
      const policy = createTrustPolicy({
        identityPins: { [c.slug]: c.identity },
        serialStore,
        wallClock: () => c.now * 1000,
      });
      const decision = await policy.check(ORIGIN, c.slug, parseKeyDocument(c.document));
      expect(decision).toMatchObject({ mode: 'identity', identity: c.identity });
      expect(hex(c.identity)).toHaveLength(32);
      const key = serialKey(ORIGIN, c.slug, c.identity);
      expect(await serialStore.raiseSerial?.(key, 0)).toBe(decision.serial);
    },
  );
});
