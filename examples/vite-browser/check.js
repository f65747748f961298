/* global document */
// Builds the page with Vite and serves it (vite preview) on one origin, starts the responder on
// another with CORS for the page's origin, loads the page in headless Chromium (playwright-core,
// the browser at `ZEQ_CHROMIUM`, else /usr/bin/chromium) and asserts what it shows: a confirmed
// session and the record's reply.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';
import { startResponder } from './responder.js';

const freePort = () =>
  new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });

await build({ logLevel: 'warn' });
const pagePort = await freePort();
const page = await preview({
  logLevel: 'warn',
  preview: { host: '127.0.0.1', port: pagePort, strictPort: true },
});
const pageOrigin = `http://127.0.0.1:${pagePort}`;
const edge = await startResponder({
  fieldKey: randomBytes(32).toString('hex'),
  pageOrigin,
  port: 0,
});
const browser = await chromium.launch({
  executablePath: process.env.ZEQ_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run'],
});
try {
  assert.notEqual(edge.origin, pageOrigin);
  const { fingerprint } = await edge.responder.keyDocument('edge-01');
  const tab = await browser.newPage();
  const query = new URLSearchParams({ responder: edge.origin, pin: fingerprint });
  await tab.goto(`${pageOrigin}/?${query}`);
  await tab.waitForFunction(
    () =>
      document.getElementById('reply')?.textContent !== '-' ||
      document.getElementById('status')?.textContent?.startsWith('failed'),
    undefined,
    { timeout: 60_000 },
  );
  const status = await tab.textContent('#status');
  assert.match(status ?? '', /^confirmed [A-Za-z0-9_-]{16,128} \(/, status ?? '');
  assert.equal(await tab.textContent('#reply'), 'pong: hello from the page');
  console.log(`vite-browser: ${status}; reply shown on ${pageOrigin} from ${edge.origin}: ok`);
} finally {
  await browser.close();
  await new Promise((resolve) => page.httpServer.close(resolve));
  edge.server.close();
  edge.server.closeAllConnections();
  edge.responder.close();
}
