/**
 * Responders sharing one Redis (`zeq-keyex/redis`): one key pair per machine whoever asks first,
 * sessions and replay tags seen by every instance (on Redis and on Valkey), secrets only sealed in Redis, record state
 * kept per instance when it is not shared (never a second sender under one key), a full Redis refused as `429`, and
 * Redis stopped then restarted: `503` with `Retry-After`, never a new key pair, then service again
 * by itself with the same fingerprints.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { sessionRecords } from '../src/initiator/records.js';
import {
  type RedisConnection,
  createRedisConnection,
  createRedisKeyStore,
  createRedisReplayMemory,
  createRedisSessionStore,
  createRedisStores,
} from '../src/redis.js';
import { type Responder, createResponder } from '../src/responder.js';
import { expectCodeAsync } from './helpers/errors.js';
import { text, utf8 } from './helpers/records.js';
import { type RedisServer, startRedisServer } from './helpers/redis-server.js';
import { testPrefix, untilReady, useRedis, useValkey } from './helpers/redis.js';
import {
  FIELD_KEY,
  ORIGIN,
  OTHER_FIELD_KEY,
  clientHandshake,
  fetchKeyDoc,
  getRequest,
  jsonRequest,
} from './helpers/responder.js';
import { replayTag, storedSession } from './helpers/store-contract.js';

const MACHINES = { 'edge-01': 'machine:edge-01', 'edge-02': 'machine:edge-02' };
const redis = useRedis();
const valkey = useValkey();

/** A responder instance on the shared Redis under `prefix`. */
function instance(prefix: string, connection: RedisConnection = redis()): Responder {
  const stores = createRedisStores({ client: connection, fieldKey: FIELD_KEY, keyPrefix: prefix });
  return createResponder({
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    keyStore: stores.keyStore,
    sessionStore: stores.sessionStore,
    replayMemory: stores.replayMemory,
    seedStore: stores.seedStore,
    onRecord: (plaintext) => plaintext,
    storeTimeoutMs: 1_000,
  });
}

async function valuesUnder(prefix: string): Promise<string[]> {
  const reply = (await redis().sendCommand(['KEYS', `${prefix}*`])) as string[];
  return Promise.all(
    reply.map(async (name) => {
      const type = await redis().sendCommand(['TYPE', name]);
      return type === 'string' ? ((await redis().sendCommand(['GET', name])) as string) : '';
    }),
  );
}

describe.each([
  ['Redis', redis],
  ['Valkey', valkey],
])('two instances on one %s', (server, connection) => {
  test('the server is the one named', async () => {
    const info = (await connection().sendCommand(['INFO', 'server'])) as string;
    expect(/^valkey_version:/m.test(info)).toBe(server === 'Valkey');
  });

  test('100 concurrent first key requests split across both make one key pair', async () => {
    const prefix = testPrefix();
    const [a, b] = [instance(prefix, connection()), instance(prefix, connection())];
    const docs = await Promise.all(
      Array.from({ length: 100 }, (_, i) => fetchKeyDoc((i % 2 === 0 ? a : b).fetch, 'edge-01')),
    );
    expect(new Set(docs.map((doc) => doc.fingerprint)).size).toBe(1);
    expect(await createRedisKeyStore(connection(), { keyPrefix: prefix }).slugs()).toEqual([
      'edge-01',
    ]);
    a.close();
    b.close();
  });

  test('a handshake through one is replayed through the other: refused', async () => {
    const prefix = testPrefix();
    const [a, b] = [instance(prefix, connection()), instance(prefix, connection())];
    const first = await clientHandshake(a.fetch, 'edge-01');
    const replay = await b.fetch(
      jsonRequest('/api/keyex/edge-01/handshake', {
        cipher_text: first.cipherTextB64,
        fingerprint: first.doc.fingerprint,
      }),
    );
    expect(replay.status).toBe(409);
    expect(((await replay.json()) as { error: string }).error).toBe('replayed_handshake');
    a.close();
    b.close();
  });
});

