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
 * Caveats:
 * - Every failure is a `store_error` naming the file (`what`), with the file system's error as
 *   its `cause`. A file that is not valid JSON is one too; it is never overwritten here.
 * - `'create'` needs hard links (local file systems have them; some network or FAT volumes do not,
 *   and writes there fail with `store_error`).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
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
 * Creates a directory and its parents (mode 0700) unless it exists.
 * @param dir - the directory.
 * @param what - names it in the error, e.g. `'the key store directory'`.
 * @throws {ZeqKeyExError} `store_error` when it cannot be created.
 */
export async function makePrivateDirectory(dir: string, what: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  } catch (cause) {
    throw new ZeqKeyExError('store_error', `${what} could not be created`, { cause });
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
