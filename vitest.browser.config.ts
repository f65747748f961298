/**
 * Browser mode: the client, responder, records and vector tests run in real headless Chromium
 * (Debian's `chromium`, see scripts/ensure-chromium.sh) through vitest and Playwright. Playwright
 * never downloads a browser here: it launches the system one by path (`ZEQ_CHROMIUM` overrides
 * the path, e.g. for a local Chrome elsewhere).
 *
 * msw's service worker script is served from the installed msw package at `/mockServiceWorker.js`
 * (the scope that covers the test pages), so it can never be a stale copy of another msw version.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { playwright } from '@vitest/browser-playwright';
import { type ViteUserConfig, defineConfig } from 'vitest/config';

const CHROMIUM = process.env['ZEQ_CHROMIUM'] ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  // No network but the test server: these stop Chromium's own background requests.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const MSW_WORKER = createRequire(import.meta.url).resolve('msw/mockServiceWorker.js');

const config: ViteUserConfig = defineConfig({
  plugins: [
    {
      name: 'zeq-keyex:msw-worker',
      configureServer(server) {
        server.middlewares.use('/mockServiceWorker.js', (_req, res) => {
          res.setHeader('content-type', 'text/javascript');
          res.setHeader('cache-control', 'no-store');
          res.end(readFileSync(MSW_WORKER));
        });
      },
    },
  ],
  // The SDK's dependencies are plain ESM and load as they are. Discovering them while tests run
  // would make Vite re-bundle and reload the page mid-run (tests run twice or fail), so only the
  // test runner's own CommonJS dependencies, which vitest lists itself, are pre-bundled.
  optimizeDeps: { noDiscovery: true },
  test: {
    // The protocol vectors run here from the very test body the Node suite runs.
    include: ['test/browser/**/*.test.ts', 'test/protocol-vectors.test.ts'],
    // Responders on another origin than the page's, for the cross-origin (CORS) tests.
    globalSetup: ['test/browser/cross-origin-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({
        launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
      }),
      instances: [{ browser: 'chromium' }],
    },
  },
});

export default config;
