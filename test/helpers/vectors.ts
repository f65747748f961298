/**
 * Loads the large vector files from `test/vectors/` (copies with provenance; see its README) in
 * Node: reads them from disk, gunzipping `.gz`, and refuses an empty file, so a truncated copy
 * cannot pass silently. The protocol vectors and the byte helpers, which need no file system, live
 * in test/helpers/vector-data.ts (re-exported here for the Node-only tests).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

export { expectCount, hex, toHex } from './vector-data.js';

const root = fileURLToPath(new URL('../vectors/', import.meta.url));

/** Reads a vector file as text (gunzipping `.gz`). */
export function readVectorText(path: string): string {
  const raw = readFileSync(root + path);
  const text = path.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  if (text.trim().length === 0) throw new Error(`vector file ${path} is empty`);
  return text;
}

/** Reads a JSON vector file (the caller states the shape it expects). */
export function readVectorJson(path: string): unknown {
  return JSON.parse(readVectorText(path));
}
