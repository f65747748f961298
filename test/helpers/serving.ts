/**
 * `serve` on a free loopback port for a test file: every server started is closed after each test,
 * its open connections with it.
 */
import { afterEach } from 'vitest';
import {
  type FetchHandler,
  type RunningServer,
  type ServeOptions,
  serve,
} from '../../src/node/server.js';

/**
 * Registers the closing of the servers a test starts.
 * @returns `start(handler, options?)`: `serve` on 127.0.0.1, a free port, with `options` besides.
 */
export function useServing(): (
  handler: FetchHandler,
  options?: Omit<ServeOptions, 'host' | 'port'>,
) => Promise<RunningServer> {
  const running: RunningServer[] = [];
  afterEach(async () => {
    for (const server of running.splice(0)) {
      server.server.closeAllConnections();
      await server.close();
    }
  });
  return async (handler, options = {}) => {
    const server = await serve(handler, { ...options, host: '127.0.0.1', port: 0 });
    running.push(server);
    return server;
  };
}
