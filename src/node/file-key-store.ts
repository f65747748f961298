/**
 * A {@link KeyStore} on the local file system: one JSON file per machine, so fingerprints survive
 * restarts (spec §2.1: "from then on always serves the same key").
 *
 * Writes are atomic and first-writer-wins across processes (`atomic-file.ts`): the record is
 * written to a temporary file in the same directory (mode 0600, flushed with fsync), then
 * hard-linked to its final name, which fails if that name exists. A reader therefore sees either
 * no file or a complete one, and two processes generating a machine's first key concurrently end
 * with one of the two keys stored and both serving it. The directory is created with mode 0700;
 * an existing one open to group or others, or owned by another user, is refused (`store_error`)
 * before anything is written or listed. Its `slugs()` lists the slugs that have a key
 * (`serve --auto-provision` counts from it).
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
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ZeqKeyExError } from '../core/errors.js';
import { assertSlug, isSlug } from '../core/identifiers.js';
import { type KeyStore, type StoredKey, copyStoredKey, isStoredKey } from '../responder/stores.js';
import { makePrivateDirectory, readJsonFile, writeJsonFile } from './atomic-file.js';

function fileName(slug: string): string {
  return `${slug.replace(/[A-Z]/g, (letter) => `+${letter.toLowerCase()}`)}.json`;
}

/** The slug a key file's name stands for, or `undefined` for any other name. */
function slugOf(name: string): string | undefined {
  if (!name.endsWith('.json')) return undefined;
  const slug = name
    .slice(0, -'.json'.length)
    .replace(/\+([a-z])/g, (_, letter: string) => letter.toUpperCase());
  return isSlug(slug) && fileName(slug) === name ? slug : undefined;
}

/**
 * Creates a key store that keeps one JSON file per slug in `dir`.
 * @param dir - the directory; created (mode 0700) on the first write if it does not exist.
 * @returns the store, which can also list the slugs it holds a key for.
 * @throws {TypeError} when `dir` is not a non-empty string.
 * @example
 * ```ts
 * import { createFileKeyStore } from 'zeq-keyex/node';
 * const responder = createResponder({ fieldKey, machines, keyStore: createFileKeyStore('/var/lib/zeq-keyex') });
 * ```
 */
export function createFileKeyStore(dir: string): KeyStore & {
  /**
   * The slugs with a key file in the directory (by file name; the files are not opened).
   * @returns the slugs, sorted. The directory is made (mode 0700) if it does not exist yet.
   * @throws {ZeqKeyExError} `store_error` when the directory cannot be read, or is open to group
   *   or others.
   */
  slugs(): Promise<string[]>;
} {
  if (typeof dir !== 'string' || dir.length === 0)
    throw new TypeError('dir must be a non-empty path');
  const root = resolve(dir);
  let ready: Promise<void> | undefined;

  function ensureDirectory(): Promise<void> {
    ready ??= makePrivateDirectory(root, 'the key store directory').catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  }

  async function read(slug: string): Promise<StoredKey | undefined> {
    const name = fileName(slug);
    const file = await readJsonFile(join(root, name), `key file ${name}`);
    if (file === undefined) return undefined;
    if (!isStoredKey(file.value))
      throw new ZeqKeyExError('store_error', `key file ${name} is not a stored key`);
    return copyStoredKey(file.value);
  }

  return {
    async get(slug: string): Promise<StoredKey | undefined> {
      assertSlug(slug);
      return read(slug);
    },
    async putIfAbsent(key: StoredKey): Promise<StoredKey> {
      if (!isStoredKey(key))
        throw new TypeError('putIfAbsent expects a StoredKey of string fields');
      assertSlug(key.slug);
      const record = copyStoredKey(key);
      await ensureDirectory();
      const name = fileName(record.slug);
      const written = await writeJsonFile(join(root, name), record, 'create', `key file ${name}`);
      if (!written) {
        // Another writer was first: its key is the machine's key.
        const existing = await read(record.slug);
        if (existing === undefined)
          throw new ZeqKeyExError('store_error', `key file ${name} vanished while being read`);
        return existing;
      }
      return record;
    },
    async slugs(): Promise<string[]> {
      await ensureDirectory();
      let entries;
      try {
        entries = await readdir(root, { withFileTypes: true });
      } catch (cause) {
        throw new ZeqKeyExError('store_error', 'the key store directory could not be read', {
          cause,
        });
      }
      const slugs: string[] = [];
      for (const entry of entries) {
        const slug = entry.isFile() ? slugOf(entry.name) : undefined;
        if (slug !== undefined) slugs.push(slug);
      }
      return slugs.sort();
    },
  };
}
