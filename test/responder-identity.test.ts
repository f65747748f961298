/**
 * The responder's identity (spec §8.1, §8.3) through its fetch handler: signed key documents that
 * the initiator's checks accept, signing once per period and slug (also for concurrent first
 * requests), serials that never decrease across restarts, an identity that does not open, and KEM
 * key rotation with its grace period (responder API and admin endpoint).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { identityTrust } from '../src/identity.js';
import {
  type AttestationFields,
  checkAttestation,
  signAttestation,
} from '../src/core/attestation.js';
import { ALG } from '../src/core/constants.js';
import { base64Decode } from '../src/core/encoding.js';
import { createClient } from '../src/initiator/client.js';
import { createFileKeyStore } from '../src/node/file-key-store.js';
import { createBearerTokenAuthorizer, createIdentity, createResponder } from '../src/responder.js';
import { createIdentitySigner } from '../src/responder/identity.js';
import type { IdentityStore } from '../src/responder/identity-store.js';
import type { MachineKey } from '../src/responder/key-manager.js';
import { createMemoryKeyStore } from '../src/responder/stores.js';
import { expectCodeAsync } from './helpers/errors.js';
import {
  FIELD_KEY,
  OTHER_FIELD_KEY,
  clientHandshake,
  expectError,
  fetchKeyDoc,
  getRequest,
  jsonRequest,
  recordingLogger,
} from './helpers/responder.js';
import { kemEncapsulate } from '../src/core/kem.js';

const MACHINES = { 'edge-01': 'machine:edge-01', 'edge-02': 'machine:edge-02' };
const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);
const DAY_S = 86_400;
const TOKEN = 'rotation-admin-token-0123456789';

interface SignedDoc {
  alg: string;
  public_key: string;
  fingerprint: string;
  machine_id: string;
  attestation?: { serial: number; not_before: number; not_after: number; identity_key: string };
}

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'zeq-resp-identity-'));
  dirs.push(dir);
  return join(dir, 'store');
}

/** A clock tests move by hand. */
function clock(start = T0): { now: () => number; at: number; advance(ms: number): void } {
  const c = {
    at: start,
    now: () => c.at,
    advance(ms: number) {
      c.at += ms;
    },
  };
  return c;
}

/** An identity store counting `raiseSerial`, which is called once per signing. */
function countingStore<S extends IdentityStore>(store: S): S & { raises: number } {
  const counted = Object.assign(Object.create(store) as S, { raises: 0 });
  counted.raiseSerial = (slug, identity, serial) => {
    counted.raises++;
    return store.raiseSerial(slug, identity, serial);
  };
  return counted;
}

async function signedDoc(fetch: (r: Request) => Promise<Response>, slug: string) {
  return (await fetchKeyDoc(fetch, slug)) as SignedDoc;
}

