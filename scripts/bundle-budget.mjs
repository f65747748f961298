#!/usr/bin/env node
/**
 * The bundle budget: what the SDK's own code adds to a web app's bundle.
 *
 * Two apps are bundled for the browser by esbuild, minified, and gzipped (level 9):
 * - the client app (`scripts/bundle-budget/client-app.mjs`): imports `createClient` from
 *   `zeq-keyex` and does one pinned handshake;
 * - the floor (`scripts/bundle-budget/floor-app.mjs`): the same handshake done directly with the
 *   SDK's dependencies (noble and ky), each used the way the SDK uses it.
 * The difference of the two gzipped sizes is the SDK's own code; the budget allows 6 KiB
 * (6144 bytes). Both apps resolve the dependencies from this project's `node_modules`, so they get
 * the same versions. A third app (`scripts/bundle-budget/identity-app.mjs`) does one
 * identity-pinned handshake (spec §8, `zeq-keyex/identity`); what it weighs over the client app,
 * the identity path (ML-DSA-65 and the attestation checks), is reported apart and is not in the
 * budget: an app without identity pins does not ship it.
 *
 * `zeq-keyex` comes from the packed package (`npm pack` of the built `dist/`, unpacked into a
 * scratch directory), resolved as a web bundler resolves it: platform `browser`, so the `default`
 * export condition and never `node`. The run fails if the bundle reaches the Node build anyway.
 *
 * A second check keeps the package tree-shakable: an app that imports only `isZeqKeyExError`
 * must bundle to at most 1 KiB gzip. The build puts the modules every entry shares into one
 * chunk, so a single module-level call that a bundler cannot prove pure would keep the whole
 * chunk, ML-KEM included, in every app that imports anything.
 *
 * X-Wing (spec §9) is loaded by a dynamic `import()` on the first handshake with an X-Wing key,
 * which a web bundler puts in a chunk of its own, loaded on demand. The apps above are bundled
 * with that import left external, as that chunk: it is not in their size. What the chunk weighs
 * is reported beside the budget, not counted in it: an app that accepts X-Wing bundled with the
 * import inlined, minus the same app with it external.
 *
 * To show where the bytes are, the client app is also bundled from `src/` and each source module
 * is listed with its minified size and what it adds to the gzipped bundle (the bundle gzipped
 * with and without that module's code).
 *
 * Usage: `npm run build && node scripts/bundle-budget.mjs [--from=pack|dist] [--json]`
 * - `--from=dist` resolves `zeq-keyex` to this directory's `dist/` instead of a packed copy;
 * - `--json` prints the numbers as one JSON object instead of the report.
 * Exit code 1 when over budget (or not tree-shakable), 2 on a usage or build error.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const APPS = path.join(ROOT, 'scripts', 'bundle-budget');
const NODE_MODULES = path.join(ROOT, 'node_modules');

/** The budget: gzip bytes the SDK's own code may add over the floor. */
const BUDGET_BYTES = 6 * 1024;
/** The most an app importing only `isZeqKeyExError` may weigh, gzip. */
const TREE_SHAKE_LIMIT_BYTES = 1024;

/** Bundling as a web app's bundler would; the same options for every app. */
const BUILD_OPTIONS = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  treeShaking: true,
  legalComments: 'none',
  write: false,
  metafile: true,
  logLevel: 'silent',
  nodePaths: [NODE_MODULES],
};

function parseArgs(argv) {
  const options = { from: 'pack', json: false };
  for (const arg of argv) {
    if (arg === '--json') options.json = true;
    else if (arg === '--from=pack' || arg === '--from=dist')
      options.from = arg.slice('--from='.length);
    else
      throw new UsageError(
        `unknown argument ${arg}; usage: node scripts/bundle-budget.mjs [--from=pack|dist] [--json]`,
      );
  }
  return options;
}

class UsageError extends Error {}

const gzipSize = (bytes) => gzipSync(bytes, { level: 9 }).length;

