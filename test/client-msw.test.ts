/**
 * Client ↔ responder through msw: the client uses the global `fetch`, and msw routes the
 * responder's endpoints to an in-process handler (`createResponderHandlers`), with every other
 * request refused (`onUnhandledRequest: 'error'`) — the way an app's own test suite would run it.
 */
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { createResponderHandlers } from '../src/msw.js';
import {
  type FetchHandler,
  type Layer,
  type Mount,
  SLUG,
  makeFixture,
  rejection,
  spy,
} from './helpers/client-kit.js';
import { describeClientSuite } from './helpers/client-suite.js';

const server = setupServer();
/** Requests msw intercepted, per origin (handled or not). */
const intercepted = new Map<string, number>();
server.events.on('request:start', ({ request }) => {
  const origin = new URL(request.url).origin;
  intercepted.set(origin, (intercepted.get(origin) ?? 0) + 1);
});

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

let mounts = 0;

const mswLayer: Layer = {
  name: 'msw',
  async mount(handler: FetchHandler, basePath = ''): Promise<Mount> {
    const origin = `https://responder-${++mounts}.msw.test`;
    server.use(...createResponderHandlers({ fetch: handler }, origin + basePath));
    return { origin: origin + basePath, client: {}, sent: () => intercepted.get(origin) ?? 0 };
  },
  async unreachable() {
    const origin = `https://unreachable-${++mounts}.msw.test`;
    server.use(...createResponderHandlers({ fetch: async () => Response.error() }, origin));
    return { origin, client: {} };
  },
  async cleanup() {
    server.resetHandlers();
  },
};

describeClientSuite(mswLayer, { bufferedBytes: 0 });

describe('msw specifics', () => {
  test('the handlers take the responder itself, as an app’s suite would pass it', async () => {
    const f = await makeFixture();
    server.use(...createResponderHandlers(f.responder, 'https://edge.example'));
    try {
      const client = createClient({
        origin: 'https://edge.example',
        pins: { [SLUG]: f.doc.fingerprint },
        retry: 0,
      });
      const session = await client.handshake(SLUG);
      expect(session.recordKey).toEqual(
        Uint8Array.from((await f.sessions.get(session.sessionId))?.recordKey ?? []),
      );
    } finally {
      server.resetHandlers();
    }
  });

  test('a request to an origin with no handlers is refused (onUnhandledRequest: error) and is a network_error', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const client = createClient({
        origin: 'https://nobody.msw.test',
        insecureUnpinned: true,
        retry: 0,
      });
      await rejection(client.handshake(SLUG), 'network_error');
      expect(printed).toHaveBeenCalled();
    } finally {
      printed.mockRestore();
    }
  });

  test('a GET that fails at the network level once is retried (retry: 2)', async () => {
    const f = await makeFixture();
    let failures = 0;
    const s = spy(async (request) => {
      if (request.method === 'GET' && failures++ === 0) return Response.error();
      return f.responder.fetch(request);
    });
    server.use(...createResponderHandlers({ fetch: s.handler }, 'https://flaky.msw.test'));
    try {
      const client = createClient({
        origin: 'https://flaky.msw.test',
        pins: { [SLUG]: f.doc.fingerprint },
        retry: 2,
      });
      expect((await client.handshake(SLUG)).fingerprint).toBe(f.doc.fingerprint);
      expect(s.count('GET')).toBe(2);
    } finally {
      server.resetHandlers();
    }
  });

  test('a POST that fails at the network level is not retried (retry: 2)', async () => {
    const f = await makeFixture();
    const s = spy(async (request) =>
      request.method === 'POST' ? Response.error() : f.responder.fetch(request),
    );
    server.use(...createResponderHandlers({ fetch: s.handler }, 'https://flaky-post.msw.test'));
    try {
      const client = createClient({
        origin: 'https://flaky-post.msw.test',
        pins: { [SLUG]: f.doc.fingerprint },
        retry: 2,
      });
      await rejection(client.handshake(SLUG), 'network_error');
      expect(s.count('POST')).toBe(1);
    } finally {
      server.resetHandlers();
    }
  });

  test('createResponderHandlers refuses an origin that is not an http(s) URL', () => {
    expect(() =>
      createResponderHandlers({ fetch: async () => new Response() }, 'ftp://edge.example'),
    ).toThrow(TypeError);
    expect(() =>
      createResponderHandlers({ fetch: async () => new Response() }, 'edge.example'),
    ).toThrow(TypeError);
  });
});
