/**
 * Client ↔ responder through fetch injection: the responder's handler (or a hostile one) is the
 * client's `fetch`, so no socket and no global state is involved (spec §2, §6).
 */
import { describe, expect, test, vi } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { createLocalStorageTrustStore, tofuKey } from '../src/initiator/trust.js';
import {
  type FetchHandler,
  type Layer,
  MemoryStorage,
  type Mount,
  SLUG,
  failFirst,
  makeFixture,
  only,
  rejection,
  spy,
} from './helpers/client-kit.js';
import { describeClientSuite } from './helpers/client-suite.js';

let mounts = 0;

const fetchLayer: Layer = {
  name: 'fetch injection',
  async mount(handler: FetchHandler, basePath = ''): Promise<Mount> {
    let sent = 0;
    return {
      origin: `https://responder-${++mounts}.test${basePath}`,
      client: {
        fetch: (request: Request) => {
          sent++;
          return handler(request);
        },
      },
      sent: () => sent,
    };
  },
  async unreachable() {
    return {
      origin: `https://unreachable-${++mounts}.test`,
      client: { fetch: () => Promise.reject(new TypeError('fetch failed')) },
    };
  },
  async cleanup() {},
};

describeClientSuite(fetchLayer, { bufferedBytes: 0 });

describe('fetch injection specifics', () => {
  test('the injected fetch receives standard Request objects for the responder’s routes', async () => {
    const f = await makeFixture();
    const seen: Request[] = [];
    const client = createClient({
      origin: 'https://edge.test',
      pins: { [SLUG]: f.doc.fingerprint },
      retry: 0,
      fetch: (request) => {
        seen.push(request);
        return f.responder.fetch(request);
      },
    });
    await client.handshake(SLUG);
    expect(seen.map((r) => [r instanceof Request, r.method, r.url])).toEqual([
      [true, 'GET', `https://edge.test/api/keyex/${SLUG}/pubkey`],
      [true, 'POST', `https://edge.test/api/keyex/${SLUG}/handshake`],
    ]);
  });

  test('a GET whose fetch fails at the network level is retried (retry: 2)', async () => {
    const f = await makeFixture();
    let gets = 0;
    const client = createClient({
      origin: 'https://edge.test',
      pins: { [SLUG]: f.doc.fingerprint },
      retry: 2,
      fetch: (request) => {
        if (request.method === 'GET' && gets++ === 0)
          return Promise.reject(new TypeError('fetch failed'));
        return f.responder.fetch(request);
      },
    });
    expect((await client.handshake(SLUG)).fingerprint).toBe(f.doc.fingerprint);
    expect(gets).toBe(2);
  });

  test('a GET that keeps failing is tried 1 + retry times, then network_error', async () => {
    let attempts = 0;
    const client = createClient({
      origin: 'https://edge.test',
      insecureUnpinned: true,
      retry: 1,
      fetch: () => {
        attempts++;
        return Promise.reject(new TypeError('fetch failed'));
      },
    });
    await rejection(client.handshake(SLUG), 'network_error');
    expect(attempts).toBe(2);
  });

  test('a POST whose fetch fails at the network level is not retried (retry: 2)', async () => {
    const f = await makeFixture();
    const s = spy(only('GET', f.handler, () => Promise.reject(new TypeError('fetch failed'))));
    const client = createClient({
      origin: 'https://edge.test',
      pins: { [SLUG]: f.doc.fingerprint },
      retry: 2,
      fetch: (request) => s.handler(request),
    });
    await rejection(client.handshake(SLUG), 'network_error');
    expect(s.count('POST')).toBe(1);
    expect(f.sessions.created).toHaveLength(0);
  });

  test('two failing GETs with retry: 2 still end in a session', async () => {
    const f = await makeFixture();
    const s = spy(failFirst(f.handler, 'GET', 2, 503));
    const client = createClient({
      origin: 'https://edge.test',
      pins: { [SLUG]: f.doc.fingerprint },
      retry: 2,
      fetch: (request) => s.handler(request),
    });
    expect((await client.handshake(SLUG)).fingerprint).toBe(f.doc.fingerprint);
    expect(s.count('GET')).toBe(3);
  });

  test('the localStorage TOFU store uses globalThis.localStorage by default, and needs one', async () => {
    const f = await makeFixture();
    const storage = new MemoryStorage();
    vi.stubGlobal('localStorage', storage);
    try {
      const client = createClient({
        origin: 'https://edge.test',
        tofu: createLocalStorageTrustStore(),
        retry: 0,
        fetch: (request) => f.handler(request),
      });
      expect((await client.handshake(SLUG)).trust).toBe('tofu-first-use');
      expect(storage.getItem(`zeq-keyex:tofu:${tofuKey(client.origin, SLUG)}`)).toBe(
        f.doc.fingerprint,
      );
    } finally {
      vi.unstubAllGlobals();
    }
    expect(() => createLocalStorageTrustStore()).toThrow(TypeError);
  });
});
