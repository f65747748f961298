import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ViteUserConfig, defineConfig } from 'vitest/config';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), 'src');
const BACKENDS = resolve(SRC, 'backends');
const PORTABLE_PLATFORM = resolve(BACKENDS, 'platform.ts');
const NODE_PLATFORM = resolve(BACKENDS, 'platform.node.ts');

const config: ViteUserConfig = defineConfig({
  plugins: [
    {
      // The suite runs in Node, so it tests what Node loads: the Node build's platform
      // (`src/backends/platform.node.ts`, `node:crypto` ML-KEM and AES-GCM), as tsup.config.ts builds it.
      // The browser suite keeps the portable `src/backends/platform.ts`.
      name: 'zeq-keyex:node-platform',
      enforce: 'pre',
      resolveId(source, importer) {
        // Only the SDK's own imports: a test that imports the portable platform gets it.
        if (importer === undefined || !importer.startsWith(SRC) || !source.endsWith('/platform.js'))
          return null;
        const target = resolve(dirname(importer), source.replace(/\.js$/, '.ts'));
        return target === PORTABLE_PLATFORM && importer !== NODE_PLATFORM ? NODE_PLATFORM : null;
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    // The CLI build, and a redis-server and a valkey-server on free loopback ports for the shared-store tests.
    globalSetup: ['test/global-setup.ts', 'test/helpers/redis-server.ts'],
    // test/browser runs in Chromium: `npm run test:browser` (vitest.browser.config.ts).
    exclude: ['test/browser/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: the 10 000-case CCTV run holds one worker for ~35 s while the other takes the rest.
    maxWorkers: 2,
  },
});

export default config;
