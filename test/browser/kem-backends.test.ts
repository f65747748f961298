/**
 * The KEM backend suite (test/helpers/kem-backend-suite.ts) in Chromium: Wycheproof, ACVP and
 * protocol vectors through noble and through WebCrypto, which `'auto'` must select here. Then the
 * client and responder on WebCrypto: `session.kemBackend` and `responder.kemBackend()` say so, and
 * records go through noble's AES-GCM (the portable platform). The vector files are fetched from
 * the test server (no file system in the page).
 */
import { expect, test } from 'vitest';
import { aeadBackend } from '../../src/core/primitives.js';
import { loadKem, nobleKem } from '../../src/backends/kem-backend.js';
import {
  KEM_VECTOR_PATHS,
  type KemVectorFiles,
  kemBackendSuite,
} from '../helpers/kem-backend-suite.js';
import { makeClient, makeResponder } from './fixtures.js';
import { sessionRecords } from '../../src/initiator/records.js';

async function load(path: string): Promise<unknown> {
  const response = await fetch(`/test/vectors/${path}`);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

const files = Object.fromEntries(
  await Promise.all(
    Object.entries(KEM_VECTOR_PATHS).map(async ([key, path]) => [key, await load(path)] as const),
  ),
) as unknown as KemVectorFiles;
const webcrypto = await loadKem('auto');

test("Chromium's WebCrypto ML-KEM passes the probe and is what 'auto' and 'native' select", async () => {
  expect(navigator.userAgent).toMatch(/Chrome\/\d+/);
  expect(webcrypto.backend).toBe('webcrypto');
  expect(await loadKem('native')).toBe(webcrypto);
  expect(await loadKem('noble')).toBe(nobleKem);
  expect(aeadBackend()).toBe('noble');
});

test('first contact on WebCrypto at both ends; records cross', async () => {
  const responder = makeResponder({
    kem: 'native',
    onRecord: (plaintext) => plaintext.slice().reverse(),
  });
  expect(await responder.kemBackend()).toBe('webcrypto');
  const pin = (await responder.keyDocument('edge-01')).fingerprint;
  for (const kem of ['native', 'auto', 'noble'] as const) {
    const session = await makeClient(responder.fetch, { pins: { 'edge-01': pin }, kem }).handshake(
      'edge-01',
    );
    expect(session.kemBackend).toBe(kem === 'noble' ? 'noble' : 'webcrypto');
    const reply = await sessionRecords(session).request(new Uint8Array([1, 2, 3]));
    expect(Array.from(reply)).toEqual([3, 2, 1]);
    session.wipe();
  }
  responder.close();
});

kemBackendSuite(files, [nobleKem, webcrypto]);
