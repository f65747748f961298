/**
 * The responder's happy paths (spec §2.1, §2.3) through its fetch handler, lazy single-flight key
 * generation, options validation, and a scan of every response and log line for secrets.
 */
import { describe, expect, test } from 'vitest';
import { ALG } from '../src/core/constants.js';
import { base64Decode } from '../src/core/encoding.js';
import { computeFingerprint } from '../src/core/fingerprint.js';
import { kemEncapsulate, kemKeygen } from '../src/core/kem.js';
import { deriveSealKey, unsealSecretKey } from '../src/core/sealing.js';
import { createResponder } from '../src/responder.js';
import { type StoredKey, createMemoryKeyStore } from '../src/responder/stores.js';
import { expectCode, expectCodeAsync } from './helpers/errors.js';
import {
  FIELD_KEY,
  ORIGIN,
  clientHandshake,
  fetchKeyDoc,
  getRequest,
  jsonRequest,
  observedKeyStore,
  observedSessionStore,
  recordingLogger,
} from './helpers/responder.js';
import { hex, toHex } from './helpers/vectors.js';

const MACHINES = { 'edge-01': 'machine:edge-01', 'edge-02': 'machine:edge-02' };
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

describe('GET /api/keyex/:slug/pubkey', () => {
  test('serves a valid §2.1 document, the same one every time', async () => {
    const keyStore = observedKeyStore();
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, keyStore });
    const response = await responder.fetch(getRequest('/api/keyex/edge-01/pubkey'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const doc = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(doc).sort()).toEqual(['alg', 'fingerprint', 'machine_id', 'public_key']);
    expect(doc['alg']).toBe(ALG);
    expect(doc['machine_id']).toBe('machine:edge-01');
    const publicKey = base64Decode(doc['public_key'], 1184);
    expect(doc['fingerprint']).toBe(computeFingerprint(publicKey));

    const again = await fetchKeyDoc(responder.fetch, 'edge-01');
    expect(again).toEqual(doc);
    expect(keyStore.writes).toHaveLength(1);
    expect(await responder.keyDocument('edge-01')).toEqual(doc);

    // Another machine gets another key.
    const other = await fetchKeyDoc(responder.fetch, 'edge-02');
    expect(other.fingerprint).not.toBe(doc['fingerprint']);
    expect(other.machine_id).toBe('machine:edge-02');
  });

  test('the stored key is sealed (§5) and opens to the seed of the served public key', async () => {
    const keyStore = observedKeyStore();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore,
      now: () => Date.UTC(2030, 0, 2, 3, 4, 5),
    });
    const doc = await fetchKeyDoc(responder.fetch, 'edge-01');
    const stored = keyStore.writes[0];
    expect(stored).toBeDefined();
    if (stored === undefined) return;
    expect(Object.keys(stored).sort()).toEqual([
      'alg',
      'createdAt',
      'machineId',
      'publicKey',
      'sealedSecretKey',
      'slug',
    ]);
    expect(stored).toMatchObject({
      alg: ALG,
      slug: 'edge-01',
      machineId: 'machine:edge-01',
      publicKey: doc.public_key,
    });
    expect(stored.createdAt).toBe('2030-01-02T03:04:05.000Z');
    const publicKey = base64Decode(stored.publicKey, 1184);
    const seed = unsealSecretKey(
      deriveSealKey(hex(FIELD_KEY)),
      { alg: ALG, slug: 'edge-01', machineId: 'machine:edge-01', publicKey },
      stored.sealedSecretKey,
    );
    expect(seed).toHaveLength(64);
    expect(toHex(kemKeygen(seed).publicKey)).toBe(toHex(publicKey));
    // The seal is bound to the machine: the same blob does not open for another slug.
    expectCode(
      () =>
        unsealSecretKey(
          deriveSealKey(hex(FIELD_KEY)),
          { alg: ALG, slug: 'edge-02', machineId: 'machine:edge-01', publicKey },
          stored.sealedSecretKey,
        ),
      'unseal_failed',
    );
  });

  test('100 concurrent first requests for one slug end with exactly one key pair', async () => {
    const keyStore = observedKeyStore();
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, keyStore });
    const docs = await Promise.all(
      Array.from({ length: 100 }, () => fetchKeyDoc(responder.fetch, 'edge-01')),
    );
    expect(keyStore.calls.putIfAbsent).toBe(1);
    expect(keyStore.writes).toHaveLength(1);
    expect(new Set(docs.map((d) => JSON.stringify(d))).size).toBe(1);
    expect(docs[0]?.public_key).toBe(keyStore.writes[0]?.publicKey);
  });

  test('two processes sharing a store: the first writer wins and both serve its key', async () => {
    const backing = new Map<string, StoredKey>();
    const storeA = observedKeyStore(backing);
    const storeB = observedKeyStore(backing);
    const a = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, keyStore: storeA });
    const b = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, keyStore: storeB });
    const docs = await Promise.all(
      Array.from({ length: 40 }, (_, i) => fetchKeyDoc((i % 2 === 0 ? a : b).fetch, 'edge-01')),
    );
    expect(new Set(docs.map((d) => d.fingerprint)).size).toBe(1);
    expect(storeA.writes.length + storeB.writes.length).toBe(1);
    expect(backing.size).toBe(1);
    // Both read the store before either wrote, so both generated; the loser adopted the winner.
    expect(storeA.calls.putIfAbsent + storeB.calls.putIfAbsent).toBe(2);
    await clientHandshake(a.fetch, 'edge-01');
    await clientHandshake(b.fetch, 'edge-01');
  });

  test('a base path prefixes every route', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      basePath: '/zeq/',
    });
    await clientHandshake(responder.fetch, 'edge-01', '/zeq');
    const bare = await responder.fetch(getRequest('/api/keyex/edge-01/pubkey'));
    expect(bare.status).toBe(404);
    const near = await responder.fetch(getRequest('/zeqx/api/keyex/edge-01/pubkey'));
    expect(near.status).toBe(404);
  });

  test('machines can come from an async resolver', async () => {
    const asked: string[] = [];
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: async (slug) => {
        asked.push(slug);
        return slug.startsWith('dyn-') ? `machine:${slug}` : undefined;
      },
    });
    const doc = await fetchKeyDoc(responder.fetch, 'dyn-7');
    expect(doc.machine_id).toBe('machine:dyn-7');
    expect((await responder.fetch(getRequest('/api/keyex/static/pubkey'))).status).toBe(404);
    expect(asked).toEqual(['dyn-7', 'static']);
  });

  test('slugs that look like Object.prototype members are not machines', async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    for (const slug of ['constructor', 'toString', 'hasOwnProperty']) {
      expect((await responder.fetch(getRequest(`/api/keyex/${slug}/pubkey`))).status).toBe(404);
    }
  });
});

