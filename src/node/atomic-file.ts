/**
 * The private, atomic JSON files of the Node stores (`file-key-store.ts`, `file-seed-store.ts`,
 * `file-trust-store.ts`): a reader sees no file or a complete one, never a partial write.
 *
 * A write goes to a temporary file in the same directory (`.NAME.RANDOM.tmp`, created exclusively
 * with mode 0600 whatever the umask, and flushed with fsync), which then takes the final name: by a
 * hard link, which fails if the name exists (`'create'`: first writer wins, across processes), or
 * by a rename over it (`'replace'`: last writer wins). The temporary file is removed on every path,
 * and the directory is synced afterwards (best effort) so that the new name survives a crash.
 *
 * Directories are checked as well as made ({@link makePrivateDirectory}): on POSIX systems a store
 * directory accessible by group or others, or owned by another user, is refused with a
 * `store_error` (never used, never "fixed" by a chmod here): its files name the machines or
 * origins served, and whoever can write to it can delete or swap a file. The TOFU file's directory
 * may be a shared one (a home directory), so there only write access by group or others is refused.
 *
 * A lock file ({@link withFileLock}: `NAME.lock`, created exclusively) serialises the
 * read-modify-write of one file across processes. A lock left behind by a process that was killed
 * while holding it (a window of milliseconds) is never broken automatically: after a few seconds of
 * waiting the caller gets a `store_error` naming the lock file, which an operator removes.
 *
 * Caveats:
 * - Every failure is a `store_error` naming the file (`what`), with the file system's error as
 *   its `cause`. A file that is not valid JSON is one too; it is never overwritten here.
 * - `'create'` needs hard links (local file systems have them; some network or FAT volumes do not,
 *   and writes there fail with `store_error`).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ZeqKeyExError } from '../core/errors.js';

/** The mode of every directory made here: usable by its owner only. */
export const PRIVATE_DIRECTORY_MODE = 0o700;
/** The mode of every file written here: readable and writable by its owner only. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * How {@link writeJsonFile} treats an existing file: `'create'` keeps it (first writer wins),
 * `'replace'` replaces it.
 */
export type AtomicWriteMode = 'create' | 'replace';

function errnoCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null
    ? (error as { code?: unknown }).code
    : undefined;
}

/**
 * Who besides the owner may use a store directory: `'none'` (the key and seed stores: mode 0700
 * or narrower), or `'read'` (the TOFU file's directory: no write access for group or others).
 */
export type DirectoryAccess = 'none' | 'read';

/** The mode bits each {@link DirectoryAccess} refuses. */
const REFUSED_BITS: Readonly<Record<DirectoryAccess, number>> = { none: 0o077, read: 0o022 };

/**
 * Creates a directory and its parents (mode 0700) unless it exists, and checks it.
 * @param dir - the directory.
 * @param what - names it in the error, e.g. `'the key store directory'`.
 * @param access - what group and others may do in it. @defaultValue 'none'
 * @throws {ZeqKeyExError} `store_error` when it cannot be created, or is refused by
 *   {@link assertPrivateDirectory}.
 */
export async function makePrivateDirectory(
  dir: string,
  what: string,
  access: DirectoryAccess = 'none',
): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  } catch (cause) {
    throw new ZeqKeyExError('store_error', `${what} could not be created`, { cause });
  }
  await assertPrivateDirectory(dir, what, access);
}

/**
 * Checks that an existing directory is private enough for a store (on POSIX systems; elsewhere
 * only that it is a directory).
 * @param dir - the directory.
 * @param what - names it in the error.
 * @param access - what group and others may do in it. @defaultValue 'none'
 * @throws {ZeqKeyExError} `store_error` when it is not a directory, is owned by another user (not
 *   root), or gives group or others more than `access`.
 */
export async function assertPrivateDirectory(
  dir: string,
  what: string,
  access: DirectoryAccess = 'none',
): Promise<void> {
  let info;
  try {
    info = await stat(dir);
  } catch (cause) {
    throw new ZeqKeyExError('store_error', `${what} could not be read`, { cause });
  }
  if (!info.isDirectory()) throw new ZeqKeyExError('store_error', `${what} is not a directory`);
  if (process.platform === 'win32') return;
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid && info.uid !== 0)
    throw new ZeqKeyExError('store_error', `${what} ${dir} is owned by another user`);
  const mode = info.mode & 0o777;
  if ((mode & REFUSED_BITS[access]) !== 0) {
    const fix = access === 'none' ? 'chmod 700' : 'chmod go-w';
    throw new ZeqKeyExError(
      'store_error',
      `${what} ${dir} has mode 0${mode.toString(8)}, open to group or others; narrow it (${fix})`,
    );
  }
}

