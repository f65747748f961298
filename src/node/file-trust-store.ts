/**
 * A trust-on-first-use store in one JSON file, for Node (spec §6).
 *
 * Writes are atomic (`atomic-file.ts`: a private temporary file in the same directory, fsync,
 * rename) and the file is created with mode 0600. Calls in one process are serialised, and a
 * first use is remembered under a lock file (`FILE.lock`, `withFileLock`) across processes: two
 * processes remembering different slugs both keep theirs, and two racing on one slug agree on the
 * one fingerprint stored first. An unreadable or corrupt file is a `store_error`: it is never
 * overwritten, since losing remembered fingerprints would silently re-open first use.
 *
 * Security caveat: whoever can replace the file chooses which keys are trusted. A file writable by
 * group or others, or in a directory they can write to (or owned by another user), is refused with
 * `store_error` before it is read; the directory may be readable by others (a home directory).
 * @module
 */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ZeqKeyExError } from '../core/errors.js';
import { isFingerprint } from '../core/identifiers.js';
import { isJsonObject } from '../core/json.js';
import type { TrustStore } from '../initiator/trust.js';
import {
  assertPrivateDirectory,
  makePrivateDirectory,
  readJsonFile,
  withFileLock,
  writeJsonFile,
} from './atomic-file.js';

/**
 * Creates a file-backed TOFU store.
 * @param path - the JSON file (created on first write, with its directory at mode 0700).
 * @returns the store.
 */
export function createFileTrustStore(path: string): TrustStore {
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError('path must be a non-empty string');
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return run;
  };

  const directory = dirname(path);

  /** Refuses a file others could have written (checked after reading: a read file is judged). */
  async function assertUnshared(): Promise<void> {
    await assertPrivateDirectory(directory, 'the trust store directory', 'read');
    let mode: number;
    try {
      mode = (await stat(path)).mode;
    } catch (cause) {
      throw new ZeqKeyExError('store_error', 'the trust store file could not be read', { cause });
    }
    if (process.platform !== 'win32' && (mode & 0o022) !== 0)
      throw new ZeqKeyExError(
        'store_error',
        `the trust store file ${path} is writable by group or others; narrow it (chmod 600)`,
      );
  }

  async function load(): Promise<Record<string, string>> {
    const file = await readJsonFile(path, 'the trust store file');
    if (file === undefined) return {};
    await assertUnshared();
    const data = file.value;
    if (!isJsonObject(data) || !Object.values(data).every(isFingerprint)) {
      throw new ZeqKeyExError('store_error', 'the trust store file is not a map of fingerprints');
    }
    return data as Record<string, string>;
  }

  return {
    get: (key) =>
      serial(async () => {
        const data = await load();
        return Object.hasOwn(data, key) ? data[key] : undefined;
      }),
    putIfAbsent: (key, fingerprint) =>
      serial(async () => {
        await makePrivateDirectory(directory, 'the trust store directory', 'read');
        // Read, decide and write under the lock, so that no other process writes in between.
        return withFileLock(`${path}.lock`, 'the trust store file', async () => {
          const data = await load();
          const existing = Object.hasOwn(data, key) ? data[key] : undefined;
          if (existing !== undefined) return existing;
          await writeJsonFile(
            path,
            { ...data, [key]: fingerprint },
            'replace',
            'the trust store file',
          );
          return fingerprint;
        });
      }),
  };
}
