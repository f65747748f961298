/**
 * The default build's module graph never reaches `node:*`: the public entries `.`, `./protocol`,
 * `./mode-b` and `./responder`, bundled from source for the browser by esbuild as a web app's bundler would,
 * contain no `node:` import and no module of `src/node/`. The Node build swaps in
 * `src/backends/platform.node.ts` through the `node` export condition only (tsup.config.ts); the packed
 * package is bundled the same way by `npm run test:runtimes`.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test.each(['src/index.ts', 'src/protocol.ts', 'src/mode-b.ts', 'src/responder.ts'])(
  '%s bundled for the browser reaches no node:* module',
  async (entry) => {
    const result = await build({
      absWorkingDir: ROOT,
      entryPoints: [entry],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((p) => p.startsWith('src/node/'))).toEqual([]);
    expect(inputs).toContain('src/backends/platform.ts');
    expect(inputs).toContain('src/backends/webcrypto-kem.ts');
    const imports = Object.values(result.metafile.inputs).flatMap((i) =>
      i.imports.map((x) => x.path),
    );
    expect(imports.filter((p) => p.startsWith('node:'))).toEqual([]);
    const code = result.outputFiles.map((f) => f.text).join('\n');
    expect(code).not.toMatch(/node:crypto|createCipheriv/);
  },
);