describe('POST /api/keyex/:slug/handshake', () => {
  test('answers §2.3; the confirmation opens under the record key the initiator derived', async () => {
    const t0 = Date.UTC(2031, 5, 6, 7, 8, 9, 123);
    const sessionStore = observedSessionStore({ now: () => t0 });
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      sessionStore,
      now: () => t0,
      sessionTtlMs: 90_000,
    });
    const result = await clientHandshake(responder.fetch, 'edge-01');
    const body = result.response;
    expect(Object.keys(body).sort()).toEqual([
      'alg',
      'expires_at',
      'fingerprint',
      'key_confirmation',
      'machine_id',
      'session_id',
    ]);
    expect(body.session_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(body.machine_id).toBe('machine:edge-01');
    expect(body.fingerprint).toBe(result.doc.fingerprint);
    expect(body.alg).toBe(ALG);
    expect(body.expires_at).toMatch(RFC3339_UTC);
    expect(Date.parse(body.expires_at)).toBe(t0 + 90_000);

    // The session is stored with the same record key, compactly.
    const session = await sessionStore.get(body.session_id);
    expect(session).toBeDefined();
    expect(Object.keys(session ?? {}).sort()).toEqual([
      'expiresAt',
      'machineId',
      'recordKey',
      'sessionId',
      'slug',
    ]);
    expect(toHex(session?.recordKey ?? new Uint8Array())).toBe(toHex(result.recordKey));
    expect(session?.expiresAt).toBe(t0 + 90_000);
  });

  test('expires_at is in the future with the real clock; session ids are fresh', async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    const first = await clientHandshake(responder.fetch, 'edge-01');
    const second = await clientHandshake(responder.fetch, 'edge-01');
    expect(Date.parse(first.response.expires_at)).toBeGreaterThan(Date.now());
    expect(Date.parse(first.response.expires_at)).toBeLessThanOrEqual(Date.now() + 600_000);
    expect(first.response.session_id).not.toBe(second.response.session_id);
    expect(toHex(first.recordKey)).not.toBe(toHex(second.recordKey));
  });

  test('session ids and key-confirmation nonces never repeat across pool refills, and never share bytes', async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    // 100 handshakes draw 2,800 public random bytes: the 1 KiB pool is refilled twice.
    const answers = [];
    for (let i = 0; i < 100; i++)
      answers.push((await clientHandshake(responder.fetch, 'edge-01')).response);
    const ids = answers.map((a) => a.session_id);
    const nonces = answers.map((a) =>
      toHex(Uint8Array.from(atob(a.key_confirmation), (c) => c.charCodeAt(0)).subarray(0, 12)),
    );
    expect(new Set(ids).size).toBe(100);
    expect(new Set(nonces).size).toBe(100);
    // A nonce is not cut from the bytes of a session id (each pooled byte is used once).
    const idBytes = ids.map((id) =>
      toHex(
        Uint8Array.from(atob(id.replace(/-/g, '+').replace(/_/g, '/') + '=='), (c) =>
          c.charCodeAt(0),
        ),
      ),
    );
    for (const nonce of nonces)
      expect(idBytes.some((id) => id.includes(nonce.slice(0, 16)))).toBe(false);
    responder.close();
  });

  test('accepts a request without a fingerprint (older initiators) and a charset parameter', async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    const doc = await fetchKeyDoc(responder.fetch, 'edge-01');
    const { cipherText } = kemEncapsulate(base64Decode(doc.public_key, 1184));
    const response = await responder.fetch(
      jsonRequest(
        '/api/keyex/edge-01/handshake',
        { cipher_text: Buffer.from(cipherText).toString('base64'), extra: { ignored: true } },
        {
          headers: { 'content-type': 'Application/JSON; charset="UTF-8"' },
        },
      ),
    );
    expect(response.status).toBe(200);
  });

  test('a body streamed in many small chunks up to the limit is accepted', async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    const doc = await fetchKeyDoc(responder.fetch, 'edge-01');
    const { cipherText } = kemEncapsulate(base64Decode(doc.public_key, 1184));
    const text = JSON.stringify({
      cipher_text: Buffer.from(cipherText).toString('base64'),
      fingerprint: doc.fingerprint,
    });
    const padded = new TextEncoder().encode(text.padEnd(8192, ' '));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < padded.length; i += 100) controller.enqueue(padded.slice(i, i + 100));
        controller.close();
      },
    });
    const response = await responder.fetch(
      new Request(`${ORIGIN}/api/keyex/edge-01/handshake`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: stream,
        duplex: 'half',
      } as RequestInit),
    );
    expect(response.status).toBe(200);
  });
});