describe('signed key documents (§8.1)', () => {
  test('every document carries an attestation the initiator checks accept, valid 7 days', async () => {
    const store = createMemoryKeyStore();
    const { identity, created } = await createIdentity({ store, fieldKey: FIELD_KEY });
    expect(created).toBe(true);
    const c = clock();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: store,
      identity: { store },
      now: c.now,
    });
    expect(await responder.identity()).toBe(identity);
    const doc = await signedDoc(responder.fetch, 'edge-01');
    const attestation = doc.attestation;
    expect(attestation?.serial).toBe(T0 / 1000);
    expect(attestation?.not_before).toBe(T0 / 1000);
    expect(attestation?.not_after).toBe(T0 / 1000 + 7 * DAY_S);
    const checked = await checkAttestation(attestation, {
      document: {
        alg: ALG,
        slug: 'edge-01',
        machineId: doc.machine_id,
        publicKey: base64Decode(doc.public_key, 1184),
      },
      identityPins: [identity],
      nowSeconds: T0 / 1000,
      skewSeconds: 60,
    });
    expect(checked.identity).toBe(identity);
    expect(await responder.keyDocument('edge-01')).toEqual(doc);
    // Signed for its own slug only.
    await expectCodeAsync(
      checkAttestation(attestation, {
        document: {
          alg: ALG,
          slug: 'edge-02',
          machineId: doc.machine_id,
          publicKey: base64Decode(doc.public_key, 1184),
        },
        identityPins: [identity],
        nowSeconds: T0 / 1000,
        skewSeconds: 60,
      }),
      'attestation_invalid',
    );
    responder.close();
  });

  test('signed once per period and slug, concurrent first requests included; re-signed past half', async () => {
    const store = countingStore(createMemoryKeyStore());
    await createIdentity({ store, fieldKey: FIELD_KEY });
    const c = clock();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: store,
      identity: { store, validitySeconds: 1000 },
      now: c.now,
    });
    const docs = await Promise.all(
      Array.from({ length: 20 }, () => signedDoc(responder.fetch, 'edge-01')),
    );
    expect(new Set(docs.map((d) => JSON.stringify(d))).size).toBe(1);
    expect(store.raises).toBe(1);
    c.advance(499_000); // more than half the validity remains
    expect(await signedDoc(responder.fetch, 'edge-01')).toEqual(docs[0]);
    expect(store.raises).toBe(1);
    await signedDoc(responder.fetch, 'edge-02');
    expect(store.raises).toBe(2);
    c.advance(1_000); // half remains: signed again, with a higher serial
    const again = await signedDoc(responder.fetch, 'edge-01');
    expect(store.raises).toBe(3);
    expect(again.attestation?.serial).toBe(T0 / 1000 + 500);
    expect(again.attestation?.not_after).toBe(T0 / 1000 + 1500);
    responder.close();
  });

  test('a counting signer: one signature per period, none per request', async () => {
    const store = createMemoryKeyStore();
    await createIdentity({ store, fieldKey: FIELD_KEY });
    const keyResponder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: store,
    });
    await keyResponder.keyDocument('edge-01');
    keyResponder.close();
    let signatures = 0;
    const c = clock();
    const { deriveSealKey, parseFieldKey } = await import('../src/core/sealing.js');
    const signer = createIdentitySigner({
      store,
      validitySeconds: 3600,
      sealKey: deriveSealKey(parseFieldKey(FIELD_KEY)),
      logger: recordingLogger(),
      now: c.now,
      sign: (secretKey: Uint8Array, publicKey: Uint8Array, fields: AttestationFields) => {
        signatures++;
        return signAttestation(secretKey, publicKey, fields);
      },
    });
    const stored = await store.get('edge-01');
    const publicKey = base64Decode(stored?.publicKey, 1184);
    const { computeFingerprint } = await import('../src/core/fingerprint.js');
    const fingerprint = computeFingerprint(publicKey);
    const key = {
      alg: ALG,
      slug: 'edge-01',
      machineId: 'machine:edge-01',
      publicKey,
      publicKeyBase64: stored?.publicKey,
      fingerprint,
      documentJson: JSON.stringify({
        alg: ALG,
        public_key: stored?.publicKey,
        fingerprint,
        machine_id: 'machine:edge-01',
      }),
    } as unknown as MachineKey;
    await Promise.all(Array.from({ length: 50 }, () => signer.document(key)));
    for (let i = 0; i < 100; i++) await signer.document(key);
    expect(signatures).toBe(1);
    c.advance(1_800_000);
    await signer.document(key);
    expect(signatures).toBe(2);
    signer.close();
  });

  test('the serial never decreases across restarts, even with a clock that went back', async () => {
    const dir = await tempDir();
    await createIdentity({ store: createFileKeyStore(dir), fieldKey: FIELD_KEY });
    const serve = (at: number) => {
      const store = createFileKeyStore(dir);
      return createResponder({
        fieldKey: FIELD_KEY,
        machines: MACHINES,
        keyStore: store,
        identity: { store },
        now: () => at,
      });
    };
    const first = serve(T0);
    const a = await signedDoc(first.fetch, 'edge-01');
    first.close();
    const second = serve(T0 - 3_600_000);
    const b = await signedDoc(second.fetch, 'edge-01');
    second.close();
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(b.attestation?.serial).toBe(a.attestation?.serial);
    expect(b.attestation?.not_before).toBe((T0 - 3_600_000) / 1000);
    const third = serve(T0 + 60_000);
    const d = await signedDoc(third.fetch, 'edge-01');
    third.close();
    expect(d.attestation?.serial).toBe(T0 / 1000 + 60);
  });
});