/** How long {@link withFileLock} waits for a lock held by someone else. */
const LOCK_WAIT_MS = 5_000;

/**
 * Runs `task` while holding the lock file `lockPath` (created exclusively, mode 0600, holding the
 * process id), waiting for another holder to release it; removes it afterwards on every path.
 * @param lockPath - the lock file, in the same directory as what it protects.
 * @param what - names what is locked in the error, e.g. `'the trust store file'`.
 * @param task - what to do under the lock.
 * @returns what `task` returned.
 * @throws {ZeqKeyExError} `store_error` when the lock cannot be taken, or is still held after a few
 *   seconds (the message names the lock file); whatever `task` throws.
 */
export async function withFileLock<T>(
  lockPath: string,
  what: string,
  task: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let delayMs = 2;
  for (;;) {
    let handle;
    try {
      handle = await open(lockPath, 'wx', PRIVATE_FILE_MODE);
    } catch (cause) {
      if (errnoCode(cause) !== 'EEXIST')
        throw new ZeqKeyExError('store_error', `${what} could not be locked`, { cause });
      if (Date.now() >= deadline)
        throw new ZeqKeyExError(
          'store_error',
          `${what} is locked by another process; if none is running, remove ${lockPath}`,
        );
      await new Promise((resolve) => setTimeout(resolve, delayMs * (1 + Math.random())));
      delayMs = Math.min(delayMs * 2, 50);
      continue;
    }
    try {
      try {
        await handle.writeFile(`${process.pid}\n`, 'utf8');
      } catch (cause) {
        throw new ZeqKeyExError('store_error', `${what} could not be locked`, { cause });
      } finally {
        await handle.close();
      }
      return await task();
    } finally {
      await unlink(lockPath).catch(() => undefined);
    }
  }
}

/**
 * Reads and parses a JSON file that may not exist.
 * @param path - the file.
 * @param what - names it in the error, e.g. `'key file edge-01.json'`.
 * @returns `{ value }` with the parsed JSON (not validated), or `undefined` when there is no such file.
 * @throws {ZeqKeyExError} `store_error` when the file cannot be read or is not valid JSON.
 */
export async function readJsonFile(
  path: string,
  what: string,
): Promise<{ value: unknown } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (errnoCode(cause) === 'ENOENT') return undefined;
    throw new ZeqKeyExError('store_error', `${what} could not be read`, { cause });
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    throw new ZeqKeyExError('store_error', `${what} is not valid JSON`);
  }
}

/**
 * Writes `value` as indented JSON to `path`, atomically and as a private file (mode 0600).
 * @param path - the final file; its directory must exist.
 * @param value - what to write (`JSON.stringify`, two-space indent, a final newline).
 * @param mode - `'create'`: only if `path` does not exist yet; `'replace'`: in any case.
 * @param what - names the file in the error, e.g. `'seed file 3f….json'`.
 * @returns `true` when `path` now holds `value`; `false` when `mode` is `'create'` and `path`
 *   already existed (it is left as it was).
 * @throws {ZeqKeyExError} `store_error` when the file cannot be written (nothing is left behind).
 */
export async function writeJsonFile(
  path: string,
  value: unknown,
  mode: AtomicWriteMode,
  what: string,
): Promise<boolean> {
  const directory = dirname(path);
  const temporaryPath = join(directory, `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  try {
    const handle = await open(temporaryPath, 'wx', PRIVATE_FILE_MODE);
    try {
      await handle.chmod(PRIVATE_FILE_MODE); // the umask may have narrowed it; never widened
      await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (mode === 'replace') {
      await rename(temporaryPath, path);
    } else {
      try {
        await link(temporaryPath, path);
      } catch (cause) {
        if (errnoCode(cause) === 'EEXIST') return false;
        throw cause;
      }
    }
  } catch (cause) {
    throw new ZeqKeyExError('store_error', `${what} could not be written`, { cause });
  } finally {
    // After a link the temporary name goes; after a rename there is none left (ENOENT is ignored).
    await unlink(temporaryPath).catch(() => undefined);
  }
  await syncDirectory(directory);
  return true;
}

/** Makes a new directory entry durable; not every platform can open a directory, which is fine. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort.
  }
}
