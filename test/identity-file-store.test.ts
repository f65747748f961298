/**
 * The file trust store keeps attestation serials (spec §8.2 check 7) beside the fingerprints,
 * and reads files written before serials existed as they are.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createFileTrustStore } from '../src/node/file-trust-store.js';
import { serialKey } from '../src/initiator/trust.js';
import { expectCodeAsync } from './helpers/errors.js';

const FP = 'ab'.repeat(32);
const KEY = serialKey('https://edge.test', 'edge-01', 'cd'.repeat(32));
let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zeq-serials-'));
  path = join(dir, 'trust.json');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a file of fingerprints only (the old format) is read, and serials are added beside them', async () => {
  await writeFile(path, JSON.stringify({ 'https://edge.test edge-01': FP }), { mode: 0o600 });
  const store = createFileTrustStore(path);
  expect(await store.get('https://edge.test edge-01')).toBe(FP);
  expect(await store.raiseSerial?.(KEY, 10)).toBe(10);
  expect(await store.raiseSerial?.(KEY, 9)).toBe(10);
  // Kept across store objects (and so across runs), with the fingerprints untouched.
  const again = createFileTrustStore(path);
  expect(await again.raiseSerial?.(KEY, 5)).toBe(10);
  expect(await again.raiseSerial?.(KEY, 12)).toBe(12);
  expect(await again.get('https://edge.test edge-01')).toBe(FP);
  expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({
    'https://edge.test edge-01': FP,
    serials: { [KEY]: 12 },
  });
  // A first use is still remembered with serials in the file.
  expect(await again.putIfAbsent('https://edge.test edge-02', FP)).toBe(FP);
  expect(await again.get('https://edge.test edge-02')).toBe(FP);
});

test('malformed serials in the file are a store_error, never a reset', async () => {
  await writeFile(path, JSON.stringify({ serials: { [KEY]: '10' } }), { mode: 0o600 });
  await expectCodeAsync(
    createFileTrustStore(path).raiseSerial?.(KEY, 1) as Promise<number>,
    'store_error',
  );
  await writeFile(path, JSON.stringify({ serials: [] }), { mode: 0o600 });
  await expectCodeAsync(createFileTrustStore(path).get('x'), 'store_error');
  expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ serials: [] });
});
