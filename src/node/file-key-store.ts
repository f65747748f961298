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
 *
 * The same directory keeps what identity pins and key rotation need (spec §8), in files whose
 * names are no slug's (so `slugs()` never lists them, and stores written before them stay
 * readable): `_identity.json`, the deployment's identity key (sealed seed, first writer wins);
 * `_serials.json`, the highest serial signed per identity and slug (read, raised and rewritten
 * under a lock file); and `<slug file>.retired`, a rotated machine's previous key with the end of
 * its grace period. A rotation writes the retired key first and then the new key (each atomic,
 * under the slug's lock), so a crash in between leaves the old key served and nothing lost.
 * @module
 */
import { readdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ZeqKeyExError } from '../core/errors.js';
import { assertSlug, isSlug } from '../core/identifiers.js';
import {
  type IdentityStore,
  type StoredIdentity,
  copyStoredIdentity,
  isSerial,
  isStoredIdentity,
} from '../responder/identity-store.js';
import {
  type KeyStore,
  type RetiredKey,
  type StoredKey,
  copyStoredKey,
  isRetiredKey,
  isStoredKey,
} from '../responder/stores.js';
import { isJsonObject } from '../core/json.js';
import { makePrivateDirectory, readJsonFile, withFileLock, writeJsonFile } from './atomic-file.js';

/** The identity file: its name is no slug's (a slug starts with a letter or digit). */
const IDENTITY_FILE = '_identity.json';
/** The highest serial signed per identity and slug. */
const SERIALS_FILE = '_serials.json';

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
export function createFileKeyStore(dir: string): KeyStore &
  Required<Pick<KeyStore, 'replace' | 'getRetired' | 'deleteRetired'>> &
  IdentityStore & {
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

  function retiredName(slug: string): string {
    return `${fileName(slug)}.retired`;
  }

  async function readRetired(slug: string): Promise<RetiredKey | undefined> {
    const name = retiredName(slug);
    const file = await readJsonFile(join(root, name), `retired key file ${name}`);
    if (file === undefined) return undefined;
    if (!isRetiredKey(file.value))
      throw new ZeqKeyExError('store_error', `retired key file ${name} is not a retired key`);
    return Object.freeze({ key: copyStoredKey(file.value.key), until: file.value.until });
  }

  function locked<T>(name: string, task: () => Promise<T>): Promise<T> {
    return withFileLock(join(root, `.${name}.lock`), `the file ${name}`, task);
  }

  async function readSerials(): Promise<Record<string, number>> {
    const file = await readJsonFile(join(root, SERIALS_FILE), `the file ${SERIALS_FILE}`);
    if (file === undefined) return {};
    const value = file.value;
    if (!isJsonObject(value) || !Object.values(value).every(isSerial))
      throw new ZeqKeyExError('store_error', `the file ${SERIALS_FILE} is not a serial table`);
    return value as Record<string, number>;
  }

  async function readIdentity(): Promise<StoredIdentity | undefined> {
    const file = await readJsonFile(join(root, IDENTITY_FILE), `the file ${IDENTITY_FILE}`);
    if (file === undefined) return undefined;
    if (!isStoredIdentity(file.value))
      throw new ZeqKeyExError('store_error', `the file ${IDENTITY_FILE} is not a stored identity`);
    return copyStoredIdentity(file.value);
  }

  return {
    async get(slug: string): Promise<StoredKey | undefined> {
      assertSlug(slug);
      return read(slug);
    },
    async replace(previous: StoredKey, next: StoredKey, retiredUntil: number): Promise<boolean> {
      if (!isStoredKey(previous) || !isStoredKey(next) || previous.slug !== next.slug)
        throw new TypeError('replace expects two StoredKeys of one slug');
      assertSlug(next.slug);
      await ensureDirectory();
      const name = fileName(next.slug);
      return locked(name, async () => {
        const current = await read(next.slug);
        if (current?.publicKey !== previous.publicKey) return false;
        // The retired key first: a crash before the second write leaves the old key served.
        await writeJsonFile(
          join(root, retiredName(next.slug)),
          { key: current, until: retiredUntil },
          'replace',
          `retired key file ${retiredName(next.slug)}`,
        );
        await writeJsonFile(join(root, name), copyStoredKey(next), 'replace', `key file ${name}`);
        return true;
      });
    },
    async getRetired(slug: string): Promise<RetiredKey | undefined> {
      assertSlug(slug);
      return readRetired(slug);
    },
    async deleteRetired(slug: string, publicKey: string): Promise<void> {
      assertSlug(slug);
      await ensureDirectory();
      const name = retiredName(slug);
      await locked(fileName(slug), async () => {
        const retired = await readRetired(slug);
        if (retired?.key.publicKey !== publicKey) return;
        try {
          await unlink(join(root, name));
        } catch (cause) {
          throw new ZeqKeyExError('store_error', `retired key file ${name} could not be deleted`, {
            cause,
          });
        }
      });
    },
    async getIdentity(): Promise<StoredIdentity | undefined> {
      return readIdentity();
    },
    async putIdentityIfAbsent(identity: StoredIdentity): Promise<StoredIdentity> {
      if (!isStoredIdentity(identity))
        throw new TypeError('putIdentityIfAbsent expects a StoredIdentity');
      await ensureDirectory();
      const record = copyStoredIdentity(identity);
      const written = await writeJsonFile(
        join(root, IDENTITY_FILE),
        record,
        'create',
        `the file ${IDENTITY_FILE}`,
      );
      if (written) return record;
      const existing = await readIdentity();
      if (existing === undefined)
        throw new ZeqKeyExError('store_error', `the file ${IDENTITY_FILE} vanished while read`);
      return existing;
    },
    async getSerial(slug: string, identity: string): Promise<number | undefined> {
      return (await readSerials())[`${identity}/${slug}`];
    },
    async raiseSerial(slug: string, identity: string, serial: number): Promise<number> {
      if (!isSerial(serial)) throw new TypeError('a serial is an integer in [0, 2^53 - 1]');
      assertSlug(slug);
      await ensureDirectory();
      return locked(SERIALS_FILE, async () => {
        const serials = await readSerials();
        const key = `${identity}/${slug}`;
        const kept = serials[key];
        if (kept !== undefined && kept >= serial) return kept;
        await writeJsonFile(
          join(root, SERIALS_FILE),
          { ...serials, [key]: serial },
          'replace',
          `the file ${SERIALS_FILE}`,
        );
        return serial;
      });
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
