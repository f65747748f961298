/**
 * Record state shared through Redis (`recordState`, `zeq-keyex/redis`), on Redis and on Valkey:
 * the records of one session alternate through two responder instances, the responder → initiator `(epoch, seq)` never
 * repeats (no AES-GCM nonce reused) even under concurrent records and epoch changes, a record
 * replayed through the other instance is refused, and a forged record of a far epoch moves
 * nothing.
 */
import { describe, expect, test } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { sessionRecords } from '../src/initiator/records.js';
import { type RedisConnection, createRedisStores } from '../src/redis.js';
import { type Responder, createResponder } from '../src/responder.js';
import { expectCodeAsync } from './helpers/errors.js';
import { headerOf, text, utf8 } from './helpers/records.js';
import { testPrefix, useRedis, useValkey } from './helpers/redis.js';
import { FIELD_KEY, ORIGIN } from './helpers/responder.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };
const REKEY_MS = 20;
const redis = useRedis();
const valkey = useValkey();

function instance(prefix: string, client: RedisConnection = redis()): Responder {
  const stores = createRedisStores({ client, fieldKey: FIELD_KEY, keyPrefix: prefix });
  return createResponder({
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    keyStore: stores.keyStore,
    sessionStore: stores.sessionStore,
    replayMemory: stores.replayMemory,
    recordState: stores.recordState,
    onRecord: (plaintext) => plaintext,
    rekeyIntervalMs: REKEY_MS,
    rateLimits: false,
  });
}

/** Two instances, a client whose requests alternate between them, and every r2i header seen. */
function twoInstances(connection: RedisConnection = redis()) {
  const prefix = testPrefix();
  const a = instance(prefix, connection);
  const b = instance(prefix, connection);
  let turn = 0;
  const headers: string[] = [];
  const client = createClient({
    origin: ORIGIN,
    insecureUnpinned: true,
    retry: 0,
    rekeyIntervalMs: REKEY_MS,
    fetch: async (request: Request) => {
      const response = await (turn++ % 2 === 0 ? a : b).fetch(request);
      if (!request.url.includes('/records') || response.status !== 200) return response;
      const body = new Uint8Array(await response.arrayBuffer());
      const { epoch, seq } = headerOf(body);
      headers.push(`${epoch}/${seq}`);
      return new Response(body as BodyInit, { status: 200, headers: response.headers });
    },
  });
  return { a, b, client, headers };
}

const pause = (ms: number): Promise<void> => new Promise((wait) => setTimeout(wait, ms));

