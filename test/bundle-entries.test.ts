/**
 * The public entries are closed: every type that an exported signature reaches (a parameter, a
 * return type, a property, an `extends`) is exported from the same entry under its own name, so
 * that TypeDoc documents it and an app can name it; and no third-party type is reachable except
 * where the entry exists for that library (msw's `HttpHandler` in `zeq-keyex/msw`). The README's
 * table of the main entry lists exactly that entry's exports.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Each public entry: its subpath and its source file. */
const ENTRIES: Record<string, string> = {
  'zeq-keyex': 'src/index.ts',
  'zeq-keyex/protocol': 'src/protocol.ts',
  'zeq-keyex/mode-b': 'src/mode-b.ts',
  'zeq-keyex/responder': 'src/responder.ts',
  'zeq-keyex/node': 'src/node.ts',
  'zeq-keyex/msw': 'src/msw.ts',
  'zeq-keyex/redis': 'src/redis.ts',
};

/** Third-party types an entry may show, each with its reason. */
const FOREIGN_ALLOWED: Record<string, readonly string[]> = {
  // The msw entry exists to hand msw handlers to msw users.
  'zeq-keyex/msw': ['HttpHandler'],
};

const config = ts.getParsedCommandLineOfConfigFile(
  `${ROOT}tsconfig.json`,
  {},
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
);
const program = ts.createProgram(
  Object.values(ENTRIES).map((file) => `${ROOT}${file}`),
  config?.options ?? {},
);
const checker = program.getTypeChecker();

const resolved = (symbol: ts.Symbol): ts.Symbol =>
  symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;

/** The names an entry exports. */
function exportsOf(file: string): ts.Symbol[] {
  const source = program.getSourceFile(`${ROOT}${file}`);
  const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source);
  if (moduleSymbol === undefined) throw new Error(`${file} is not a module`);
  return checker.getExportsOfModule(moduleSymbol);
}

/** The parts of a declaration that a user sees: never a function or method body, nor private members. */
function visibleChildren(node: ts.Node): ts.Node[] {
  if (ts.isFunctionLike(node))
    return [
      ...(node.typeParameters ?? []),
      ...node.parameters,
      ...(node.type === undefined ? [] : [node.type]),
    ];
  if (ts.isVariableDeclaration(node) || ts.isPropertyDeclaration(node))
    return node.type === undefined ? [] : [node.type];
  if (ts.isClassDeclaration(node)) {
    const members = node.members.filter(
      (member) =>
        !(
          ts.getCombinedModifierFlags(member) &
          (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)
        ) && !(member.name !== undefined && ts.isPrivateIdentifier(member.name)),
    );
    return [...(node.heritageClauses ?? []), ...members];
  }
  return [...node.getChildren()];
}

/** Every named type reachable from an entry's exports, by where it is declared. */
function reachableTypes(file: string): Map<ts.Symbol, 'sdk' | 'foreign'> {
  const found = new Map<ts.Symbol, 'sdk' | 'foreign'>();
  const pending: ts.Node[] = exportsOf(file).flatMap(
    (symbol) => resolved(symbol).declarations ?? [],
  );
  const seen = new Set<ts.Node>();
  while (pending.length > 0) {
    const node = pending.pop() as ts.Node;
    if (seen.has(node)) continue;
    seen.add(node);
    const name = ts.isTypeReferenceNode(node)
      ? node.typeName
      : ts.isExpressionWithTypeArguments(node)
        ? node.expression
        : undefined;
    const target = name === undefined ? undefined : checker.getSymbolAtLocation(name);
    for (const declaration of target === undefined ? [] : (resolved(target).declarations ?? [])) {
      if (ts.isTypeParameterDeclaration(declaration)) continue;
      const path = declaration.getSourceFile().fileName;
      if (path.startsWith(`${ROOT}src/`)) {
        found.set(resolved(target as ts.Symbol), 'sdk');
        pending.push(declaration);
      } else if (
        !program.isSourceFileDefaultLibrary(declaration.getSourceFile()) &&
        !path.includes('/@types/node/')
      ) {
        found.set(resolved(target as ts.Symbol), 'foreign');
      }
    }
    pending.push(...visibleChildren(node));
  }
  return found;
}

test.each(Object.entries(ENTRIES))(
  '%s exports every SDK type its exports reach, and no foreign type',
  (entry, file) => {
    const exported = new Set(exportsOf(file).map((symbol) => symbol.name));
    const reachable = [...reachableTypes(file)];
    const missing = reachable
      .filter(([symbol, where]) => where === 'sdk' && !exported.has(symbol.name))
      .map(([symbol]) => symbol.name);
    const foreign = reachable
      .filter(
        ([symbol, where]) =>
          where === 'foreign' && !(FOREIGN_ALLOWED[entry] ?? []).includes(symbol.name),
      )
      .map(([symbol]) => symbol.name);
    expect([...new Set(missing)].sort(), 'SDK types reachable but not exported').toEqual([]);
    expect([...new Set(foreign)].sort(), 'third-party types reachable').toEqual([]);
  },
);

test('the README table lists exactly the exports of the main entry', () => {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const start = readme.indexOf('## The main entry');
  expect(start, 'README.md has a "## The main entry" section').toBeGreaterThanOrEqual(0);
  const section = readme.slice(start).split(/\n## /)[0] as string;
  const listed = [...section.matchAll(/^\| `([A-Za-z_]+)` \|/gm)].map(
    (match) => match[1] as string,
  );
  expect(listed.sort()).toEqual(
    exportsOf(ENTRIES['zeq-keyex'] as string)
      .map((symbol) => symbol.name)
      .sort(),
  );
});