describe('secrets never leave the responder', () => {
  test('no response body or log line holds a seed, secret key, shared secret or record key', async () => {
    const keyStore = observedKeyStore();
    const logger = recordingLogger();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore,
      logger,
    });
    const bodies: string[] = [];
    const record = async (request: Request): Promise<Response> => {
      const response = await responder.fetch(request);
      bodies.push(`${JSON.stringify([...response.headers])}${await response.clone().text()}`);
      return response;
    };
    const ok = await clientHandshake(record, 'edge-01');
    // Refusals too: replay, mismatch, malformed.
    await record(
      jsonRequest('/api/keyex/edge-01/handshake', {
        cipher_text: ok.cipherTextB64,
        fingerprint: ok.doc.fingerprint,
      }),
    );
    await record(
      jsonRequest('/api/keyex/edge-01/handshake', {
        cipher_text: ok.cipherTextB64,
        fingerprint: 'ab'.repeat(32),
      }),
    );
    await record(jsonRequest('/api/keyex/edge-01/handshake', '{"cipher_text":'));
    // A machine that cannot open its key logs an error.
    const tampered = createResponder({
      fieldKey: 'ab'.repeat(32),
      machines: MACHINES,
      keyStore,
      logger,
    });
    bodies.push(await (await tampered.fetch(getRequest('/api/keyex/edge-01/pubkey'))).text());
    expect(logger.lines.some((l) => l.level === 'error')).toBe(true);

    const stored = keyStore.writes[0];
    if (stored === undefined) throw new Error('no key stored');
    const publicKey = base64Decode(stored.publicKey, 1184);
    const seed = unsealSecretKey(
      deriveSealKey(hex(FIELD_KEY)),
      { alg: ALG, slug: 'edge-01', machineId: 'machine:edge-01', publicKey },
      stored.sealedSecretKey,
    );
    const secretKey = kemKeygen(seed).secretKey;
    const secrets = [
      seed,
      seed.subarray(0, 32),
      seed.subarray(32),
      ok.sharedSecret,
      ok.recordKey,
      deriveSealKey(hex(FIELD_KEY)),
      hex(FIELD_KEY),
      secretKey.subarray(0, 48),
    ];
    const forms = secrets.flatMap((s) => {
      const b = Buffer.from(s);
      return [b.toString('hex'), b.toString('base64').replace(/=+$/, ''), b.toString('base64url')];
    });
    const haystack = bodies.join('\n') + logger.text();
    for (const form of forms) expect(haystack.includes(form), 'a secret leaked').toBe(false);
    expect(haystack.includes(FIELD_KEY)).toBe(false);
  });
});

