/**
 * A trust-on-first-use store in one JSON file, for Node (spec §6).
 *
 * Writes are atomic (`atomic-file.ts`: a private temporary file in the same directory, fsync,
 * rename) and the file is created with mode 0600. Calls in one process are serialised. An
 * unreadable or corrupt file is a `store_error`: it is never overwritten, since losing remembered
 * fingerprints would silently re-open first use.
 * @module
 */
import { dirname } from 'node:path';
import { ZeqKeyExError } from '../core/errors.js';
import { isFingerprint } from '../core/identifiers.js';
import { isJsonObject } from '../core/json.js';
import type { TrustStore } from '../initiator/trust.js';
import { makePrivateDirectory, readJsonFile, writeJsonFile } from './atomic-file.js';

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

  async function load(): Promise<Record<string, string>> {
    const file = await readJsonFile(path, 'the trust store file');
    if (file === undefined) return {};
    const data = file.value;
    if (!isJsonObject(data) || !Object.values(data).every(isFingerprint)) {
      throw new ZeqKeyExError('store_error', 'the trust store file is not a map of fingerprints');
    }
    return data as Record<string, string>;
  }

  async function save(data: Record<string, string>): Promise<void> {
    await makePrivateDirectory(dirname(path), 'the trust store directory');
    await writeJsonFile(path, data, 'replace', 'the trust store file');
  }

  return {
    get: (key) => serial(async () => (await load())[key]),
    putIfAbsent: (key, fingerprint) =>
      serial(async () => {
        const data = await load();
        const existing = Object.hasOwn(data, key) ? data[key] : undefined;
        if (existing !== undefined) return existing;
        await save({ ...data, [key]: fingerprint });
        return fingerprint;
      }),
  };
}