/**
 * Leaves the SDK's on-demand chunk (X-Wing, `import('./xwing-backend….js')`) external, as a web
 * bundler leaves it in a chunk of its own that an app loads only when it first needs it.
 */
const ON_DEMAND_EXTERNAL = {
  name: 'on-demand-external',
  setup(build) {
    build.onResolve({ filter: /xwing-backend/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined,
    );
  },
};

/** An app that accepts X-Wing as well as ML-KEM-768: what the on-demand chunk is measured with. */
const XWING_APP = `import { createClient } from 'zeq-keyex';
export const connect = (options) => createClient({ ...options, algs: ['ML-KEM-768', 'X-Wing'] });
`;

/**
 * Makes `zeq-keyex` resolvable from a scratch directory: the unpacked tarball, or a link to this
 * directory. Returns the scratch directory and where the package's files are.
 */
async function stagePackage(from, scratch) {
  const target = path.join(scratch, 'node_modules', 'zeq-keyex');
  await fs.mkdir(path.dirname(target), { recursive: true });
  if (from === 'dist') {
    await fs.symlink(ROOT, target, 'dir');
    return { packageDir: ROOT, label: 'dist/ of this checkout' };
  }
  const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', scratch], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (pack.status !== 0) throw new Error(`npm pack failed:\n${pack.stderr}`);
  const [{ filename }] = JSON.parse(pack.stdout);
  await fs.mkdir(target);
  const untar = spawnSync(
    'tar',
    ['-xzf', path.join(scratch, filename), '-C', target, '--strip-components=1'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (untar.status !== 0) throw new Error(`unpacking ${filename} failed:\n${untar.stderr}`);
  return { packageDir: target, label: `packed ${filename}` };
}

/** Bundles an app given as source text, resolving bare imports from `resolveDir`. */
async function bundle(contents, sourcefile, resolveDir, extra = {}) {
  const result = await esbuild.build({
    ...BUILD_OPTIONS,
    plugins: [ON_DEMAND_EXTERNAL],
    ...extra,
    absWorkingDir: resolveDir,
    stdin: { contents, sourcefile, resolveDir, loader: 'js' },
  });
  const [output] = result.outputFiles;
  return {
    code: output.contents,
    metafile: result.metafile,
    min: output.contents.length,
    gzip: gzipSize(output.contents),
  };
}

/** The package an input of a metafile belongs to: `zeq-keyex`, a dependency's name, or `app`. */
function packageOf(input, resolveDir, packageDir) {
  const absolute = path.resolve(resolveDir, input);
  if (
    absolute.startsWith(packageDir + path.sep) &&
    !absolute.slice(packageDir.length).includes(`${path.sep}node_modules${path.sep}`)
  )
    return 'zeq-keyex';
  const parts = absolute.split(`${path.sep}node_modules${path.sep}`);
  if (parts.length < 2) return 'app';
  const rest = (parts.at(-1) ?? '').split(path.sep);
  return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? 'app');
}

/** Minified bytes per package of one bundle. */
function bytesByPackage(metafile, resolveDir, packageDir) {
  const totals = new Map();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = packageOf(input, resolveDir, packageDir);
      totals.set(name, (totals.get(name) ?? 0) + bytesInOutput);
    }
  }
  return totals;
}

/**
 * The client app bundled from `src/` (the portable platform, as the default build has it): the
 * minified bytes of each source module, and what each adds to the gzipped bundle.
 */