describe('options', () => {
  test('a missing, short or malformed field key is an error at creation', () => {
    for (const fieldKey of [
      undefined,
      '',
      'ab'.repeat(31),
      'zz'.repeat(32),
      'ab'.repeat(33),
      new Uint8Array(31),
      new Uint8Array(33),
      42,
    ]) {
      expectCode(
        () => createResponder({ fieldKey: fieldKey as string, machines: MACHINES }),
        'invalid_field_key',
      );
    }
    expect(() =>
      createResponder({ fieldKey: new Uint8Array(32).fill(7), machines: MACHINES }),
    ).not.toThrow();
    expect(() =>
      createResponder({ fieldKey: FIELD_KEY.toUpperCase(), machines: MACHINES }),
    ).not.toThrow();
  });

  test('a field key given as bytes is copied, not kept', async () => {
    const bytes = hex(FIELD_KEY);
    const responder = createResponder({ fieldKey: bytes, machines: MACHINES });
    expect(toHex(bytes)).toBe(FIELD_KEY);
    bytes.fill(0);
    const fromHex = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: createMemoryKeyStore(),
    });
    expect((await fetchKeyDoc(responder.fetch, 'edge-01')).alg).toBe(ALG);
    expect((await fetchKeyDoc(fromHex.fetch, 'edge-01')).alg).toBe(ALG);
  });

  test('malformed machines, base path, logger, stores or clock are TypeErrors', () => {
    const bad: unknown[] = [
      { machines: { '-bad': 'm' } },
      { machines: { good: 'bad id' } },
      { machines: { good: 7 } },
      { machines: null },
      { machines: ['a'] },
      { machines: MACHINES, basePath: 'zeq' },
      { machines: MACHINES, basePath: '/a//b' },
      { machines: MACHINES, basePath: '/a?b' },
      { machines: MACHINES, logger: { warn() {} } },
      { machines: MACHINES, now: 5 },
      { machines: MACHINES, keyStore: {} },
      { machines: MACHINES, sessionStore: { create() {} } },
      { machines: MACHINES, sessionStore: observedSessionStore(), maxSessions: 5 },
    ];
    for (const options of bad) {
      expect(() =>
        createResponder({
          fieldKey: FIELD_KEY,
          ...(options as { machines: Record<string, string> }),
        }),
      ).toThrow(TypeError);
    }
  });

  test('numeric options out of range are RangeErrors', () => {
    for (const sessionTtlMs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      expect(() =>
        createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, sessionTtlMs }),
      ).toThrow(RangeError);
    }
    for (const maxSessions of [0, -3, 2.5, Number.NaN]) {
      expect(() =>
        createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, maxSessions }),
      ).toThrow(RangeError);
    }
  });

  test('keyDocument refuses malformed and unknown slugs with codes', async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    await expectCodeAsync(responder.keyDocument('-bad'), 'invalid_identifier');
    await expectCodeAsync(responder.keyDocument('nobody'), 'unknown_machine');
    const misconfigured = createResponder({
      fieldKey: FIELD_KEY,
      machines: () => 'not a machine id',
    });
    await expectCodeAsync(misconfigured.keyDocument('edge-01'), 'invalid_identifier');
  });

  test('keyDocument gives the document the route serves, byte for byte, as a fresh object', async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    const served = await (await responder.fetch(getRequest('/api/keyex/edge-01/pubkey'))).text();
    const doc = await responder.keyDocument('edge-01');
    expect(JSON.stringify(doc)).toBe(served);
    expect(await responder.keyDocument('edge-01')).not.toBe(doc);
  });

  test('close() wipes the cached keys; the responder then refuses with 500', async () => {
    const logger = recordingLogger();
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, logger });
    await clientHandshake(responder.fetch, 'edge-01');
    responder.close();
    const response = await responder.fetch(getRequest('/api/keyex/edge-01/pubkey'));
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'internal', message: 'internal error' });
    await expectCodeAsync(responder.keyDocument('edge-01'), 'machine_unavailable');
  });
});
