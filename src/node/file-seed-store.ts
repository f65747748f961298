/**
 * A {@link SeedStore} on the local file system: one JSON file per `(local machine, peer machine)`
 * pair, so Mode-B seeds survive restarts.
 *
 * Writes are atomic (`atomic-file.ts`): the record is written to a temporary file in the same
 * directory (mode 0600, flushed with fsync), then renamed over the final name, so a reader sees
 * the old record or the new one, never a partial file. `put` replaces a pair's file; the Mode-B
 * endpoints decide beforehand whether it may (`seed_conflict`, spec §4.1 revision 2).
 * The directory is created with mode 0700 (again, if it was removed).
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
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { hexEncode, lp } from '../core/encoding.js';
import { ZeqKeyExError } from '../core/errors.js';
import { assertMachineId } from '../core/identifiers.js';
import { sha256 } from '../core/primitives.js';
import {
  type SeedStore,
  type StoredSeed,
  copyStoredSeed,
  isStoredSeed,
} from '../responder/seed-store.js';
import { makePrivateDirectory, readJsonFile, writeJsonFile } from './atomic-file.js';

function fileName(localMachineId: string, peerMachineId: string): string {
  return `${hexEncode(sha256(lp(localMachineId, peerMachineId)))}.json`;
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
  if (typeof dir !== 'string' || dir.length === 0)
    throw new TypeError('dir must be a non-empty path');
  const root = resolve(dir);

  return {
    async get(localMachineId: string, peerMachineId: string): Promise<StoredSeed | undefined> {
      assertMachineId(localMachineId);
      assertMachineId(peerMachineId);
      const name = fileName(localMachineId, peerMachineId);
      const file = await readJsonFile(join(root, name), `seed file ${name}`);
      if (file === undefined) return undefined;
      const { value } = file;
      if (!isStoredSeed(value))
        throw new ZeqKeyExError('store_error', `seed file ${name} is not a stored seed`);
      if (value.localMachineId !== localMachineId || value.peerMachineId !== peerMachineId) {
        throw new ZeqKeyExError(
          'store_error',
          `seed file ${name} belongs to another pair of machines`,
        );
      }
      return copyStoredSeed(value);
    },
    async put(seed: StoredSeed): Promise<void> {
      if (!isStoredSeed(seed)) throw new TypeError('put expects a StoredSeed');
      const record = copyStoredSeed(seed);
      // On every write (seeds are written rarely), so a directory removed meanwhile is made again.
      await makePrivateDirectory(root, 'the seed store directory');
      const name = fileName(record.localMachineId, record.peerMachineId);
      await writeJsonFile(join(root, name), record, 'replace', `seed file ${name}`);
    },
    async list(): Promise<readonly StoredSeed[]> {
      let names: string[];
      try {
        names = await readdir(root);
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw new ZeqKeyExError('store_error', 'the seed store directory cannot be read', {
          cause,
        });
      }
      const seeds: StoredSeed[] = [];
      // Only the store's own file names (64 hex characters): temporary files and others are not seeds.
      for (const name of names.filter((n) => /^[0-9a-f]{64}\.json$/.test(n)).sort()) {
        const file = await readJsonFile(join(root, name), `seed file ${name}`);
        if (file === undefined) continue; // removed meanwhile
        const { value } = file;
        if (!isStoredSeed(value) || fileName(value.localMachineId, value.peerMachineId) !== name)
          throw new ZeqKeyExError(
            'store_error',
            `seed file ${name} is not a stored seed of its pair`,
          );
        seeds.push(copyStoredSeed(value));
      }
      return seeds;
    },
  };
}
