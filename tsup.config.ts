import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Options } from 'tsup';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), 'src');
const PORTABLE_PLATFORM = resolve(SRC, 'backends', 'platform.ts');
const NODE_PLATFORM = resolve(SRC, 'backends', 'platform.node.ts');

/**
 * The Node build swaps the portable platform (`src/backends/platform.ts`: WebCrypto ML-KEM, noble AES-GCM)
 * for the Node one (`src/backends/platform.node.ts`: `node:crypto` ML-KEM and AES-GCM). Every other module
 * is the same source in both builds.
 */
const nodePlatform: NonNullable<Options['esbuildPlugins']>[number] = {
  name: 'zeq-keyex:node-platform',
  setup(build) {
    build.onResolve({ filter: /\/platform\.js$/ }, (args) => {
      const target = resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'));
      return target === PORTABLE_PLATFORM ? { path: NODE_PLATFORM } : undefined;
    });
  },
};

const common: Options = {
  format: ['esm'],
  target: 'es2022',
  // Neutral: `node:*` modules stay external, and only the Node build reaches them.
  platform: 'neutral',
  external: [/^node:/],
  // Keep the `node:` prefix: it names a Node built-in beyond doubt, for Deno and Bun as for bundlers.
  removeNodeProtocol: false,
  sourcemap: true,
  splitting: true,
  treeshake: true,
  // Both builds write to one directory, so it is emptied once, below, not by each build.
  clean: false,
};

/** The entries of the default build, by output name. */
const PORTABLE_ENTRIES = {
  index: 'src/index.ts',
  protocol: 'src/protocol.ts',
  identity: 'src/identity.ts',
  'mode-b': 'src/mode-b.ts',
  responder: 'src/responder.ts',
  msw: 'src/msw.ts',
};

/**
 * Two builds into one directory:
 * - the default build (`import` / `default` conditions: browsers, workers, bundlers for the web):
 *   `index.js`, `protocol.js`, `mode-b.js`, `responder.js`, `msw.js`, and the type declarations of
 *   every entry;
 * - the Node build (`node` condition, which Node, Deno and Bun take): `index.node.js`,
 *   `protocol.node.js`, `mode-b.node.js`, `responder.node.js`, and the Node-only `node.js`,
 *   `redis.js` and `cli.js`, so that everything loaded in Node shares one copy of each module (one
 *   `ZeqKeyExError` class). Every entry whose module graph reaches the platform is in both builds;
 *   `msw.js` imports none of the SDK's modules and is in the default build only.
 */
export default function config(overrides: Options): Options[] {
  rmSync(overrides.outDir ?? 'dist', { recursive: true, force: true });
  return [
    {
      ...common,
      entry: PORTABLE_ENTRIES,
      dts: {
        entry: {
          ...PORTABLE_ENTRIES,
          node: 'src/node.ts',
          redis: 'src/redis.ts',
          cli: 'src/node/bin.ts',
        },
      },
    },
    {
      ...common,
      entry: {
        'index.node': 'src/index.ts',
        'protocol.node': 'src/protocol.ts',
        'identity.node': 'src/identity.ts',
        'mode-b.node': 'src/mode-b.ts',
        'responder.node': 'src/responder.ts',
        node: 'src/node.ts',
        redis: 'src/redis.ts',
        cli: 'src/node/bin.ts',
      },
      dts: false,
      esbuildPlugins: [nodePlatform],
      esbuildOptions(options) {
        // Distinct chunk names: the two builds write to one directory at the same time.
        options.chunkNames = '[name]-node-[hash]';
      },
    },
  ];
}
