/**
 * The Node file seed store: atomic replacing writes, private permissions, one file per machine
 * pair, corrupt or misplaced files refused, and seeds that survive a responder restart.
 */
import { copyFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ALG } from '../src/core/constants.js';
import { createFileSeedStore } from '../src/node.js';
import { type StoredSeed, unsealStoredSeed } from '../src/responder/seed-store.js';
import { expectCodeAsync } from './helpers/errors.js';
import {
  FIELD_KEY,
  INITIATE,
  ORIGIN_A,
  ORIGIN_B,
  TOKEN_A,
  adminRequest,
  bearer,
  twoResponders,
} from './helpers/modeb.js';
import { fetchKeyDoc } from './helpers/responder.js';
import { toHex } from './helpers/vectors.js';

const posix = process.platform !== 'win32';
let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'zeq-keyex-seeds-'));
  dir = join(root, 'nested', 'seeds');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function record(local: string, peer: string, commitment = 'ab'.repeat(32)): StoredSeed {
  return {
    alg: ALG,
    role: 'initiator',
    localSlug: 'edge-01',
    localMachineId: local,
    peerMachineId: peer,
    fingerprint: 'cd'.repeat(32),
    seedCommitment: commitment,
    sealedSeed: 'c2VhbGVk',
    createdAt: '2030-01-01T00:00:00.000Z',
  };
}

describe('file seed store', () => {
  test('put, get, replace; directory 0700, file 0600, one file per pair, no temporary files left', async () => {
    const store = createFileSeedStore(dir);
    expect(await store.get('machine:A', 'machine:B')).toBeUndefined();
    await store.put(record('machine:A', 'machine:B'));
    expect(await store.get('machine:A', 'machine:B')).toEqual(record('machine:A', 'machine:B'));
    await store.put(record('machine:A', 'machine:B', 'ef'.repeat(32)));
    expect((await store.get('machine:A', 'machine:B'))?.seedCommitment).toBe('ef'.repeat(32));
    // The reverse pair and a pair differing only in case are other files.
    await store.put(record('machine:B', 'machine:A'));
    await store.put(record('machine:a', 'machine:B'));
    expect((await store.get('machine:A', 'machine:B'))?.seedCommitment).toBe('ef'.repeat(32));
    expect((await store.get('machine:a', 'machine:B'))?.seedCommitment).toBe('ab'.repeat(32));
    const files = await readdir(dir);
    expect(files).toHaveLength(3);
    for (const name of files) expect(name).toMatch(/^[0-9a-f]{64}\.json$/);
    if (posix) {
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      for (const name of files) expect((await stat(join(dir, name))).mode & 0o777).toBe(0o600);
    }
    // A new instance (a restart) reads the same records.
    expect(await createFileSeedStore(dir).get('machine:A', 'machine:B')).toEqual(
      record('machine:A', 'machine:B', 'ef'.repeat(32)),
    );
  });

  test('concurrent writers of one pair leave one complete record', async () => {
    const stores = Array.from({ length: 8 }, () => createFileSeedStore(dir));
    await Promise.all(
      stores.map((s, i) => s.put(record('m-1', 'm-2', i.toString(16).padStart(2, '0').repeat(32)))),
    );
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    const onDisk = JSON.parse(await readFile(join(dir, files[0] as string), 'utf8')) as StoredSeed;
    expect(onDisk.seedCommitment).toMatch(/^(0[0-7]){32}$/);
    expect(await createFileSeedStore(dir).get('m-1', 'm-2')).toEqual(onDisk);
  });

  test('a corrupt file, or one naming another pair, is store_error', async () => {
    const store = createFileSeedStore(dir);
    await store.put(record('m-1', 'm-2'));
    await store.put(record('m-3', 'm-4'));
    const [first] = await readdir(dir);
    const path = join(dir, first as string);
    const saved = await readFile(path, 'utf8');
    for (const content of ['{"alg":', '[]', '{"alg":"ML-KEM-768"}', '']) {
      await writeFile(path, content);
      const [local, peer] = saved.includes('"m-1"') ? ['m-1', 'm-2'] : ['m-3', 'm-4'];
      await expectCodeAsync(store.get(local, peer), 'store_error');
    }
    // A record copied under another pair's name does not pass for that pair.
    await rm(dir, { recursive: true });
    await store.put(record('m-1', 'm-2'));
    await createFileSeedStore(join(root, 'other')).put(record('m-3', 'm-4'));
    const [mine] = await readdir(dir);
    const [theirs] = await readdir(join(root, 'other'));
    await copyFile(join(root, 'other', theirs as string), join(dir, mine as string));
    await expectCodeAsync(store.get('m-1', 'm-2'), 'store_error');
  });

  test('malformed input is a TypeError', async () => {
    const store = createFileSeedStore(dir);
    await expect(store.get('bad id', 'm')).rejects.toThrow(TypeError);
    await expect(
      store.put({ ...record('m-1', 'm-2'), role: 'nobody' } as unknown as StoredSeed),
    ).rejects.toThrow(TypeError);
    await expect(store.put({ ...record('m-1', 'm-2'), seedCommitment: 'x' })).rejects.toThrow(
      TypeError,
    );
    expect(() => createFileSeedStore('')).toThrow(TypeError);
  });

  test('seeds derived by a responder survive its restart and open under the field key', async () => {
    const pair = twoResponders({ extraA: { seedStore: createFileSeedStore(dir) } });
    const pin = (await fetchKeyDoc(pair.b.fetch, 'core-01')).fingerprint;
    const body = {
      local_machine: 'edge-01',
      peer_origin: ORIGIN_B,
      peer_machine: 'core-01',
      expected_fingerprint: pin,
    };
    const response = await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, body, bearer(TOKEN_A)));
    expect(response.status).toBe(200);
    const { seed_commitment: commitment } = (await response.json()) as { seed_commitment: string };
    pair.a.close();
    const stored = await createFileSeedStore(dir).get('machine:edge-01', 'machine:core-01');
    expect(stored?.seedCommitment).toBe(commitment);
    const seed = unsealStoredSeed(FIELD_KEY, stored as StoredSeed);
    expect(seed).toHaveLength(32);
    const files = await readdir(dir);
    expect(await readFile(join(dir, files[0] as string), 'utf8')).not.toContain(toHex(seed));
  });
});
