/**
 * Loads test vectors from `test/vectors/` (copies with provenance; see its README) and refuses a
 * file that is empty or whose case count changed, so a truncated copy cannot pass silently.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../vectors/', import.meta.url));

/** Reads a vector file as text (gunzipping `.gz`). */
export function readVectorText(path: string): string {
  const raw = readFileSync(root + path);
  const text = path.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  if (text.trim().length === 0) throw new Error(`vector file ${path} is empty`);
  return text;
}

/** Reads a JSON vector file. */
export function readVectorJson<T>(path: string): T {
  return JSON.parse(readVectorText(path)) as T;
}

/**
 * Asserts a list of cases has exactly the expected length and returns it.
 * @param name - for the error message.
 * @param cases - the cases.
 * @param expected - the count the copy was taken with.
 */
export function expectCount<T>(name: string, cases: readonly T[] | undefined, expected: number): readonly T[] {
  if (cases === undefined || cases.length !== expected) {
    throw new Error(`${name}: expected ${expected} cases, found ${cases?.length ?? 'none'}`);
  }
  return cases;
}

/** Hex to bytes (test-side helper, accepts either case). */
export function hex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Bytes to lowercase hex (test-side helper). */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