async function sourceModules(contents) {
  const alias = { 'zeq-keyex': path.join(ROOT, 'src', 'index.ts') };
  const minified = await bundle(contents, 'client-app.mjs', ROOT, { alias });
  const minBytes = new Map();
  for (const output of Object.values(minified.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs))
      if (input.startsWith('src/')) minBytes.set(input, bytesInOutput);
  }
  // Without whitespace minification esbuild keeps a `// path` line before each module's code.
  const marked = await esbuild.build({
    ...BUILD_OPTIONS,
    minify: false,
    minifySyntax: true,
    minifyIdentifiers: true,
    metafile: false,
    alias,
    plugins: [ON_DEMAND_EXTERNAL],
    absWorkingDir: ROOT,
    stdin: { contents, sourcefile: 'client-app.mjs', resolveDir: ROOT, loader: 'js' },
  });
  const pieces = marked.outputFiles[0].text.split(/^\/\/ (\S+)$/m);
  const modules = [];
  for (let i = 1; i < pieces.length; i += 2)
    modules.push({ input: pieces[i], code: pieces[i + 1] ?? '' });
  const whole = gzipSize(Buffer.from(modules.map((m) => m.code).join('')));
  return modules
    .filter((m) => m.input.startsWith('src/'))
    .map((m) => ({
      module: m.input,
      min: minBytes.get(m.input) ?? 0,
      gzip:
        whole -
        gzipSize(
          Buffer.from(
            modules
              .filter((other) => other !== m)
              .map((other) => other.code)
              .join(''),
          ),
        ),
    }))
    .filter((m) => m.min > 0)
    .sort((a, b) => b.gzip - a.gzip);
}

