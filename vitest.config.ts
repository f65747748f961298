import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ViteUserConfig, defineConfig } from 'vitest/config';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), 'src');

const config: ViteUserConfig = defineConfig({
  plugins: [
    {
      // The suite runs in Node, so it tests what Node loads: the Node build's platform
      // (`src/node/platform.ts`, `node:crypto` ML-KEM and AES-GCM), as tsup.config.ts builds it.
      // The browser suite keeps the portable `src/platform.ts`.
      name: 'zeq-keyex:node-platform',
      enforce: 'pre',
      resolveId(source, importer) {
        if (source !== './platform.js' || importer === undefined || dirname(importer) !== SRC) return null;
        return resolve(SRC, 'node', 'platform.ts');
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
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
