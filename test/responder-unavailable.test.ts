/**
 * A store the responder needs is down (spec §7, revision 2): a key store, session store or replay
 * memory that throws, rejects or hangs makes the request `503 unavailable` with `Retry-After`,
 * never `500`, never a new key pair, never a session or a replay tag left behind. A hanging store
 * is bounded by `storeTimeoutMs`; a slow one within it is served as usual.
 */
import { describe, expect, test } from 'vitest';
import { createResponder } from '../src/responder.js';
import {
  type KeyStore,
  type SessionCreateResult,
  type SessionStore,
  type StoredSession,
  createMemoryKeyStore,
  createMemorySessionStore,
} from '../src/responder/stores.js';
import { type ReplayMemory, createMemoryReplayMemory } from '../src/responder/replay-memory.js';
import {
  FIELD_KEY,
  clientHandshake,
  expectError,
  fetchKeyDoc,
  getRequest,
  jsonRequest,
  observedKeyStore,
  recordingLogger,
} from './helpers/responder.js';
import { kemEncapsulate } from '../src/core/kem.js';
import { base64Decode } from '../src/core/encoding.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };
const PUBKEY = '/api/keyex/edge-01/pubkey';
const HANDSHAKE = '/api/keyex/edge-01/handshake';
/** Short, so that a hanging store is given up on quickly; no assertion depends on durations. */
const STORE_TIMEOUT_MS = 20;

async function expectUnavailable(response: Response): Promise<void> {
  const body = await expectError(response, 503, 'unavailable');
  expect(Object.keys(body).sort()).toEqual(['error', 'message']);
  expect(response.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
}

/** A promise that never settles. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

/** A fresh ciphertext for a key document's public key, as base64. */
function freshCipherText(publicKeyB64: string): string {
  const { cipherText } = kemEncapsulate(base64Decode(publicKeyB64, 1184));
  return Buffer.from(cipherText).toString('base64');
}

describe('a key store that is down', () => {
  test.each([
    ['throws', () => Promise.reject(new Error('disk on fire'))],
    ['hangs', () => never<undefined>()],
  ] as const)('that %s: 503 unavailable, and no key pair is made', async (_name, get) => {
    let puts = 0;
    const keyStore: KeyStore = {
      get,
      putIfAbsent: (key) => {
        puts++;
        return Promise.resolve(key);
      },
    };
    const logger = recordingLogger();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore,
      storeTimeoutMs: STORE_TIMEOUT_MS,
      logger,
    });
    await expectUnavailable(await responder.fetch(getRequest(PUBKEY)));
    const handshake = jsonRequest(HANDSHAKE, {
      cipher_text: Buffer.alloc(1088).toString('base64'),
    });
    await expectUnavailable(await responder.fetch(handshake));
    expect(puts).toBe(0);
    expect(logger.lines.map((l) => l.fields?.['code'])).toEqual(['store_error', 'store_error']);
    expect(logger.text().includes('disk on fire')).toBe(false);
    responder.close();
  });

  test('whose write hangs: 503, and the next request serves the key it wrote late', async () => {
    const backing = createMemoryKeyStore();
    let release: () => void = () => undefined;
    const keyStore: KeyStore = {
      get: (slug) => backing.get(slug),
      putIfAbsent: (key) =>
        new Promise((resolve) => {
          release = () => {
            resolve(backing.putIfAbsent(key));
          };
        }),
    };
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore,
      storeTimeoutMs: STORE_TIMEOUT_MS,
    });
    await expectUnavailable(await responder.fetch(getRequest(PUBKEY)));
    release();
    const stored = await backing.get('edge-01');
    expect(stored).toBeDefined();
    const doc = await fetchKeyDoc(responder.fetch, 'edge-01');
    expect(doc.public_key).toBe(stored?.publicKey);
    responder.close();
  });

  test('that is slow but within the limit: served as usual', async () => {
    const backing = observedKeyStore();
    const slow: KeyStore = {
      get: async (slug) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return backing.get(slug);
      },
      putIfAbsent: async (key) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return backing.putIfAbsent(key);
      },
    };
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: slow,
      storeTimeoutMs: 10_000,
    });
    await clientHandshake(responder.fetch, 'edge-01');
    expect(backing.writes).toHaveLength(1);
    responder.close();
  });
});

