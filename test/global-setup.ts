/**
 * Builds the CLI once for the whole Node suite (the process tests spawn it), into a private
 * directory inside the repository so its runtime dependencies resolve from node_modules and a
 * concurrent build of `dist/` cannot pull files from under running processes.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where `cli.js` of this run's build lies. */
    cliBuildDir: string;
  }
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_LIMIT_MS = 60_000;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await mkdir(join(ROOT, '.tmp'), { recursive: true });
  const buildDir = await mkdtemp(join(ROOT, '.tmp', 'cli-build-'));
  const tsup = join(ROOT, 'node_modules', 'tsup', 'dist', 'cli-default.js');
  await promisify(execFile)(
    process.execPath,
    [tsup, '--out-dir', buildDir, '--no-dts', '--silent'],
    { cwd: ROOT, timeout: BUILD_LIMIT_MS },
  );
  project.provide('cliBuildDir', buildDir);
  return async () => {
    await rm(buildDir, { recursive: true, force: true });
  };
}
