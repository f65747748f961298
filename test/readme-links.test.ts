/**
 * The README reads right on the npm page: npm resolves a relative link only against the
 * `repository` URL, so every link to a file of the package is absolute, to this version's copy on
 * unpkg (`scripts/readme-links.mjs` writes them, and `npm version` reruns it), and names a file
 * the package ships; links within the README name one of its headings.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  files: string[];
  scripts: Record<string, string>;
};

/** Every Markdown link target and image source in `markdown`, outside code blocks. */
function linkTargets(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '');
}

/** The anchor GitHub and npm give a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const targets = linkTargets(readme);
const prefix = `https://unpkg.com/${pkg.name}@${pkg.version}/`;

describe('README links', () => {
  test('the README links to files of the package (it has some)', () => {
    expect(targets.filter((t) => t.startsWith(prefix)).length).toBeGreaterThan(10);
  });

  test('no relative link to a file: each is absolute or an anchor of the README', () => {
    const relative = targets.filter((t) => !/^(https?:|mailto:|#)/.test(t));
    expect(relative).toEqual([]);
  });

  test('links to the package name this version and a file it ships', () => {
    const unpkg = targets.filter((t) => t.startsWith('https://unpkg.com/'));
    for (const target of unpkg) {
      expect(target.startsWith(prefix), target).toBe(true);
      const file = target.slice(prefix.length).replace(/#.*$/, '');
      expect(existsSync(resolve(ROOT, file)), file).toBe(true);
      const shipped = pkg.files.some((f) => file === f || file.startsWith(`${f}/`));
      expect(shipped, `${file} is not in package.json "files"`).toBe(true);
    }
  });

  test('anchors name a heading of the README', () => {
    const headings = new Set(
      readme
        .replace(/^```[\s\S]*?^```/gm, '')
        .split('\n')
        .filter((line) => /^#{1,6} /.test(line))
        .map((line) => anchorOf(line.replace(/^#+ /, ''))),
    );
    for (const target of targets.filter((t) => t.startsWith('#')))
      expect(headings.has(target.slice(1)), target).toBe(true);
  });

  test('the rewriting script finds nothing stale, and `npm version` runs it', () => {
    expect(() =>
      execFileSync(process.execPath, [resolve(ROOT, 'scripts/readme-links.mjs'), '--check'], {
        stdio: 'pipe',
      }),
    ).not.toThrow();
    expect(pkg.scripts['version']).toContain('scripts/readme-links.mjs');
  });
});