describe('a session store that is down', () => {
  /** A memory session store whose `create` is replaced, the rest delegated and recorded. */
  function sessionStoreWith(
    create: (session: StoredSession) => Promise<SessionCreateResult> | undefined,
  ): SessionStore & { readonly backing: SessionStore; readonly deleted: string[] } {
    const backing = createMemorySessionStore();
    const deleted: string[] = [];
    return {
      backing,
      deleted,
      create: (session, replay) => create(session) ?? backing.create(session, replay),
      get: (id) => backing.get(id),
      delete: (id) => {
        deleted.push(id);
        return backing.delete(id);
      },
    };
  }

  test('that rejects once: 503, nothing left behind, and the same cipher_text is then accepted', async () => {
    let failures = 1;
    const sessionStore = sessionStoreWith(() =>
      failures-- > 0 ? Promise.reject(new Error('connection reset')) : undefined,
    );
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      sessionStore,
      storeTimeoutMs: STORE_TIMEOUT_MS,
    });
    const doc = await fetchKeyDoc(responder.fetch, 'edge-01');
    const cipherText = freshCipherText(doc.public_key);
    const body = { cipher_text: cipherText, fingerprint: doc.fingerprint };
    await expectUnavailable(await responder.fetch(jsonRequest(HANDSHAKE, body)));
    // Its replay tag was forgotten: the failed request changed no state.
    const retry = await responder.fetch(jsonRequest(HANDSHAKE, body));
    expect(retry.status).toBe(200);
    await retry.body?.cancel();
    responder.close();
  });

  test('that hangs: 503; a session it stores late is deleted, and only then is its tag forgotten', async () => {
    let settle: (() => void) | undefined;
    let lateId: string | undefined;
    let hang = true;
    const sessionStore = sessionStoreWith((session) => {
      if (!hang) return undefined;
      hang = false;
      lateId = session.sessionId;
      return new Promise<SessionCreateResult>((resolve) => {
        settle = () => {
          resolve(
            sessionStore.backing.create(session, {
              fingerprint: 'x',
              cipherTextHash: new Uint8Array(32),
            }),
          );
        };
      });
    });
    const replayMemory: ReplayMemory = createMemoryReplayMemory();
    let forgotten = 0;
    const observedMemory: ReplayMemory = {
      remember: (tag, expiresAt) => replayMemory.remember(tag, expiresAt),
      forget: (tag) => {
        forgotten++;
        return replayMemory.forget(tag);
      },
    };
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      sessionStore,
      replayMemory: observedMemory,
      storeTimeoutMs: STORE_TIMEOUT_MS,
    });
    const doc = await fetchKeyDoc(responder.fetch, 'edge-01');
    const body = { cipher_text: freshCipherText(doc.public_key), fingerprint: doc.fingerprint };
    await expectUnavailable(await responder.fetch(jsonRequest(HANDSHAKE, body)));
    // While the store has not answered, the outcome is unknown: the cipher_text stays refused.
    await expectError(
      await responder.fetch(jsonRequest(HANDSHAKE, body)),
      409,
      'replayed_handshake',
    );
    expect(forgotten).toBe(0);
    settle?.();
    await expect.poll(() => forgotten).toBe(1);
    expect(sessionStore.deleted).toEqual([lateId]);
    expect(await sessionStore.backing.get(lateId ?? '')).toBeUndefined();
    const retry = await responder.fetch(jsonRequest(HANDSHAKE, body));
    expect(retry.status).toBe(200);
    await retry.body?.cancel();
    responder.close();
  });

  test('whose reads hang: the records endpoint answers 503', async () => {
    const sessionStore: SessionStore = {
      create: () => Promise.resolve('created'),
      get: () => never(),
      delete: () => Promise.resolve(),
    };
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      sessionStore,
      storeTimeoutMs: STORE_TIMEOUT_MS,
      onRecord: (plaintext) => plaintext,
    });
    const response = await responder.fetch(
      new Request(`https://responder.test/api/keyex/edge-01/sessions/${'A'.repeat(22)}/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new Uint8Array(64),
      }),
    );
    await expectUnavailable(response);
    responder.close();
  });
});

describe('a replay memory that is down', () => {
  test.each([
    ['throws', () => Promise.reject(new Error('redis down'))],
    ['hangs', () => never<never>()],
  ] as const)('that %s: 503, and no session is stored', async (_name, remember) => {
    const sessionStore = createMemorySessionStore();
    let created = 0;
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      sessionStore: {
        create: (session, replay) => {
          created++;
          return sessionStore.create(session, replay);
        },
        get: (id) => sessionStore.get(id),
        delete: (id) => sessionStore.delete(id),
      },
      replayMemory: { remember, forget: () => Promise.resolve() },
      storeTimeoutMs: STORE_TIMEOUT_MS,
    });
    const doc = await fetchKeyDoc(responder.fetch, 'edge-01');
    const body = { cipher_text: freshCipherText(doc.public_key), fingerprint: doc.fingerprint };
    await expectUnavailable(await responder.fetch(jsonRequest(HANDSHAKE, body)));
    expect(created).toBe(0);
    responder.close();
  });
});

describe('the options of the new limits', () => {
  test('are checked when the responder is created', () => {
    const base = { fieldKey: FIELD_KEY, machines: MACHINES };
    expect(() => createResponder({ ...base, storeTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => createResponder({ ...base, maxReplayTags: 0 })).toThrow(RangeError);
    expect(() =>
      createResponder({ ...base, maxReplayTags: 4, replayMemory: createMemoryReplayMemory() }),
    ).toThrow(TypeError);
    expect(() => createResponder({ ...base, replayMemory: {} as unknown as ReplayMemory })).toThrow(
      TypeError,
    );
  });
});