describe('an identity that is missing or does not open', () => {
  test('wrong field key: documents refused (500), identity_unavailable, never regenerated', async () => {
    const store = createMemoryKeyStore();
    const { identity } = await createIdentity({ store, fieldKey: FIELD_KEY });
    const before = await store.getIdentity();
    const logger = recordingLogger();
    const responder = createResponder({
      fieldKey: OTHER_FIELD_KEY,
      machines: MACHINES,
      keyStore: store,
      identity: { store },
      logger,
    });
    for (let i = 0; i < 2; i++)
      await expectError(
        await responder.fetch(getRequest('/api/keyex/edge-01/pubkey')),
        500,
        'internal',
      );
    await expectCodeAsync(responder.identity(), 'identity_unavailable');
    await expectCodeAsync(responder.keyDocument('edge-01'), 'identity_unavailable');
    expect(await store.getIdentity()).toEqual(before);
    expect(JSON.stringify(logger.lines)).toContain('identity_unavailable');
    responder.close();
    await expectCodeAsync(
      createIdentity({ store, fieldKey: OTHER_FIELD_KEY }),
      'identity_unavailable',
    );
    expect((await createIdentity({ store, fieldKey: FIELD_KEY })).identity).toBe(identity);
  });

  test('configured but missing: refused, and createIdentity({ create: false }) says so', async () => {
    const store = createMemoryKeyStore();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: store,
      identity: { store },
    });
    await expectError(
      await responder.fetch(getRequest('/api/keyex/edge-01/pubkey')),
      500,
      'internal',
    );
    expect(await store.getIdentity()).toBeUndefined();
    await expectCodeAsync(
      createIdentity({ store, fieldKey: FIELD_KEY, create: false }),
      'identity_unavailable',
    );
    responder.close();
  });

  test('options are checked when the responder is made', () => {
    const store = createMemoryKeyStore();
    const make = (identity: unknown) => () =>
      createResponder({
        fieldKey: FIELD_KEY,
        machines: MACHINES,
        identity: identity as { store: IdentityStore },
      });
    expect(make({ store: {} })).toThrow(TypeError);
    expect(make({ store, validitySeconds: 31 * DAY_S })).toThrow(RangeError);
    expect(make({ store, validitySeconds: 1.5 })).toThrow(RangeError);
    expect(() =>
      createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, rotationGraceSeconds: -1 }),
    ).toThrow(RangeError);
  });
});

/** A handshake encapsulated to a document fetched earlier (an initiator in flight). */
async function handshakeTo(
  fetch: (r: Request) => Promise<Response>,
  slug: string,
  doc: SignedDoc,
): Promise<Response> {
  const { cipherText } = kemEncapsulate(base64Decode(doc.public_key, 1184));
  return fetch(
    jsonRequest(`/api/keyex/${slug}/handshake`, {
      cipher_text: Buffer.from(cipherText).toString('base64'),
      fingerprint: doc.fingerprint,
    }),
  );
}

