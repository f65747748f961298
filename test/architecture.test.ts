/**
 * Keeps `docs/architecture.md` true to the tree, and the tree true to its layers:
 * - the module list of docs/architecture.md names every file under `src/`, and only those;
 * - each layer imports only from the layers below it (the rules are the table below);
 * - ky, msw, redis and `node:*` are each reached through the files named for them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [relative(ROOT, join(dir, entry.name))]
        : [],
  );
}

const files = sourceFiles(SRC).sort();

/** The layer of a source file: its folder under src/, or `entry` for the files directly in src/. */
function layerOf(file: string): string {
  const parts = file.split('/');
  return parts.length === 2 ? 'entry' : (parts[1] as string);
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specifiers: string[] = [];
  for (const match of text.matchAll(
    /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g,
  )) {
    specifiers.push((match[1] ?? match[2] ?? match[3]) as string);
  }
  return specifiers;
}

/** The source file a relative specifier names. */
function target(file: string, specifier: string): string {
  return relative(ROOT, resolve(ROOT, dirname(file), specifier)).replace(/\.js$/, '.ts');
}

/** Which layers each layer may import from (besides itself). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  core: ['backends'],
  backends: ['core'],
  // Test seams: they look inside any layer, and nothing in src/ imports them.
  internal: ['core', 'backends', 'initiator', 'responder'],
  initiator: ['core', 'backends'],
  // The responder is the initiator of a Mode-B seeding (§4.1): it fetches its peer's key document
  // through the initiator's transport.
  responder: ['core', 'backends', 'initiator'],
  // The responder's stores in Redis: they implement the responder's store interfaces.
  redis: ['core', 'backends', 'responder'],
  node: ['core', 'backends', 'initiator', 'responder', 'redis', 'entry'],
  entry: ['core', 'backends', 'initiator', 'responder', 'node', 'redis'],
};

describe('docs/architecture.md', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const listed = [...doc.matchAll(/^\s*[-|]\s*`(src\/[^`]+\.ts)`/gm)].map(
    (match) => match[1] as string,
  );

  test('lists every module under src/, and only those, once each', () => {
    expect([...listed].sort()).toEqual(files);
  });
});

describe('layers', () => {
  test.each(files)('%s imports only from the layers below it', (file) => {
    const layer = layerOf(file);
    const allowed = new Set([layer, ...(ALLOWED[layer] ?? [])]);
    const crossings = importsOf(file)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => target(file, specifier))
      .filter((path) => !allowed.has(layerOf(path)));
    expect(crossings).toEqual([]);
  });

  test('src/internal/ (test seams) is imported by no other module of src/', () => {
    const importers = files.filter(
      (file) =>
        layerOf(file) !== 'internal' &&
        importsOf(file).some(
          (specifier) =>
            specifier.startsWith('.') && layerOf(target(file, specifier)) === 'internal',
        ),
    );
    expect(importers).toEqual([]);
  });

  test('src/internal/testing.ts, which tests shared with the browser import, reaches no Node-only module', () => {
    const reached = new Set<string>();
    const queue = ['src/internal/testing.ts'];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (reached.has(file)) continue;
      reached.add(file);
      for (const specifier of importsOf(file)) {
        expect(specifier, file).not.toMatch(/^node:/);
        if (specifier.startsWith('.')) queue.push(target(file, specifier));
      }
    }
    expect(reached.has('src/backends/platform.node.ts')).toBe(false);
  });

  test('ky, msw, redis and node:* are each imported through their own files only', () => {
    const importers = (pattern: RegExp): string[] =>
      files.filter((file) => importsOf(file).some((specifier) => pattern.test(specifier)));
    expect(importers(/^ky$/)).toEqual(['src/initiator/transport.ts']);
    expect(importers(/^msw(\/|$)/)).toEqual(['src/msw.ts']);
    expect(importers(/^(redis|@redis\/)/)).toEqual(['src/redis/connection.ts']);
    expect(
      importers(/^node:/).filter((file) => layerOf(file) !== 'node' && file !== 'src/node.ts'),
    ).toEqual(['src/backends/platform.node.ts']);
  });
});
