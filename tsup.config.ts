import type { Options } from 'tsup';

const config: Options = {
  entry: {
    index: 'src/index.ts',
    responder: 'src/responder.ts',
    msw: 'src/msw.ts',
    node: 'src/node/index.ts',
    cli: 'src/node/bin.ts',
  },
  format: ['esm'],
  target: 'es2022',
  // Neutral: the core and client run in browsers, workers, Deno and Bun; only `node` and `cli`
  // reach `node:*` modules, which stay external.
  platform: 'neutral',
  external: [/^node:/],
  dts: true,
  clean: true,
  sourcemap: true,
  splitting: true,
  treeshake: true,
};

export default config;