const num = (n) => n.toLocaleString('en-US');
const pad = (value, width) => String(value).padStart(width);

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(ROOT, 'dist', 'index.js')))
    throw new UsageError('dist/index.js is missing: run `npm run build` first');
  const packageJson = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8'));
  // The real path: esbuild reports inputs by real path, and they are compared with this one.
  const scratch = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'zeq-bundle-budget-')));
  try {
    const { packageDir, label } = await stagePackage(options.from, scratch);
    const clientSource = await fs.readFile(path.join(APPS, 'client-app.mjs'), 'utf8');
    const floorSource = await fs.readFile(path.join(APPS, 'floor-app.mjs'), 'utf8');
    const client = await bundle(clientSource, 'client-app.mjs', scratch);
    const floor = await bundle(floorSource, 'floor-app.mjs', scratch);
    const xwingApp = await bundle(XWING_APP, 'xwing-app.mjs', scratch);
    const xwingInlined = await bundle(XWING_APP, 'xwing-app.mjs', scratch, { plugins: [] });
    const onDemand = {
      min: xwingInlined.min - xwingApp.min,
      gzip: xwingInlined.gzip - xwingApp.gzip,
    };
    // The identity path (zeq-keyex/identity: ML-DSA-65 and the attestation checks), apart.
    const identity = await bundle(
      await fs.readFile(path.join(APPS, 'identity-app.mjs'), 'utf8'),
      'identity-app.mjs',
      scratch,
    );
    const identityPath = { min: identity.min - client.min, gzip: identity.gzip - client.gzip };
    const oneImport = await bundle(
      "import { isZeqKeyExError } from 'zeq-keyex';\nexport const check = isZeqKeyExError;\n",
      'one-import-app.mjs',
      scratch,
    );

    // The browser bundle must come from the default build: no Node build file, no node:* import.
    const clientInputs = Object.keys(client.metafile.inputs).map((input) =>
      path.resolve(scratch, input),
    );
    const nodeBuild = clientInputs.filter(
      (p) =>
        /(?:\.node\.js|chunk-node-[^/]*\.js|[/\\]node\.js)$/.test(p) && p.startsWith(packageDir),
    );
    const nodeImports = Object.values(client.metafile.inputs)
      .flatMap((i) => i.imports.map((x) => x.path))
      .filter((p) => p.startsWith('node:'));
    if (nodeBuild.length > 0 || nodeImports.length > 0)
      throw new Error(
        `the browser bundle reached the Node build: ${[...nodeBuild, ...nodeImports].join(', ')}`,
      );

    const overhead = { min: client.min - floor.min, gzip: client.gzip - floor.gzip };
    const withinBudget = overhead.gzip <= BUDGET_BYTES;
    const treeShakable = oneImport.gzip <= TREE_SHAKE_LIMIT_BYTES;
    const clientPackages = bytesByPackage(client.metafile, scratch, packageDir);
    const floorPackages = bytesByPackage(floor.metafile, scratch, packageDir);
    const modules = await sourceModules(clientSource);

    const summary = {
      package: `${packageJson.name}@${packageJson.version}`,
      from: label,
      esbuild: esbuild.version,
      client: { min: client.min, gzip: client.gzip },
      identity: { min: identity.min, gzip: identity.gzip },
      identityPath,
      floor: { min: floor.min, gzip: floor.gzip },
      overhead,
      onDemand: { xwing: onDemand },
      budget: { gzip: BUDGET_BYTES, within: withinBudget },
      oneImport: { gzip: oneImport.gzip, limit: TREE_SHAKE_LIMIT_BYTES, within: treeShakable },
      packages: Object.fromEntries(
        [...new Set([...clientPackages.keys(), ...floorPackages.keys()])].map((name) => [
          name,
          { client: clientPackages.get(name) ?? 0, floor: floorPackages.get(name) ?? 0 },
        ]),
      ),
      sourceModules: modules,
    };
    if (options.json) {
      console.log(JSON.stringify(summary, null, 2));
    } else {
      const lines = [
        `Bundle budget: ${summary.package} from ${label}; esbuild ${esbuild.version}, platform browser, minified, gzip -9`,
        '',
        `                                minified      gzip`,
        `  client app (SDK)           ${pad(num(client.min), 10)} ${pad(num(client.gzip), 9)}`,
        `  floor (bare dependencies)  ${pad(num(floor.min), 10)} ${pad(num(floor.gzip), 9)}`,
        `  SDK's own code             ${pad(`+${num(overhead.min)}`, 10)} ${pad(`+${num(overhead.gzip)}`, 9)}   budget +${num(BUDGET_BYTES)} gzip: ${
          withinBudget
            ? `within, ${num(BUDGET_BYTES - overhead.gzip)} B to spare`
            : `OVER by ${num(overhead.gzip - BUDGET_BYTES)} B`
        }`,
        `  X-Wing, on demand          ${pad(`+${num(onDemand.min)}`, 10)} ${pad(`+${num(onDemand.gzip)}`, 9)}   a chunk loaded by apps that accept X-Wing, on first use; not in the budget`,
        `  identity app (SDK)         ${pad(num(identity.min), 10)} ${pad(num(identity.gzip), 9)}`,
        `  identity path              ${pad(`+${num(identityPath.min)}`, 10)} ${pad(`+${num(identityPath.gzip)}`, 9)}   zeq-keyex/identity over the client app (ML-DSA-65); not in the budget`,
        '',
        '  minified bytes per package        client app     floor',
        ...Object.entries(summary.packages)
          .sort((a, b) => b[1].client - a[1].client)
          .map(
            ([name, { client: c, floor: f }]) =>
              `  ${name.padEnd(28)} ${pad(num(c), 12)} ${pad(num(f), 9)}`,
          ),
        '',
        '  src/ modules in the client app (bundled from source): minified bytes, and gzip bytes each adds',
        ...modules.map(
          (m) => `  ${m.module.padEnd(28)} ${pad(num(m.min), 12)} ${pad(num(m.gzip), 9)}`,
        ),
        '',
        `  tree-shaking: an app importing only isZeqKeyExError weighs ${num(oneImport.gzip)} B gzip (limit ${num(TREE_SHAKE_LIMIT_BYTES)}): ${treeShakable ? 'ok' : 'FAIL'}`,
        '',
        withinBudget && treeShakable ? 'bundle budget: PASS' : 'bundle budget: FAIL',
      ];
      console.log(lines.join('\n'));
    }
    return withinBudget && treeShakable ? 0 : 1;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof UsageError ? error.message : error);
    process.exitCode = 2;
  },
);
