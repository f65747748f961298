/**
 * Global setup of the browser suite: two responders on loopback, on an origin other than the test
 * page's — one with CORS for loopback pages, one without — whose URLs the page reads through
 * `inject`. They run in Node, as a deployed responder would, and the page calls them with the
 * browser's own `fetch`, preflights and all.
 */
import type { TestProject } from 'vitest/node';
import { serve } from '../../src/node/server.js';
import { createResponder } from '../../src/responder.js';

declare module 'vitest' {
  export interface ProvidedContext {
    corsResponderUrl: string;
    closedResponderUrl: string;
    corsFingerprint: string;
  }
}

const FIELD_KEY = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
const MACHINES = { 'edge-01': 'machine:edge-01' };
/** The test page's origin: the browser suite's own server on loopback, whatever its port. */
const LOOPBACK_PAGE = /^http:\/\/(?:localhost|127\.0\.0\.1):\d+$/;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const open = createResponder({
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    onRecord: (plaintext) => plaintext,
    cors: { origins: (origin) => LOOPBACK_PAGE.test(origin) },
  });
  const closed = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
  // 127.0.0.1 while the page is on localhost (or the other port): another origin either way.
  const openServer = await serve(open.fetch, { port: 0 });
  const closedServer = await serve(closed.fetch, { port: 0 });
  project.provide('corsResponderUrl', openServer.url);
  project.provide('closedResponderUrl', closedServer.url);
  project.provide('corsFingerprint', (await open.keyDocument('edge-01')).fingerprint);
  return async () => {
    await openServer.close();
    await closedServer.close();
    open.close();
    closed.close();
  };
}
