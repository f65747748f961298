/**
 * `zeq-keyex/redis` on Valkey: the stores use only commands and Lua that Redis 7 and Valkey share,
 * and the contract suites (`store-contract-*.test.ts`) and shared records (`redis-records.test.ts`)
 * run on both. Here, what two responder instances on one Valkey must do together: one key pair
 * for 100 concurrent first requests split across both, a handshake replayed through the other
 * refused, and a session made through one serving records through the other.
 */
import { describe, expect, test } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { sessionRecords } from '../src/initiator/records.js';
import { createRedisKeyStore, createRedisStores } from '../src/redis.js';
import { type Responder, createResponder } from '../src/responder.js';
import { text, utf8 } from './helpers/records.js';
import { testPrefix, useValkey } from './helpers/redis.js';
import {
  FIELD_KEY,
  ORIGIN,
  clientHandshake,
  fetchKeyDoc,
  jsonRequest,
} from './helpers/responder.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };
const valkey = useValkey();

/** A responder instance whose every store is on this run's Valkey, under `prefix`. */
function instance(prefix: string): Responder {
  const stores = createRedisStores({ client: valkey(), fieldKey: FIELD_KEY, keyPrefix: prefix });
  return createResponder({
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    keyStore: stores.keyStore,
    sessionStore: stores.sessionStore,
    replayMemory: stores.replayMemory,
    seedStore: stores.seedStore,
    recordState: stores.recordState,
    onRecord: (plaintext) => plaintext,
    rateLimits: false,
  });
}

describe('two instances on one Valkey', () => {
  test('is Valkey, not Redis', async () => {
    const info = (await valkey().sendCommand(['INFO', 'server'])) as string;
    expect(info).toMatch(/^valkey_version:\d+\./m);
  });

  test('100 concurrent first key requests split across both make one key pair', async () => {
    const prefix = testPrefix();
    const [a, b] = [instance(prefix), instance(prefix)];
    const docs = await Promise.all(
      Array.from({ length: 100 }, (_, i) => fetchKeyDoc((i % 2 === 0 ? a : b).fetch, 'edge-01')),
    );
    expect(new Set(docs.map((doc) => doc.fingerprint)).size).toBe(1);
    expect(await createRedisKeyStore(valkey(), { keyPrefix: prefix }).slugs()).toEqual(['edge-01']);
    a.close();
    b.close();
  });

  test('a handshake through one is replayed through the other: refused', async () => {
    const prefix = testPrefix();
    const [a, b] = [instance(prefix), instance(prefix)];
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

  test('a session made through one serves records through the other', async () => {
    const prefix = testPrefix();
    const [a, b] = [instance(prefix), instance(prefix)];
    let turn = 0;
    const client = createClient({
      origin: ORIGIN,
      insecureUnpinned: true,
      retry: 0,
      fetch: (request: Request) => (turn++ % 2 === 0 ? a : b).fetch(request),
    });
    const records = sessionRecords(await client.handshake('edge-01'));
    for (let i = 0; i < 6; i++) expect(text(await records.request(utf8(`v${i}`)))).toBe(`v${i}`);
    a.close();
    b.close();
  });
});
