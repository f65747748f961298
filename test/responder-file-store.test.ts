/**
 * The Node file key store: atomic first-writer-wins writes, private permissions, keys that survive
 * a restart (same fingerprint), corrupt files refused and never overwritten, a wrong field key
 * refused without touching the file, a directory open to group or others refused. And the file
 * TOFU store shared by several writers (as several processes share it): no first use is lost, and
 * racing first uses of one slug agree.
 */
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ALG } from '../src/core/constants.js';
import { createFileKeyStore } from '../src/node.js';
import { createFileTrustStore } from '../src/node/file-trust-store.js';
import { createResponder } from '../src/responder.js';
import type { StoredKey } from '../src/responder/stores.js';
import { expectCodeAsync } from './helpers/errors.js';
import {
  FIELD_KEY,
  OTHER_FIELD_KEY,
  clientHandshake,
  fetchKeyDoc,
  getRequest,
  recordingLogger,
} from './helpers/responder.js';

const MACHINES = { 'edge-01': 'machine:edge-01', 'Edge-01': 'machine:Edge-01' };
const posix = process.platform !== 'win32';

let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'zeq-keyex-store-'));
  dir = join(root, 'nested', 'keys');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function record(slug: string, publicKey: string): StoredKey {
  return {
    alg: ALG,
    slug,
    machineId: `machine:${slug}`,
    publicKey,
    sealedSecretKey: 'c2VhbGVk',
    createdAt: '2030-01-01T00:00:00.000Z',
  };
}

describe('file key store', () => {
  test('put, get, first writer wins; directory 0700, file 0600, no temporary files left', async () => {
    const store = createFileKeyStore(dir);
    expect(await store.get('edge-01')).toBeUndefined();
    const first = await store.putIfAbsent(record('edge-01', 'AAAA'));
    expect(first.publicKey).toBe('AAAA');
    const bytes = await readFile(join(dir, 'edge-01.json'));
    const second = await store.putIfAbsent(record('edge-01', 'BBBB'));
    expect(second.publicKey).toBe('AAAA');
    expect(await readFile(join(dir, 'edge-01.json'))).toEqual(bytes);
    expect(await store.get('edge-01')).toEqual(record('edge-01', 'AAAA'));
    expect(await readdir(dir)).toEqual(['edge-01.json']);
    if (posix) {
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(dir, 'edge-01.json'))).mode & 0o777).toBe(0o600);
    }
  });

  test('concurrent writers from separate store instances: exactly one record wins for all', async () => {
    const stores = Array.from({ length: 8 }, () => createFileKeyStore(dir));
    const results = await Promise.all(
      stores.map((store, i) => store.putIfAbsent(record('edge-01', `K${i}AA`))),
    );
    expect(new Set(results.map((r) => r.publicKey)).size).toBe(1);
    const onDisk = JSON.parse(await readFile(join(dir, 'edge-01.json'), 'utf8')) as StoredKey;
    expect(onDisk.publicKey).toBe(results[0]?.publicKey);
    expect(await readdir(dir)).toEqual(['edge-01.json']);
  });

  test('slugs that differ only in case get distinct files', async () => {
    const store = createFileKeyStore(dir);
    await store.putIfAbsent(record('edge-01', 'AAAA'));
    await store.putIfAbsent(record('Edge-01', 'BBBB'));
    expect((await store.get('Edge-01'))?.publicKey).toBe('BBBB');
    expect((await store.get('edge-01'))?.publicKey).toBe('AAAA');
    expect((await readdir(dir)).sort()).toEqual(['+edge-01.json', 'edge-01.json']);
  });

  test('slugs(): the slugs with a key file, case kept; other files and directories are not slugs', async () => {
    const store = createFileKeyStore(dir);
    expect(await store.slugs()).toEqual([]);
    await store.putIfAbsent(record('edge-01', 'AAAA'));
    await store.putIfAbsent(record('Edge-01', 'BBBB'));
    await store.putIfAbsent(record('a.b_C', 'CCCC'));
    await mkdir(join(dir, 'mode-b-seeds'));
    await mkdir(join(dir, 'dir.json'));
    for (const name of [
      'notes.txt',
      '.edge-02.json.0123.tmp',
      'Upper.json',
      '+-x.json',
      '++a.json',
    ])
      await writeFile(join(dir, name), '{}');
    expect(await createFileKeyStore(dir).slugs()).toEqual(['Edge-01', 'a.b_C', 'edge-01']);
  });

  test('a corrupt or foreign file is store_error and is never overwritten', async () => {
    const store = createFileKeyStore(dir);
    await store.putIfAbsent(record('edge-01', 'AAAA'));
    const path = join(dir, 'edge-01.json');
    for (const content of ['{"alg":"ML-KEM-768","slug":', '[]', '{"alg":"ML-KEM-768"}', '']) {
      await writeFile(path, content);
      await expectCodeAsync(store.get('edge-01'), 'store_error');
      await expectCodeAsync(store.putIfAbsent(record('edge-01', 'BBBB')), 'store_error');
      expect(await readFile(path, 'utf8')).toBe(content);
    }
    expect(await readdir(dir)).toEqual(['edge-01.json']);
  });

  test('a malformed slug or record is a TypeError', async () => {
    const store = createFileKeyStore(dir);
    await expect(store.get('../etc/passwd')).rejects.toThrow(TypeError);
    await expect(store.putIfAbsent(record('../x', 'AAAA'))).rejects.toThrow(TypeError);
    await expect(store.putIfAbsent({ slug: 'x' } as unknown as StoredKey)).rejects.toThrow(
      TypeError,
    );
    expect(() => createFileKeyStore('')).toThrow(TypeError);
  });

  test('a key path that cannot be read (a directory) is store_error, and is not replaced', async () => {
    const store = createFileKeyStore(dir);
    await mkdir(join(dir, 'edge-01.json'), { recursive: true });
    await expectCodeAsync(store.get('edge-01'), 'store_error');
    await expectCodeAsync(store.putIfAbsent(record('edge-01', 'AAAA')), 'store_error');
    expect((await stat(join(dir, 'edge-01.json'))).isDirectory()).toBe(true);
  });
});

