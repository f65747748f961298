import { type ViteUserConfig, defineConfig } from 'vitest/config';

const config: ViteUserConfig = defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
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
