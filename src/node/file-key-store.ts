/**
 * A {@link KeyStore} on the local file system: one JSON file per machine, so fingerprints survive
 * restarts (spec §2.1: "from then on always serves the same key").
 *
 * Writes are atomic and first-writer-wins across processes: the record is written to a temporary
 * file in the same directory (mode 0600, flushed with fsync), then hard-linked to its final name,
 * which fails if that name exists. A reader therefore sees either no file or a complete one, and
 * two processes generating a machine's first key concurrently end with one of the two keys stored
 * and both serving it. The directory is created with mode 0700.
 *
 * Caveats:
 * - A file that cannot be parsed as a stored key is a `store_error`; it is never overwritten (it
 *   may be the only copy of a key that pins in the field depend on). An operator repairs it.
 * - File names are the slug with each upper-case letter written as `+` and its lower-case form
 *   (`Edge-01` → `+edge-01.json`), so slugs that differ only in case stay distinct on
 *   case-insensitive file systems.
 * - The file system must support hard links (local file systems do; some network or FAT volumes
 *   do not, and writes there fail with `store_error`).
 * - Files hold only the sealed form of secret keys (spec §5); they are useless without the field key.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ZeqKeyExError } from '../errors.js';
import { assertSlug } from '../identifiers.js';
import { type KeyStore, type StoredKey, copyStoredKey, isStoredKey } from '../stores.js';

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

function fileName(slug: string): string {
  return `${slug.replace(/[A-Z]/g, (letter) => `+${letter.toLowerCase()}`)}.json`;
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/**
 * Creates a key store that keeps one JSON file per slug in `dir`.
 * @param dir - the directory; created (mode 0700) on the first write if it does not exist.
 * @returns the store.
 * @throws {TypeError} when `dir` is not a non-empty string.
 * @example
 * ```ts
 * import { createFileKeyStore } from 'zeq-keyex/node';
 * const responder = createResponder({ fieldKey, machines, keyStore: createFileKeyStore('/var/lib/zeq-keyex') });
 * ```
 */
export function createFileKeyStore(dir: string): KeyStore {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty path');
  const root = resolve(dir);
  let ready: Promise<void> | undefined;

  function ensureDirectory(): Promise<void> {
    ready ??= mkdir(root, { recursive: true, mode: DIR_MODE }).then(
      () => undefined,
      (cause: unknown) => {
        ready = undefined;
        throw new ZeqKeyExError('store_error', 'the key store directory could not be created', { cause });
      },
    );
    return ready;
  }

  async function read(slug: string): Promise<StoredKey | undefined> {
    const path = join(root, fileName(slug));
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      if (errorCode(cause) === 'ENOENT') return undefined;
      throw new ZeqKeyExError('store_error', `key file ${fileName(slug)} could not be read`, { cause });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ZeqKeyExError('store_error', `key file ${fileName(slug)} is not valid JSON`);
    }
    if (!isStoredKey(value)) throw new ZeqKeyExError('store_error', `key file ${fileName(slug)} is not a stored key`);
    return copyStoredKey(value);
  }

  async function writeTemporary(path: string, data: string): Promise<void> {
    const handle = await open(path, 'wx', FILE_MODE);
    try {
      await handle.chmod(FILE_MODE); // the umask may have narrowed it; never widened
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async function syncDirectory(): Promise<void> {
    // Makes the new link durable; not every platform can open a directory, which is fine.
    try {
      const handle = await open(root, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch {
      // Best effort.
    }
  }

  return {
    async get(slug: string): Promise<StoredKey | undefined> {
      assertSlug(slug);
      return read(slug);
    },
    async putIfAbsent(key: StoredKey): Promise<StoredKey> {
      if (!isStoredKey(key)) throw new TypeError('putIfAbsent expects a StoredKey of string fields');
      assertSlug(key.slug);
      const record = copyStoredKey(key);
      await ensureDirectory();
      const name = fileName(record.slug);
      const finalPath = join(root, name);
      const temporaryPath = join(root, `.${name}.${randomBytes(8).toString('hex')}.tmp`);
      try {
        try {
          await writeTemporary(temporaryPath, `${JSON.stringify(record, null, 2)}\n`);
        } catch (cause) {
          throw new ZeqKeyExError('store_error', `key file ${name} could not be written`, { cause });
        }
        try {
          await link(temporaryPath, finalPath);
        } catch (cause) {
          if (errorCode(cause) !== 'EEXIST') throw new ZeqKeyExError('store_error', `key file ${name} could not be written`, { cause });
          const existing = await read(record.slug);
          if (existing === undefined) throw new ZeqKeyExError('store_error', `key file ${name} vanished while being read`, { cause });
          return existing;
        }
      } finally {
        await unlink(temporaryPath).catch(() => undefined);
      }
      await syncDirectory();
      return record;
    },
  };
}