describe.runIf(posix)('a key store directory open to group or others', () => {
  test('is refused (store_error) for writes and listing; nothing is written, the mode is left alone', async () => {
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o755);
    const store = createFileKeyStore(dir);
    await expectCodeAsync(store.putIfAbsent(record('edge-01', 'AAAA')), 'store_error');
    await expectCodeAsync(store.slugs(), 'store_error');
    expect(await readdir(dir)).toEqual([]);
    expect((await stat(dir)).mode & 0o777).toBe(0o755);
    // Narrowed by the operator: served.
    await chmod(dir, 0o700);
    expect((await store.putIfAbsent(record('edge-01', 'AAAA'))).publicKey).toBe('AAAA');
  });

  test('a responder over it answers 503 unavailable and makes no key', async () => {
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o750);
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: createFileKeyStore(dir),
    });
    try {
      const response = await responder.fetch(getRequest('/api/keyex/edge-01/pubkey'));
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: 'unavailable' });
      expect(await readdir(dir)).toEqual([]);
    } finally {
      responder.close();
    }
  });
});

describe('file trust store shared by several writers', () => {
  const fp = (n: number): string => n.toString(16).padStart(2, '0').repeat(32);

  test('separate store instances remembering different slugs at once: every one is kept', async () => {
    const path = join(root, 'trust', 'tofu.json');
    await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        createFileTrustStore(path).putIfAbsent(`http://o|slug-${i}`, fp(i)),
      ),
    );
    const reader = createFileTrustStore(path);
    for (let i = 0; i < 16; i++) expect(await reader.get(`http://o|slug-${i}`)).toBe(fp(i));
    expect(await readdir(join(root, 'trust'))).toEqual(['tofu.json']);
  });

  test('separate store instances racing on one slug with different fingerprints all get the one stored', async () => {
    const path = join(root, 'trust', 'tofu.json');
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        createFileTrustStore(path).putIfAbsent('http://o|edge-01', fp(i)),
      ),
    );
    const stored = await createFileTrustStore(path).get('http://o|edge-01');
    expect(stored).toBeDefined();
    expect(new Set(answers)).toEqual(new Set([stored]));
  });

  test.runIf(posix)(
    'a file or directory others can write to is refused, before it is trusted',
    async () => {
      const trustDir = join(root, 'trust');
      const path = join(trustDir, 'tofu.json');
      await createFileTrustStore(path).putIfAbsent('http://o|edge-01', fp(1));
      await chmod(trustDir, 0o755); // readable by others: fine
      expect(await createFileTrustStore(path).get('http://o|edge-01')).toBe(fp(1));
      await chmod(path, 0o666);
      await expectCodeAsync(createFileTrustStore(path).get('http://o|edge-01'), 'store_error');
      await chmod(path, 0o600);
      await chmod(trustDir, 0o777);
      await expectCodeAsync(createFileTrustStore(path).get('http://o|edge-01'), 'store_error');
      await expectCodeAsync(
        createFileTrustStore(path).putIfAbsent('http://o|edge-02', fp(2)),
        'store_error',
      );
      await chmod(trustDir, 0o700);
      expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ 'http://o|edge-01': fp(1) });
    },
  );
});

