/**
 * The README's TypeScript snippets compile as an app would compile them: strict TypeScript with
 * `exactOptionalPropertyTypes` and `noUncheckedIndexedAccess`, `zeq-keyex` and its sub-entries
 * resolved to this repository's sources. A snippet an app developer copies must not fail their
 * build (a README once used `process.env.ZEQ_FIELD_KEY` where a `string` is required).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, test } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The ```ts blocks of a Markdown file, with the line each starts on. */
function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]?.trim() !== '```') end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** Type-checks `files` (virtual paths → source) and returns the diagnostics as text. */
function typeCheck(files: ReadonlyMap<string, string>): string[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: ['node'],
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: true,
    noEmit: true,
    baseUrl: ROOT,
    paths: { 'zeq-keyex': ['src/index.ts'], 'zeq-keyex/*': ['src/*.ts'] },
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, onError, create) => {
    const text = files.get(name);
    return text === undefined
      ? getSourceFile(name, version, onError, create)
      : ts.createSourceFile(name, text, version);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => files.has(name) || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => files.get(name) ?? readFile(name);
  const program = ts.createProgram([...files.keys()], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file !== undefined && files.has(d.file.fileName))
    .map((d) => {
      const { line } = (d.file as ts.SourceFile).getLineAndCharacterOfPosition(d.start ?? 0);
      const where = `${(d.file as ts.SourceFile).fileName}:${line + 1}`;
      return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
}

test("the README's TypeScript snippets compile under strict TypeScript", () => {
  const blocks = tsBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  expect(blocks.length, 'README.md has TypeScript snippets').toBeGreaterThanOrEqual(3);
  // Each snippet is a module of its own (top-level await is allowed in one).
  const files = new Map(
    blocks.map(({ line, code }) => [
      join(ROOT, '.tmp', 'readme-snippets', `README.md-line-${line}.ts`),
      `${code}\nexport {};\n`,
    ]),
  );
  expect(typeCheck(files)).toEqual([]);
}, 60_000);

test('a snippet that breaks strict TypeScript is caught', () => {
  const file = join(ROOT, '.tmp', 'readme-snippets', 'broken.ts');
  const broken = new Map([
    [
      file,
      "import { createResponder } from 'zeq-keyex/responder';\n" +
        "createResponder({ fieldKey: process.env['ZEQ_FIELD_KEY'], machines: {} });\nexport {};\n",
    ],
  ]);
  const diagnostics = typeCheck(broken);
  expect(diagnostics).toHaveLength(1);
  expect(diagnostics[0]).toContain('broken.ts:2');
}, 60_000);
