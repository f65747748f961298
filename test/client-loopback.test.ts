/**
 * Client ↔ responder over a real loopback socket: the responder (or a hostile handler) is served
 * by the Node adapter `serve(handler, { port: 0 })` and the client uses the global `fetch`.
 */
import { type Server, type Socket, createServer } from 'node:net';
import { afterAll, describe, expect, test } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { type RunningServer, serve } from '../src/node/server.js';
import {
  type FetchHandler,
  type Layer,
  type Mount,
  SLUG,
  makeFixture,
  rejection,
} from './helpers/client-kit.js';
import { describeClientSuite } from './helpers/client-suite.js';

const running: RunningServer[] = [];

async function stop(server: RunningServer): Promise<void> {
  server.server.closeAllConnections();
  await server.close();
}

const loopbackLayer: Layer = {
  name: 'a loopback socket',
  async mount(handler: FetchHandler, basePath = ''): Promise<Mount> {
    const server = await serve(handler, { host: '127.0.0.1', port: 0 });
    running.push(server);
    let sent = 0;
    server.server.on('request', () => {
      sent++;
    });
    return { origin: server.url + basePath, client: {}, sent: () => sent };
  },
  async unreachable() {
    // A port that was just bound and released: connections are refused.
    const server = await serve(async () => new Response(null, { status: 204 }), {
      host: '127.0.0.1',
      port: 0,
    });
    await stop(server);
    return { origin: server.url, client: {} };
  },
  async cleanup() {
    await Promise.all(running.splice(0).map(stop));
  },
};

// Kernel socket buffers sit between the handler's body and the client: the handler may be pulled
// for a few MiB more than the client reads before back-pressure stops it.
describeClientSuite(loopbackLayer, { bufferedBytes: 16 * 1024 * 1024 });

describe('loopback specifics', () => {
  const raw: Server[] = [];
  afterAll(async () => {
    await Promise.all(raw.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  test('serve(responder.fetch) on port 0 gives a pinned session', async () => {
    const f = await makeFixture();
    const server = await serve(f.responder.fetch, { port: 0 });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const client = createClient({
        origin: server.url,
        pins: { [SLUG]: f.doc.fingerprint },
        retry: 0,
      });
      const session = await client.handshake(SLUG);
      expect(session.recordKey).toEqual(
        Uint8Array.from((await f.sessions.get(session.sessionId))?.recordKey ?? []),
      );
    } finally {
      await stop(server);
    }
  });

  test('a server that drops every connection: the GET is tried 1 + retry times, then network_error', async () => {
    let connections = 0;
    const dropper = createServer((socket: Socket) => {
      connections++;
      socket.destroy();
    });
    raw.push(dropper);
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
    const address = dropper.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const client = createClient({
      origin: `http://127.0.0.1:${address.port}`,
      insecureUnpinned: true,
      retry: 2,
    });
    await rejection(client.handshake(SLUG), 'network_error');
    expect(connections).toBe(3);
  });
});
