/**
 * The identity key at rest (spec §5, §8): the identity sealing vector byte for byte, and the
 * identity and serial parts of the memory and file key stores.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { identityKeygen } from '../src/core/attestation.js';
import { base64Decode, base64Encode } from '../src/core/encoding.js';
import {
  deriveSealKey,
  identityAad,
  parseFieldKey,
  sealIdentitySeed,
  sealWithNonce,
  unsealIdentitySeed,
} from '../src/core/sealing.js';
import { createFileKeyStore } from '../src/node/file-key-store.js';
import type { IdentityStore, StoredIdentity } from '../src/responder/identity-store.js';
import { type StoredKey, createMemoryKeyStore } from '../src/responder/stores.js';
import { createRedisKeyStore } from '../src/redis.js';
import { expectCode } from './helpers/errors.js';
import { testPrefix, useRedis, useValkey } from './helpers/redis.js';
import { hex, identitySealingCase as c, toHex } from './helpers/vector-data.js';

describe('the identity sealing vector (spec §5)', () => {
  const sealKey = deriveSealKey(parseFieldKey(c.field_key));
  const identityKey = base64Decode(c.identity_key_b64, 1952);

  test('the vector is an ML-DSA-65 identity seed and its public key', () => {
    expect(c.sig_alg).toBe('ML-DSA-65');
    expect(base64Encode(identityKeygen(hex(c.plaintext)).publicKey)).toBe(c.identity_key_b64);
  });

  test('AAD and sealed bytes are exact; it opens, and only bound to its key', () => {
    expect(toHex(identityAad(identityKey))).toBe(c.aad);
    expect(sealWithNonce(sealKey, hex(c.plaintext), identityAad(identityKey), hex(c.nonce))).toBe(
      c.sealed_b64,
    );
    expect(toHex(unsealIdentitySeed(sealKey, identityKey, c.sealed_b64))).toBe(c.plaintext);
    const otherIdentity = Uint8Array.from(identityKey);
    otherIdentity[0] = (otherIdentity[0] as number) ^ 1;
    expectCode(() => unsealIdentitySeed(sealKey, otherIdentity, c.sealed_b64), 'unseal_failed');
    const otherKey = deriveSealKey(parseFieldKey('00'.repeat(32)));
    expectCode(() => unsealIdentitySeed(otherKey, identityKey, c.sealed_b64), 'unseal_failed');
  });

  test('a fresh seal opens to the seed with a random nonce', () => {
    const sealed = sealIdentitySeed(sealKey, identityKey, hex(c.plaintext));
    expect(sealed).not.toBe(c.sealed_b64);
    expect(toHex(unsealIdentitySeed(sealKey, identityKey, sealed))).toBe(c.plaintext);
  });
});

const identity: StoredIdentity = {
  sigAlg: 'ML-DSA-65',
  identityKey: c.identity_key_b64 as string,
  sealedSeed: c.sealed_b64,
  createdAt: '2026-12-07T00:00:00.000Z',
};

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'zeq-identity-'));
  dirs.push(dir);
  return join(dir, 'store');
}

const redis = useRedis();
const valkey = useValkey();

describe.each([
  ['memory', () => Promise.resolve(createMemoryKeyStore())],
  ['file', async () => createFileKeyStore(await tempDir())],
  ['Redis', () => Promise.resolve(createRedisKeyStore(redis(), { keyPrefix: testPrefix() }))],
  ['Valkey', () => Promise.resolve(createRedisKeyStore(valkey(), { keyPrefix: testPrefix() }))],
] as const)('the %s key store keeps an identity and serials', (_, make) => {
  test('first identity wins; serials only rise', async () => {
    const store: IdentityStore = await make();
    expect(await store.getIdentity()).toBeUndefined();
    expect(await store.putIdentityIfAbsent(identity)).toEqual(identity);
    const other = { ...identity, sealedSeed: 'AAAA' };
    expect(await store.putIdentityIfAbsent(other)).toEqual(identity);
    expect(await store.getIdentity()).toEqual(identity);

    expect(await store.getSerial('edge-01', 'ab'.repeat(32))).toBeUndefined();
    expect(await store.raiseSerial('edge-01', 'ab'.repeat(32), 100)).toBe(100);
    expect(await store.raiseSerial('edge-01', 'ab'.repeat(32), 90)).toBe(100);
    expect(await store.raiseSerial('edge-02', 'ab'.repeat(32), 5)).toBe(5);
    expect(await store.getSerial('edge-01', 'ab'.repeat(32))).toBe(100);
    expect(await store.getSerial('edge-01', 'cd'.repeat(32))).toBeUndefined();
    await expect(store.raiseSerial('edge-01', 'ab'.repeat(32), -1)).rejects.toThrow(TypeError);
  });
});

describe('the file key store', () => {
  test('the identity and serials survive a new store on the same directory; slugs() ignores them', async () => {
    const dir = await tempDir();
    const first = createFileKeyStore(dir);
    await first.putIdentityIfAbsent(identity);
    await first.raiseSerial('edge-01', 'ab'.repeat(32), 1_796_083_200);
    const second = createFileKeyStore(dir);
    expect(await second.getIdentity()).toEqual(identity);
    expect(await second.getSerial('edge-01', 'ab'.repeat(32))).toBe(1_796_083_200);
    expect(await second.slugs()).toEqual([]);
  });

  test('a malformed identity or serial file is a store_error, never overwritten', async () => {
    const dir = await tempDir();
    const store = createFileKeyStore(dir);
    await store.raiseSerial('edge-01', 'ab'.repeat(32), 1);
    await writeFile(join(dir, '_identity.json'), '{"sigAlg":1}');
    await expect(store.getIdentity()).rejects.toMatchObject({ code: 'store_error' });
    await expect(store.putIdentityIfAbsent(identity)).rejects.toMatchObject({
      code: 'store_error',
    });
    expect(await readFile(join(dir, '_identity.json'), 'utf8')).toBe('{"sigAlg":1}');
    await writeFile(join(dir, '_serials.json'), '{"x":-1}');
    await expect(store.raiseSerial('edge-01', 'ab'.repeat(32), 2)).rejects.toMatchObject({
      code: 'store_error',
    });
  });
});

describe.each([
  ['memory', () => Promise.resolve(createMemoryKeyStore())],
  ['file', async () => createFileKeyStore(await tempDir())],
  ['Redis', () => Promise.resolve(createRedisKeyStore(redis(), { keyPrefix: testPrefix() }))],
  ['Valkey', () => Promise.resolve(createRedisKeyStore(valkey(), { keyPrefix: testPrefix() }))],
] as const)('the %s key store rotates a key', (_, make) => {
  // Grace periods that end long after the test (Redis drops a retired key when its grace ends).
  const T = 4_000_000_000_000;
  const key = (publicKey: string): StoredKey => ({
    alg: 'ML-KEM-768',
    slug: 'edge-01',
    machineId: 'machine:edge-01',
    publicKey,
    sealedSecretKey: `sealed-${publicKey}`,
    createdAt: '2026-12-07T00:00:00.000Z',
  });

  test('replace is compare-and-swap and keeps one retired key; deleteRetired only the one named', async () => {
    const store = await make();
    expect(await store.replace(key('AAAA'), key('BBBB'), T + 1000)).toBe(false);
    await store.putIfAbsent(key('AAAA'));
    expect(await store.replace(key('CCCC'), key('BBBB'), T + 1000)).toBe(false);
    expect((await store.get('edge-01'))?.publicKey).toBe('AAAA');
    expect(await store.getRetired('edge-01')).toBeUndefined();
    expect(await store.replace(key('AAAA'), key('BBBB'), T + 1000)).toBe(true);
    expect((await store.get('edge-01'))?.publicKey).toBe('BBBB');
    expect(await store.getRetired('edge-01')).toEqual({ key: key('AAAA'), until: T + 1000 });
    expect(await store.replace(key('BBBB'), key('DDDD'), T + 2000)).toBe(true);
    expect(await store.getRetired('edge-01')).toEqual({ key: key('BBBB'), until: T + 2000 });
    await store.deleteRetired('edge-01', 'AAAA');
    expect((await store.getRetired('edge-01'))?.key.publicKey).toBe('BBBB');
    await store.deleteRetired('edge-01', 'BBBB');
    expect(await store.getRetired('edge-01')).toBeUndefined();
    await expect(
      store.replace(key('DDDD'), { ...key('EEEE'), slug: 'edge-02' }, 1),
    ).rejects.toThrow(TypeError);
  });
});

test('the file store: a retired key file is not a slug, and a malformed one is a store_error', async () => {
  const dir = await tempDir();
  const store = createFileKeyStore(dir);
  const stored = {
    alg: 'ML-KEM-768',
    slug: 'edge-01',
    machineId: 'm',
    publicKey: 'AAAA',
    sealedSecretKey: 's',
    createdAt: 't',
  };
  await store.putIfAbsent(stored);
  await store.replace(stored, { ...stored, publicKey: 'BBBB' }, 5);
  expect(await store.slugs()).toEqual(['edge-01']);
  await writeFile(join(dir, 'edge-01.json.retired'), '{"key":{},"until":1}');
  await expect(store.getRetired('edge-01')).rejects.toMatchObject({ code: 'store_error' });
});
