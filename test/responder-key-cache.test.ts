/**
 * The responder imports each machine's key into its KEM backend once and keeps it (spec §2.3
 * handshakes cost one decapsulation, no key derivation): many handshakes, one import; a restart
 * over the same store, one more. The noble backend's key derivation is counted through the KEM
 * module (`kemKeygen`), which is what importing a seed into noble runs, and its decapsulations
 * through the decapsulator the import keeps (`kemDecapsulator`).
 */
import { describe, expect, test, vi } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { createMemoryKeyStore, createResponder } from '../src/responder.js';
import { FIELD_KEY } from './helpers/responder.js';

const calls = vi.hoisted(() => ({ keygen: 0, decapsulate: 0 }));

vi.mock('../src/core/kem.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/core/kem.js')>();
  return {
    ...actual,
    kemKeygen: (...args: Parameters<typeof actual.kemKeygen>) => {
      calls.keygen++;
      return actual.kemKeygen(...args);
    },
    kemDecapsulator: (...args: Parameters<typeof actual.kemDecapsulator>) => {
      const decapsulator = actual.kemDecapsulator(...args);
      return {
        ...decapsulator,
        decapsulate: (cipherText: Uint8Array) => {
          calls.decapsulate++;
          return decapsulator.decapsulate(cipherText);
        },
      };
    },
  };
});

describe('the responder caches imported machine keys', () => {
  test('ten handshakes: one import, ten decapsulations; a restart imports once more', async () => {
    const keyStore = createMemoryKeyStore();
    const machines = { 'edge-01': 'machine:edge-01' };
    const responder = createResponder({ fieldKey: FIELD_KEY, machines, keyStore, kem: 'noble' });
    const pin = (await responder.keyDocument('edge-01')).fingerprint;
    expect(calls).toEqual({ keygen: 1, decapsulate: 0 });
    const client = createClient({
      origin: 'https://responder.test',
      pins: { 'edge-01': pin },
      retry: 0,
      fetch: responder.fetch,
      kem: 'noble',
    });
    for (let i = 0; i < 10; i++) (await client.handshake('edge-01')).wipe();
    expect(calls).toEqual({ keygen: 1, decapsulate: 10 });
    responder.close();

    const restarted = createResponder({ fieldKey: FIELD_KEY, machines, keyStore, kem: 'noble' });
    const again = createClient({
      origin: 'https://responder.test',
      pins: { 'edge-01': pin },
      retry: 0,
      fetch: restarted.fetch,
      kem: 'noble',
    });
    for (let i = 0; i < 3; i++) (await again.handshake('edge-01')).wipe();
    expect(calls).toEqual({ keygen: 2, decapsulate: 13 });
    restarted.close();
  });
});
