/**
 * Section 5: memory per idle session. Needs `--expose-gc`.
 *
 * - The memory session store (`createMemorySessionStore`) holding 100 000 sessions, created as the
 *   responder creates them (22-character session id, 32-byte record key, expiry, replay tag; slug
 *   and machine id shared with the configuration): the heap (plus external memory) after a full GC,
 *   minus the same before, divided by the count.
 * - The whole responder: sessions made by real handshake requests through `responder.fetch`, so
 *   everything a session leaves behind counts (the store entry and the record-state registration).
 *   Fewer sessions (each costs a decapsulation); random ciphertexts, which make sessions exactly
 *   like real ones (ML-KEM decapsulation never fails).
 */
import { randomBytes } from 'node:crypto';
import { check } from '../lib.mjs';
import { MACHINE_ID, ORIGIN, SLUG, inProcessPair, loadSdk, resolveBackend } from '../sdk.mjs';

function settle() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function sessionId() {
  return randomBytes(16).toString('base64url');
}

export async function run({ smoke }) {
  check(typeof globalThis.gc === 'function', 'the memory section needs node --expose-gc');
  const sdk = await loadSdk();
  const results = [];

  // The store alone.
  {
    const count = smoke ? 5_000 : 100_000;
    const fingerprint = 'f'.repeat(64);
    const store = sdk.createMemorySessionStore({ maxSessions: count });
    const now = Date.now();
    // Warm the code paths first (with other ids), so compiled code is not counted as session memory.
    const warm = sdk.createMemorySessionStore({ maxSessions: 1000 });
    for (let i = 0; i < 1000; i++) {
      await warm.create(
        {
          sessionId: sessionId(),
          slug: SLUG,
          machineId: MACHINE_ID,
          recordKey: randomBytes(32),
          expiresAt: now + 600_000,
        },
        { fingerprint, cipherTextHash: randomBytes(32) },
      );
    }
    const before = settle();
    for (let i = 0; i < count; i++) {
      const created = await store.create(
        {
          sessionId: sessionId(),
          slug: SLUG,
          machineId: MACHINE_ID,
          recordKey: new Uint8Array(randomBytes(32)),
          expiresAt: now + 600_000,
        },
        { fingerprint, cipherTextHash: new Uint8Array(randomBytes(32)) },
      );
      check(created === 'created', `the store refused session ${i}: ${created}`);
    }
    const after = settle();
    check((await store.get(sessionId())) === undefined, 'an unknown session id was found');
    results.push({
      section: 'memory',
      what: 'memory session store',
      count,
      bytesPerSession: (after - before) / count,
      totalBytes: after - before,
    });
  }

  // The whole responder (default options), through handshakes.
  const { backend } = await resolveBackend(sdk, {});
  {
    const count = smoke ? 100 : 2_000;
    const pair = await inProcessPair(sdk, {}, { responder: { maxSessions: count + 1_000 } });
    const url = `${ORIGIN}/api/keyex/${SLUG}/handshake`;
    const handshake = async () => {
      const body = JSON.stringify({
        cipher_text: randomBytes(1088).toString('base64'),
        fingerprint: pair.doc.fingerprint,
      });
      const response = await pair.responder.fetch(
        new Request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
      );
      check(response.status === 200, `handshake answered ${response.status}`);
      await response.arrayBuffer();
    };
    for (let i = 0; i < 200; i++) await handshake();
    const before = settle();
    for (let i = 0; i < count; i++) await handshake();
    const after = settle();
    results.push({
      section: 'memory',
      what: 'whole responder (handshakes through fetch)',
      backend: `default → ${backend}`,
      count,
      bytesPerSession: (after - before) / count,
      totalBytes: after - before,
    });
    pair.close();
  }
  return results;
}
