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
 * The file is one JSON object: `origin + " " + slug` → fingerprint, as it has always been, and,
 * once an identity-pinned handshake was made with it as `serialStore`, one more member `"serials"`:
 * `origin + " " + slug + " " + identity` → the highest attestation serial accepted (spec §8.2
 * check 7). `"serials"` cannot be a fingerprint's key (those begin with an origin), so files
 * written before serials existed are read as they are.
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

/** The member of the file that holds the attestation serials. */
const SERIALS = 'serials';

/** The file's contents: fingerprints, and the serials apart. */
interface TrustFile {
  fingerprints: Record<string, string>;
  serials: Record<string, number>;
}

function isSerial(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
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

  async function load(): Promise<TrustFile> {
    const file = await readJsonFile(path, 'the trust store file');
    if (file === undefined) return { fingerprints: {}, serials: {} };
    await assertUnshared();
    const data = file.value;
    if (!isJsonObject(data))
      throw new ZeqKeyExError('store_error', 'the trust store file is not a map of fingerprints');
    const { [SERIALS]: serials = {}, ...fingerprints } = data;
    if (!Object.values(fingerprints).every(isFingerprint))
      throw new ZeqKeyExError('store_error', 'the trust store file is not a map of fingerprints');
    if (!isJsonObject(serials) || !Object.values(serials).every(isSerial))
      throw new ZeqKeyExError('store_error', 'the trust store file has malformed serials');
    return {
      fingerprints: fingerprints as Record<string, string>,
      serials: serials as Record<string, number>,
    };
  }

  /** The file's JSON: the fingerprints, then the serials when there are any. */
  function contents(data: TrustFile): Record<string, unknown> {
    return Object.keys(data.serials).length === 0
      ? { ...data.fingerprints }
      : { ...data.fingerprints, [SERIALS]: data.serials };
  }

  /** Reads, decides and writes under the lock, so that no other process writes in between. */
  function update<T>(decide: (data: TrustFile) => { result: T; write: boolean }): Promise<T> {
    return serial(async () => {
      await makePrivateDirectory(directory, 'the trust store directory', 'read');
      return withFileLock(`${path}.lock`, 'the trust store file', async () => {
        const data = await load();
        const { result, write } = decide(data);
        if (write) await writeJsonFile(path, contents(data), 'replace', 'the trust store file');
        return result;
      });
    });
  }

  return {
    get: (key) =>
      serial(async () => {
        const { fingerprints } = await load();
        return Object.hasOwn(fingerprints, key) ? fingerprints[key] : undefined;
      }),
    putIfAbsent: (key, fingerprint) =>
      update((data) => {
        const existing = Object.hasOwn(data.fingerprints, key) ? data.fingerprints[key] : undefined;
        if (existing !== undefined) return { result: existing, write: false };
        data.fingerprints = { ...data.fingerprints, [key]: fingerprint };
        return { result: fingerprint, write: true };
      }),
    raiseSerial: (key, serialNumber) =>
      update((data) => {
        const known = Object.hasOwn(data.serials, key) ? data.serials[key] : undefined;
        if (known !== undefined && known >= serialNumber) return { result: known, write: false };
        data.serials = { ...data.serials, [key]: serialNumber };
        return { result: serialNumber, write: true };
      }),
  };
}