describe('two instances on one Redis', () => {
  test('without shared record state, records go through the instance that made the session; the other refuses them (no second sender)', async () => {
    const prefix = testPrefix();
    const [a, b] = [instance(prefix), instance(prefix)];
    const client = createClient({
      origin: ORIGIN,
      fetch: (request) => a.fetch(request),
      insecureUnpinned: true,
      retry: 0,
    });
    const session = await client.handshake('edge-01');
    const records = sessionRecords(session);
    expect(text(await records.request(utf8('one')))).toBe('one');
    const viaB = await b.fetch(
      new Request(`${ORIGIN}/api/keyex/edge-01/sessions/${session.sessionId}/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new Uint8Array(64),
      }),
    );
    expect(viaB.status).toBe(404);
    expect(((await viaB.json()) as { error: string }).error).toBe('unknown_session');
    expect(text(await records.request(utf8('two')))).toBe('two');
    a.close();
    b.close();
  });
});

describe('what Redis holds', () => {
  test('no record key in the clear: a session holds it sealed, bound to its id', async () => {
    const prefix = testPrefix();
    const a = instance(prefix);
    const { recordKey, response } = await clientHandshake(a.fetch, 'edge-01');
    const all = (await valuesUnder(prefix)).join('\n');
    for (const encoding of ['hex', 'base64', 'base64url', 'latin1'] as const)
      expect(all).not.toContain(Buffer.from(recordKey).toString(encoding));
    // The same value under another session id does not open.
    const value = (await redis().sendCommand([
      'GET',
      `${prefix}session:${response.session_id}`,
    ])) as string;
    const moved = 'AAAAAAAAAAAAAAAAAAAAAA';
    await redis().sendCommand(['SET', `${prefix}session:${moved}`, value]);
    const store = createRedisSessionStore(redis(), { fieldKey: FIELD_KEY, keyPrefix: prefix });
    await expectCodeAsync(store.get(moved), 'store_error');
    // Nor under another field key.
    const other = createRedisSessionStore(redis(), {
      fieldKey: OTHER_FIELD_KEY,
      keyPrefix: prefix,
    });
    await expectCodeAsync(other.get(response.session_id), 'store_error');
    expect(Array.from((await store.get(response.session_id))?.recordKey ?? [])).toEqual(
      Array.from(recordKey),
    );
    a.close();
  });

  test('a tampered session or key is a store error, never a crash or a new key pair', async () => {
    const prefix = testPrefix();
    const store = createRedisSessionStore(redis(), { fieldKey: FIELD_KEY, keyPrefix: prefix });
    const session = storedSession(Date.now() + 60_000);
    await store.create(session, replayTag());
    await redis().sendCommand(['SET', `${prefix}session:${session.sessionId}`, '{"slug":1}']);
    await expectCodeAsync(store.get(session.sessionId), 'store_error');
    await redis().sendCommand(['SET', `${prefix}key:edge-01`, 'not json']);
    const a = instance(prefix);
    const response = await a.fetch(getRequest('/api/keyex/edge-01/pubkey'));
    expect(response.status).toBe(503);
    expect(await redis().sendCommand(['GET', `${prefix}key:edge-01`])).toBe('not json');
    a.close();
  });

  test('a closed session store wipes what it opened and writes nothing more', async () => {
    const store = createRedisSessionStore(redis(), {
      fieldKey: FIELD_KEY,
      keyPrefix: testPrefix(),
    });
    const session = storedSession(Date.now() + 60_000);
    await store.create(session, replayTag());
    const opened = await store.get(session.sessionId);
    store.close();
    expect(opened?.recordKey.every((byte) => byte === 0)).toBe(true);
    await expectCodeAsync(
      store.create(storedSession(Date.now() + 60_000), replayTag()),
      'store_error',
    );
  });
});

describe('a Redis of its own', () => {
  let server: RedisServer;
  let connection: RedisConnection;

  beforeAll(async () => {
    server = await startRedisServer({ persistent: true });
    connection = createRedisConnection(server.url);
    await untilReady(connection);
  });

  afterAll(async () => {
    await connection.close();
    await server.dispose();
  });

  test('full (maxmemory, noeviction): the replay memory answers full, the handshake 429', async () => {
    const prefix = testPrefix();
    const a = instance(prefix, connection);
    await fetchKeyDoc(a.fetch, 'edge-01');
    await connection.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
    await connection.sendCommand(['CONFIG', 'SET', 'maxmemory', '1']);
    try {
      const memory = createRedisReplayMemory(connection, { keyPrefix: prefix });
      const result = await memory.remember(replayTag(), Date.now() + 60_000);
      expect(result.status).toBe('full');
      const response = await a.fetch(
        jsonRequest('/api/keyex/edge-01/handshake', {
          cipher_text: Buffer.alloc(1088, 7).toString('base64'),
          fingerprint: (await fetchKeyDoc(a.fetch, 'edge-01')).fingerprint,
        }),
      );
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await connection.sendCommand(['CONFIG', 'SET', 'maxmemory', '0']);
    }
    a.close();
  });

  test('stopped: 503 with Retry-After and no new key pair; restarted: service resumes, same fingerprints', async () => {
    const prefix = testPrefix();
    const a = instance(prefix, connection);
    const before = await fetchKeyDoc(a.fetch, 'edge-01');
    await server.stop();
    for (const request of [
      getRequest('/api/keyex/edge-02/pubkey'),
      jsonRequest('/api/keyex/edge-01/handshake', {
        cipher_text: Buffer.alloc(1088, 9).toString('base64'),
        fingerprint: before.fingerprint,
      }),
    ]) {
      const response = await a.fetch(request);
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: string }).error).toBe('unavailable');
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    await server.restart();
    await untilReady(connection);
    // A fresh instance reads the key that survived in Redis: the same fingerprint.
    const b = instance(prefix, connection);
    expect((await fetchKeyDoc(b.fetch, 'edge-01')).fingerprint).toBe(before.fingerprint);
    const handshake = await clientHandshake(a.fetch, 'edge-01');
    expect(handshake.doc.fingerprint).toBe(before.fingerprint);
    // edge-02 got no key while Redis was down; it gets exactly one now.
    expect(await createRedisKeyStore(connection, { keyPrefix: prefix }).slugs()).toEqual([
      'edge-01',
    ]);
    a.close();
    b.close();
  });
});

test('a Redis URL that is not redis:// or rediss:// is refused when the connection is made', () => {
  for (const url of ['http://127.0.0.1:6379', 'not a url', ''])
    expect(() => createRedisConnection(url)).toThrow(TypeError);
});