describe('KEM key rotation (§8.3)', () => {
  test('the new key is served at once; the old one answers within its grace, then is deleted', async () => {
    const store = createMemoryKeyStore();
    const c = clock();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: store,
      now: c.now,
    });
    const old = (await clientHandshake(responder.fetch, 'edge-01')).doc as SignedDoc;
    const rotated = await responder.rotateKey('edge-01', { graceSeconds: 600 });
    expect(rotated.previousFingerprint).toBe(old.fingerprint);
    expect(rotated.retiredUntil).toBe(T0 + 600_000);
    const fresh = await signedDoc(responder.fetch, 'edge-01');
    expect(fresh.fingerprint).toBe(rotated.fingerprint);
    expect(fresh.fingerprint).not.toBe(old.fingerprint);
    expect((await store.getRetired('edge-01'))?.key.publicKey).toBe(old.public_key);
    // A fresh handshake, and one in flight on the old key within the grace period.
    await clientHandshake(responder.fetch, 'edge-01');
    expect((await handshakeTo(responder.fetch, 'edge-01', old)).status).toBe(200);
    c.advance(600_000);
    await expectError(await handshakeTo(responder.fetch, 'edge-01', old), 409, 'key_mismatch');
    await Promise.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(await store.getRetired('edge-01')).toBeUndefined();
    expect((await store.get('edge-01'))?.publicKey).toBe(fresh.public_key);
    responder.close();
  });

  test('a grace of 0 deletes the old secret at once; a machine without a key has none to rotate', async () => {
    const store = createMemoryKeyStore();
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, keyStore: store });
    await expectCodeAsync(responder.rotateKey('edge-01'), 'machine_unavailable');
    const old = await signedDoc(responder.fetch, 'edge-01');
    await responder.rotateKey('edge-01', { graceSeconds: 0 });
    await expectError(await handshakeTo(responder.fetch, 'edge-01', old), 409, 'key_mismatch');
    await expect(responder.rotateKey('edge-01', { graceSeconds: -1 })).rejects.toThrow(RangeError);
    responder.close();
  });

  test('a restarted responder answers the retired key from the store until its grace ends', async () => {
    const dir = await tempDir();
    const c = clock();
    const make = () =>
      createResponder({
        fieldKey: FIELD_KEY,
        machines: MACHINES,
        keyStore: createFileKeyStore(dir),
        now: c.now,
      });
    const first = make();
    const old = await signedDoc(first.fetch, 'edge-01');
    await first.rotateKey('edge-01', { graceSeconds: 60 });
    first.close();
    const second = make();
    expect((await signedDoc(second.fetch, 'edge-01')).fingerprint).not.toBe(old.fingerprint);
    expect((await handshakeTo(second.fetch, 'edge-01', old)).status).toBe(200);
    c.advance(60_000);
    await expectError(await handshakeTo(second.fetch, 'edge-01', old), 409, 'key_mismatch');
    second.close();
  });

  test('identity pins survive a rotation; KEM pins fail with fingerprint_mismatch', async () => {
    const store = createMemoryKeyStore();
    const { identity } = await createIdentity({ store, fieldKey: FIELD_KEY });
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: store,
      identity: { store },
    });
    const fetch = (input: RequestInfo | URL, init?: RequestInit) =>
      responder.fetch(new Request(input, init));
    const pinned = createClient({
      origin: 'https://responder.test',
      fetch,
      retry: 0,
      pins: { 'edge-01': (await signedDoc(responder.fetch, 'edge-01')).fingerprint },
    });
    const byIdentity = createClient({
      origin: 'https://responder.test',
      fetch,
      retry: 0,
      identity: identityTrust({ pins: { 'edge-01': identity } }),
    });
    const first = await byIdentity.handshake('edge-01');
    expect(first.trust).toBe('identity');
    await pinned.handshake('edge-01');
    const rotated = await responder.rotateKey('edge-01');
    // Within the grace period, a KEM-pinned client holding the old document still gets through on
    // the old key; one without it fetches the new document and fails its pin at once.
    const cachedOld = await pinned.handshake('edge-01');
    expect(cachedOld.documentCached).toBe(true);
    const fresh = createClient({
      origin: 'https://responder.test',
      fetch,
      retry: 0,
      pins: { 'edge-01': cachedOld.fingerprint },
    });
    await expectCodeAsync(fresh.handshake('edge-01'), 'fingerprint_mismatch');
    // The identity-pinned client too (its kept document names the old key, within its grace).
    const after = await byIdentity.handshake('edge-01');
    expect(after.identity).toBe(identity);
    expect(after.serial).toBeGreaterThanOrEqual(first.serial as number);
    const freshByIdentity = createClient({
      origin: 'https://responder.test',
      fetch,
      retry: 0,
      identity: identityTrust({ pins: { 'edge-01': identity } }),
    });
    expect((await freshByIdentity.handshake('edge-01')).fingerprint).toBe(rotated.fingerprint);
    // After the grace period (a rotation with none): key_mismatch, the document again, the pin fails.
    await responder.rotateKey('edge-01', { graceSeconds: 0 });
    await expectCodeAsync(pinned.handshake('edge-01'), 'fingerprint_mismatch');
    const current = await signedDoc(responder.fetch, 'edge-01');
    const last = await byIdentity.handshake('edge-01');
    expect(last.trust).toBe('identity');
    expect(last.fingerprint).toBe(current.fingerprint);
    responder.close();
  });

  test('an X-Wing machine beside an ML-KEM-768 one: signed, identity-pinned, rotated in its own alg', async () => {
    const store = createMemoryKeyStore();
    const { identity } = await createIdentity({ store, fieldKey: FIELD_KEY });
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: store,
      identity: { store },
      alg: { 'edge-02': 'X-Wing' },
    });
    const fetch = (input: RequestInfo | URL, init?: RequestInit) =>
      responder.fetch(new Request(input, init));
    const client = createClient({
      origin: 'https://responder.test',
      fetch,
      retry: 0,
      algs: ['ML-KEM-768', 'X-Wing'],
      identity: identityTrust({ fleet: [identity] }),
    });
    const hybrid = await client.handshake('edge-02');
    expect(hybrid).toMatchObject({ alg: 'X-Wing', trust: 'identity', identity });
    expect((await client.handshake('edge-01')).alg).toBe(ALG);
    const before = await signedDoc(responder.fetch, 'edge-02');
    expect(base64Decode(before.public_key)).toHaveLength(1216);
    const rotated = await responder.rotateKey('edge-02', { graceSeconds: 0 });
    const after = await signedDoc(responder.fetch, 'edge-02');
    expect(after).toMatchObject({ alg: 'X-Wing', fingerprint: rotated.fingerprint });
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(base64Decode(after.public_key)).toHaveLength(1216);
    // The kept document names the retired key: key_mismatch, the signed document again, success.
    const again = await client.handshake('edge-02');
    expect(again).toMatchObject({
      alg: 'X-Wing',
      trust: 'identity',
      fingerprint: after.fingerprint,
    });
    // A client that accepts ML-KEM-768 only refuses the X-Wing document before sending anything.
    const classicOnly = createClient({
      origin: 'https://responder.test',
      fetch,
      retry: 0,
      identity: identityTrust({ fleet: [identity] }),
    });
    await expectCodeAsync(classicOnly.handshake('edge-02'), 'unsupported_alg');
    responder.close();
  });

  test('the admin endpoint: refused without an admin, rotates with the token', async () => {
    const store = createMemoryKeyStore();
    const open = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, keyStore: store });
    const rotate = (body: unknown, headers: Record<string, string> = {}) =>
      jsonRequest('/api/keyex/edge-01/rotate', body, {
        headers: { 'content-type': 'application/json', ...headers },
      });
    await expectError(await open.fetch(rotate({})), 403, 'forbidden');
    open.close();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: createMemoryKeyStore(),
      admin: createBearerTokenAuthorizer(TOKEN),
    });
    const auth = { authorization: `Bearer ${TOKEN}` };
    await expectError(await responder.fetch(rotate({})), 401, 'unauthorized');
    await expectError(await responder.fetch(rotate({}, auth)), 409, 'key_mismatch');
    const old = await signedDoc(responder.fetch, 'edge-01');
    await expectError(
      await responder.fetch(rotate({ grace_seconds: -1 }, auth)),
      400,
      'invalid_request',
    );
    await expectError(
      await responder.fetch(rotate({ grace_seconds: '1' }, auth)),
      400,
      'invalid_request',
    );
    expect((await signedDoc(responder.fetch, 'edge-01')).fingerprint).toBe(old.fingerprint);
    const response = await responder.fetch(rotate({ grace_seconds: 30 }, auth));
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body['previous_fingerprint']).toBe(old.fingerprint);
    expect(body['fingerprint']).toBe((await signedDoc(responder.fetch, 'edge-01')).fingerprint);
    expect(body['machine_id']).toBe('machine:edge-01');
    expect(typeof body['retired_until']).toBe('string');
    await expectError(
      await responder.fetch(getRequest('/api/keyex/edge-01/rotate')),
      405,
      'method_not_allowed',
    );
    responder.close();
  });
});
