/**
 * Keeps `docs/errors.md` exhaustive: its table of SDK codes lists exactly the codes of
 * `ERROR_CODES`, each with the same description.
 */
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { ERROR_CODES } from '../src/core/errors.js';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

function tableRows(heading: string): Map<string, string[]> {
  const start = doc.indexOf(`## ${heading}`);
  expect(start, `docs/errors.md has a "## ${heading}" section`).toBeGreaterThanOrEqual(0);
  const section = doc.slice(start).split(/\n## /)[0] as string;
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const match = /^\| `([a-z_]+)` \|(.*)\|\s*$/.exec(line);
    if (match !== null)
      rows.set(
        match[1] as string,
        (match[2] as string).split('|').map((c) => c.trim()),
      );
  }
  return rows;
}

test('docs/errors.md lists every SDK error code, and only those, with its description', () => {
  const rows = tableRows('SDK error codes');
  expect([...rows.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  for (const [code, description] of Object.entries(ERROR_CODES)) {
    expect(rows.get(code)?.[0], code).toBe(description);
  }
});

test('docs/errors.md lists every wire error code with its status', async () => {
  const { WIRE_ERRORS } = await import('../src/core/constants.js');
  const rows = tableRows('Wire error codes (responder)');
  expect([...rows.keys()].sort()).toEqual(Object.keys(WIRE_ERRORS).sort());
  for (const [code, { status }] of Object.entries(WIRE_ERRORS)) {
    expect(rows.get(code)?.[0], code).toBe(String(status));
  }
});
