/**
 * The atomic JSON files under the Node stores (`src/node/atomic-file.ts`): first-writer-wins and
 * replacing writes, private modes whatever the umask, no temporary file left on any path, and
 * every failure a `store_error`. (The stores' own behaviour is in responder-file-store,
 * modeb-file-seed-store and the client suite's TOFU tests.)
 */
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  makePrivateDirectory,
  readJsonFile,
  withFileLock,
  writeJsonFile,
} from '../src/node/atomic-file.js';
import { expectCodeAsync } from './helpers/errors.js';

const posix = process.platform !== 'win32';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zeq-keyex-atomic-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeJsonFile', () => {
  test("'create': writes indented JSON with a final newline, mode 0600; a second create returns false and changes nothing", async () => {
    const path = join(dir, 'a.json');
    expect(await writeJsonFile(path, { n: 1 }, 'create', 'file a')).toBe(true);
    const bytes = await readFile(path);
    expect(bytes.toString('utf8')).toBe('{\n  "n": 1\n}\n');
    if (posix) expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await writeJsonFile(path, { n: 2 }, 'create', 'file a')).toBe(false);
    expect(await readFile(path)).toEqual(bytes);
    expect(await readdir(dir)).toEqual(['a.json']);
  });

  test("'create' from many writers at once: exactly one wins, the file is complete", async () => {
    const path = join(dir, 'race.json');
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => writeJsonFile(path, { writer: i }, 'create', 'race')),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ writer: winner });
    expect(await readdir(dir)).toEqual(['race.json']);
  });

  test("'replace': the last write wins, no temporary file is left", async () => {
    const path = join(dir, 'b.json');
    expect(await writeJsonFile(path, ['old'], 'replace', 'file b')).toBe(true);
    expect(await writeJsonFile(path, ['new'], 'replace', 'file b')).toBe(true);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(['new']);
    expect(await readdir(dir)).toEqual(['b.json']);
  });

  test('the file is 0600 even under a umask that would narrow it', async () => {
    const previous = process.umask(0o277);
    try {
      expect(await writeJsonFile(join(dir, 'c.json'), 'c', 'create', 'file c')).toBe(true);
      expect(await writeJsonFile(join(dir, 'd.json'), 'd', 'replace', 'file d')).toBe(true);
    } finally {
      process.umask(previous);
    }
    expect(await readFile(join(dir, 'c.json'), 'utf8')).toBe('"c"\n');
    expect(await readFile(join(dir, 'd.json'), 'utf8')).toBe('"d"\n');
    if (posix) {
      expect((await stat(join(dir, 'c.json'))).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, 'd.json'))).mode & 0o777).toBe(0o600);
    }
  });

  test('a write that fails is store_error and leaves nothing behind', async () => {
    // No such directory: the temporary file cannot be made.
    await expectCodeAsync(
      writeJsonFile(join(dir, 'missing', 'e.json'), {}, 'replace', 'file e'),
      'store_error',
    );
    expect(await readdir(dir)).toEqual([]);
    // A non-empty directory in the way of a rename.
    await mkdir(join(dir, 'f.json', 'inside'), { recursive: true });
    await expectCodeAsync(
      writeJsonFile(join(dir, 'f.json'), {}, 'replace', 'file f'),
      'store_error',
    );
    expect(await readdir(dir)).toEqual(['f.json']);
    expect((await stat(join(dir, 'f.json'))).isDirectory()).toBe(true);
    // 'create' treats anything at the name as taken, and leaves it.
    expect(await writeJsonFile(join(dir, 'f.json'), {}, 'create', 'file f')).toBe(false);
    expect(await readdir(dir)).toEqual(['f.json']);
  });
});

describe('readJsonFile', () => {
  test('no file is undefined; a file is its parsed JSON', async () => {
    expect(await readJsonFile(join(dir, 'none.json'), 'none')).toBeUndefined();
    await writeFile(join(dir, 'g.json'), '{"a":[1,"x",null]}');
    expect(await readJsonFile(join(dir, 'g.json'), 'g')).toEqual({ value: { a: [1, 'x', null] } });
    await writeFile(join(dir, 'h.json'), 'null');
    expect(await readJsonFile(join(dir, 'h.json'), 'h')).toEqual({ value: null });
  });

  test('a file that is not JSON, or cannot be read, is store_error and is left alone', async () => {
    for (const text of ['', '{ not json', '{"a":1}{"b":2}']) {
      await writeFile(join(dir, 'bad.json'), text);
      await expectCodeAsync(readJsonFile(join(dir, 'bad.json'), 'bad'), 'store_error');
      expect(await readFile(join(dir, 'bad.json'), 'utf8')).toBe(text);
    }
    await mkdir(join(dir, 'dir.json'));
    await expectCodeAsync(readJsonFile(join(dir, 'dir.json'), 'dir'), 'store_error');
  });
});

describe('makePrivateDirectory', () => {
  test('creates the directory and its parents (0700); an existing one is fine; a file in the way is store_error', async () => {
    const nested = join(dir, 'a', 'b');
    await makePrivateDirectory(nested, 'nested');
    await makePrivateDirectory(nested, 'nested');
    expect((await stat(nested)).isDirectory()).toBe(true);
    if (posix) expect((await stat(nested)).mode & 0o777).toBe(0o700);
    await writeFile(join(dir, 'file'), '');
    await expectCodeAsync(makePrivateDirectory(join(dir, 'file', 'sub'), 'blocked'), 'store_error');
  });
});

describe.runIf(posix)('store directories open to group or others', () => {
  test.each([0o755, 0o750, 0o705, 0o770, 0o701, 0o1777].map((mode) => [mode.toString(8), mode]))(
    "an existing directory of mode 0%s is refused for 'none' (store_error) and left as it was",
    async (_name, mode) => {
      const open = join(dir, 'open');
      await mkdir(open);
      await chmod(open, mode);
      await expectCodeAsync(makePrivateDirectory(open, 'the key store directory'), 'store_error');
      expect((await stat(open)).mode & 0o7777).toBe(mode);
    },
  );

  test("'read' refuses write access by group or others, and allows reading", async () => {
    const shared = join(dir, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o755);
    await makePrivateDirectory(shared, 'the trust store directory', 'read');
    for (const mode of [0o775, 0o757, 0o1777]) {
      await chmod(shared, mode);
      await expectCodeAsync(
        makePrivateDirectory(shared, 'the trust store directory', 'read'),
        'store_error',
      );
    }
  });

  test('0700 and narrower are accepted', async () => {
    for (const mode of [0o700, 0o500]) {
      const own = join(dir, `own-${mode.toString(8)}`);
      await mkdir(own);
      await chmod(own, mode);
      await makePrivateDirectory(own, 'own');
    }
  });
});

describe('withFileLock', () => {
  test('tasks under one lock file never overlap, and the lock is removed after each', async () => {
    const lock = join(dir, 'x.lock');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 12 }, () =>
        withFileLock(lock, 'x', async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((resolve) => setTimeout(resolve, 2));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });

  test('a task that throws releases the lock; a held lock is waited for', async () => {
    const lock = join(dir, 'x.lock');
    await expect(withFileLock(lock, 'x', () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    expect(await readdir(dir)).toEqual([]);
    await writeFile(lock, '1\n');
    let ran = false;
    const waiting = withFileLock(lock, 'x', async () => {
      ran = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(ran).toBe(false);
    await rm(lock);
    await waiting;
    expect(ran).toBe(true);
  });
});
