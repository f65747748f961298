/**
 * A {@link SeedStore} on the local file system: one JSON file per `(local machine, peer machine)`
 * pair, so Mode-B seeds survive restarts.
 *
 * Writes are atomic: the record is written to a temporary file in the same directory (mode 0600,
 * flushed with fsync), then renamed over the final name, so a reader sees the old record or the
 * new one, never a partial file. Seeding a pair again replaces its file. The directory is created
 * with mode 0700 (again, if it was removed).
 *
 * Caveats:
 * - File names are `hex(SHA-256(LP(local_machine_id) ‖ LP(peer_machine_id))).json`: machine ids may
 *   hold `:` and upper case, which not every file system keeps apart, and two of them may not fit
 *   one file name. Each file names its pair inside; `jq -r '.localMachineId + " " + .peerMachineId'`
 *   lists them.
 * - A file that is not a stored seed, or that names another pair than its name says, is a
 *   `store_error`; an operator repairs or removes it.
 * - Files hold only the sealed seed (spec §5); they are useless without the field key.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { hexEncode, lp } from '../encoding.js';
import { ZeqKeyExError } from '../errors.js';
import { assertMachineId } from '../identifiers.js';
import { sha256 } from '../primitives.js';
import { type SeedStore, type StoredSeed, copyStoredSeed, isStoredSeed } from '../seed-store.js';

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

function fileName(localMachineId: string, peerMachineId: string): string {
  return `${hexEncode(sha256(lp(localMachineId, peerMachineId)))}.json`;
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/**
 * Creates a seed store that keeps one JSON file per machine pair in `dir`.
 * @param dir - the directory; created (mode 0700) on the first write if it does not exist.
 * @returns the store.
 * @throws {TypeError} when `dir` is not a non-empty string.
 * @example
 * ```ts
 * import { createFileKeyStore, createFileSeedStore } from 'zeq-keyex/node';
 * const responder = createResponder({
 *   fieldKey, machines,
 *   keyStore: createFileKeyStore('/var/lib/zeq-keyex/keys'),
 *   seedStore: createFileSeedStore('/var/lib/zeq-keyex/mode-b-seeds'),
 *   admin: createBearerTokenAuthorizer(adminToken),
 * });
 * ```
 */
export function createFileSeedStore(dir: string): SeedStore {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty path');
  const root = resolve(dir);

  async function ensureDirectory(): Promise<void> {
    // On every write (seeds are written rarely), so a directory removed meanwhile is made again.
    try {
      await mkdir(root, { recursive: true, mode: DIR_MODE });
    } catch (cause) {
      throw new ZeqKeyExError('store_error', 'the seed store directory could not be created', { cause });
    }
  }

  async function syncDirectory(): Promise<void> {
    // Makes the rename durable; not every platform can open a directory, which is fine.
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
    async get(localMachineId: string, peerMachineId: string): Promise<StoredSeed | undefined> {
      assertMachineId(localMachineId);
      assertMachineId(peerMachineId);
      const name = fileName(localMachineId, peerMachineId);
      let text: string;
      try {
        text = await readFile(join(root, name), 'utf8');
      } catch (cause) {
        if (errorCode(cause) === 'ENOENT') return undefined;
        throw new ZeqKeyExError('store_error', `seed file ${name} could not be read`, { cause });
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new ZeqKeyExError('store_error', `seed file ${name} is not valid JSON`);
      }
      if (!isStoredSeed(value)) throw new ZeqKeyExError('store_error', `seed file ${name} is not a stored seed`);
      if (value.localMachineId !== localMachineId || value.peerMachineId !== peerMachineId) {
        throw new ZeqKeyExError('store_error', `seed file ${name} belongs to another pair of machines`);
      }
      return copyStoredSeed(value);
    },
    async put(seed: StoredSeed): Promise<void> {
      if (!isStoredSeed(seed)) throw new TypeError('put expects a StoredSeed');
      const record = copyStoredSeed(seed);
      await ensureDirectory();
      const name = fileName(record.localMachineId, record.peerMachineId);
      const temporaryPath = join(root, `.${name}.${randomBytes(8).toString('hex')}.tmp`);
      try {
        const handle = await open(temporaryPath, 'wx', FILE_MODE);
        try {
          await handle.chmod(FILE_MODE); // the umask may have narrowed it; never widened
          await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`, 'utf8');
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(temporaryPath, join(root, name));
      } catch (cause) {
        await unlink(temporaryPath).catch(() => undefined);
        throw new ZeqKeyExError('store_error', `seed file ${name} could not be written`, { cause });
      }
      await syncDirectory();
    },
  };
}