describe.each([
  ['Redis', redis],
  ['Valkey', valkey],
])('records of one session through two instances on %s', (_, connection) => {
  test('100 records alternating through both, across epochs: every reply right, no (epoch, seq) twice', async () => {
    const { a, b, client, headers } = twoInstances(connection());
    const records = sessionRecords(await client.handshake('edge-01'));
    for (let i = 0; i < 100; i++) {
      expect(text(await records.request(utf8(`record ${i}`)))).toBe(`record ${i}`);
      if (i % 10 === 9) await pause(REKEY_MS * 2);
    }
    expect(headers).toHaveLength(100);
    expect(new Set(headers).size).toBe(100);
    expect(new Set(headers.map((header) => header.split('/')[0])).size).toBeGreaterThan(1);
    a.close();
    b.close();
  });

  test('concurrent records through both instances: all answered, no (epoch, seq) twice', async () => {
    const { a, b, client, headers } = twoInstances(connection());
    const records = sessionRecords(await client.handshake('edge-01'));
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => records.request(utf8(`c${i}`))),
    );
    expect(replies.map(text)).toEqual(Array.from({ length: 40 }, (_, i) => `c${i}`));
    expect(new Set(headers).size).toBe(40);
    a.close();
    b.close();
  });

  test('a record accepted by one instance is refused as replayed by the other', async () => {
    const prefix = testPrefix();
    const [a, b] = [instance(prefix, connection()), instance(prefix, connection())];
    let sent: Uint8Array | undefined;
    const client = createClient({
      origin: ORIGIN,
      insecureUnpinned: true,
      retry: 0,
      fetch: async (request: Request) => {
        if (request.url.includes('/records'))
          sent = new Uint8Array(await request.clone().arrayBuffer());
        return a.fetch(request);
      },
    });
    const session = await client.handshake('edge-01');
    await sessionRecords(session).request(utf8('once'));
    const replay = await b.fetch(
      new Request(`${ORIGIN}/api/keyex/edge-01/sessions/${session.sessionId}/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: sent as BodyInit,
      }),
    );
    expect(replay.status).toBe(409);
    expect(((await replay.json()) as { error: string }).error).toBe('replayed_record');
    a.close();
    b.close();
  });

  test('a forged record of a far epoch is refused and moves nothing', async () => {
    const { a, b, client } = twoInstances(connection());
    const session = await client.handshake('edge-01');
    const records = sessionRecords(session);
    expect(text(await records.request(utf8('before')))).toBe('before');
    const forged = new Uint8Array(64);
    forged[0] = 1;
    new DataView(forged.buffer).setUint32(1, 1000);
    for (const target of [a, b]) {
      const response = await target.fetch(
        new Request(`${ORIGIN}/api/keyex/edge-01/sessions/${session.sessionId}/records`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body: forged as BodyInit,
        }),
      );
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_record');
    }
    for (let i = 0; i < 4; i++)
      expect(text(await records.request(utf8(`after ${i}`)))).toBe(`after ${i}`);
    a.close();
    b.close();
  });
});

describe('record state that is gone', () => {
  test('a session whose record state vanished from Redis is refused, never started again at seq 0', async () => {
    const prefix = testPrefix();
    const [a, b] = [instance(prefix), instance(prefix)];
    const client = createClient({
      origin: ORIGIN,
      insecureUnpinned: true,
      retry: 0,
      fetch: (request: Request) => a.fetch(request),
    });
    const session = await client.handshake('edge-01');
    const records = sessionRecords(session);
    expect(text(await records.request(utf8('one')))).toBe('one');
    await redis().sendCommand(['DEL', `${prefix}records:${session.sessionId}`]);
    for (const target of [a, b]) {
      const response = await target.fetch(
        new Request(`${ORIGIN}/api/keyex/edge-01/sessions/${session.sessionId}/records`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body: records.seal(utf8('two')) as BodyInit,
        }),
      );
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: string }).error).toBe('unknown_session');
    }
    a.close();
    b.close();
  });
});

describe('the recordState option', () => {
  test('is refused without a shared session store, or without its methods', () => {
    const stores = createRedisStores({
      client: redis(),
      fieldKey: FIELD_KEY,
      keyPrefix: testPrefix(),
    });
    expect(() =>
      createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, recordState: stores.recordState }),
    ).toThrow(TypeError);
    expect(() =>
      createResponder({
        fieldKey: FIELD_KEY,
        machines: MACHINES,
        sessionStore: stores.sessionStore,
        recordState: { ...stores.recordState, admit: undefined } as never,
      }),
    ).toThrow(TypeError);
  });

  test("an app's own session of a shared channel works through the asynchronous calls only", async () => {
    const { a, b, client } = twoInstances();
    const session = await client.handshake('edge-01');
    const live = await b.recordSession(session.sessionId);
    expect(live).toBeDefined();
    await expectCodeAsync(
      Promise.resolve().then(() => live?.seal(utf8('x'))),
      'store_error',
    );
    const sealed = await live?.sealAsync(utf8('from the app'));
    expect(sealed).toBeInstanceOf(Uint8Array);
    expect(text(sessionRecords(session).open(sealed as Uint8Array))).toBe('from the app');
    a.close();
    b.close();
  });
});
