#!/usr/bin/env node
/**
 * The README's links to the files that ship in the package (docs/*.md, CHANGELOG.md) as absolute
 * links to this version's copy on unpkg, so that they work where the README is read most: on the
 * npm page, which resolves relative links only against a `repository` URL. Run by `npm version`
 * (the `version` script), after the bump: the links follow the version.
 *
 *   node scripts/readme-links.mjs          rewrite README.md (relative links, and links to an older version)
 *   node scripts/readme-links.mjs --check  only say which links are stale; exit 1 if any
 *
 * test/readme-links.test.ts checks the result: every such link names this version and a file the
 * package ships.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = `${ROOT}README.md`;
const { name, version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));

/** Where a shipped file of this version is read: `https://unpkg.com/NAME@VERSION/PATH`. */
export const shippedFileUrl = (path) => `https://unpkg.com/${name}@${version}/${path}`;

/** A Markdown link target to a shipped file: relative (`docs/x.md#a`), or on unpkg at any version. */
const LINK = new RegExp(
  String.raw`\]\((?:https://unpkg\.com/${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}@[^/)]+/)?((?:docs/[\w.-]+\.md|CHANGELOG\.md)(?:#[\w-]*)?)\)`,
  'g',
);

const text = readFileSync(README, 'utf8');
const rewritten = text.replace(LINK, (_, path) => `](${shippedFileUrl(path)})`);
if (process.argv.includes('--check')) {
  if (rewritten !== text) {
    console.error(
      'README.md links to shipped files that are relative or name another version: run `node scripts/readme-links.mjs`',
    );
    process.exit(1);
  }
} else if (rewritten !== text) {
  writeFileSync(README, rewritten);
  console.log(`README.md: links to shipped files now name ${name}@${version}`);
}