describe('responder over a file store', () => {
  test('the key survives a restart: new responder, new store instance, same fingerprint', async () => {
    const before = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: createFileKeyStore(dir),
    });
    const doc = await fetchKeyDoc(before.fetch, 'edge-01');
    before.close();
    const after = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: createFileKeyStore(dir),
    });
    expect(await fetchKeyDoc(after.fetch, 'edge-01')).toEqual(doc);
    const session = await clientHandshake(after.fetch, 'edge-01');
    expect(session.response.fingerprint).toBe(doc.fingerprint);
  });

  test('two responders racing on one directory serve one key', async () => {
    const a = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: createFileKeyStore(dir),
    });
    const b = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: createFileKeyStore(dir),
    });
    const docs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => fetchKeyDoc((i % 2 ? a : b).fetch, 'edge-01')),
    );
    expect(new Set(docs.map((d) => d.fingerprint)).size).toBe(1);
    expect(await readdir(dir)).toEqual(['edge-01.json']);
  });

  test('wrong field key after a restart: the machine is refused, the key file untouched, no new key', async () => {
    const first = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: createFileKeyStore(dir),
    });
    const doc = await fetchKeyDoc(first.fetch, 'edge-01');
    first.close();
    const path = join(dir, 'edge-01.json');
    const bytes = await readFile(path);
    const mtime = (await stat(path)).mtimeMs;

    const logger = recordingLogger();
    const wrong = createResponder({
      fieldKey: OTHER_FIELD_KEY,
      machines: MACHINES,
      keyStore: createFileKeyStore(dir),
      logger,
    });
    const response = await wrong.fetch(getRequest('/api/keyex/edge-01/pubkey'));
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'internal', message: 'internal error' });
    expect(await readFile(path)).toEqual(bytes);
    expect((await stat(path)).mtimeMs).toBe(mtime);
    expect(await readdir(dir)).toEqual(['edge-01.json']);
    expect(logger.lines.some((l) => l.fields?.['reason'] === 'unseal_failed')).toBe(true);

    // The right key still opens it, with the same fingerprint.
    const right = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: createFileKeyStore(dir),
    });
    expect((await fetchKeyDoc(right.fetch, 'edge-01')).fingerprint).toBe(doc.fingerprint);
  });

  test('a corrupt key file: 503 unavailable, the file untouched, no new key', async () => {
    await createFileKeyStore(dir).putIfAbsent(record('edge-01', 'AAAA'));
    const path = join(dir, 'edge-01.json');
    await writeFile(path, 'not json');
    const logger = recordingLogger();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: createFileKeyStore(dir),
      logger,
    });
    const response = await responder.fetch(getRequest('/api/keyex/edge-01/pubkey'));
    expect([response.status, (await response.json()) as unknown]).toMatchObject([
      503,
      { error: 'unavailable' },
    ]);
    expect(response.headers.get('retry-after')).not.toBeNull();
    expect(await readFile(path, 'utf8')).toBe('not json');
    expect(logger.lines.map((l) => l.fields?.['code'])).toEqual(['store_error']);
  });
});
