/**
 * Client identity in the Node adapter (`serve`), over real loopback sockets: the responder's
 * per-client limits see the socket's address, whatever a client claims in a header (the old
 * `x-zeq-client-address`, `X-Forwarded-For`); `X-Forwarded-For` is believed only from a `trustProxy` peer, and then its
 * right-most address that is not a trusted proxy.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { clientAddressOf } from '../src/responder.js';

/** The header through which serve once passed the address; a client's copy must mean nothing. */
const CLAIMED_ADDRESS_HEADER = 'x-zeq-client-address';
import { createResponder } from '../src/responder/responder.js';
import { type FetchHandler, type RunningServer, serve } from '../src/node/server.js';
import { FIELD_KEY } from './helpers/responder.js';

const running: RunningServer[] = [];

afterEach(async () => {
  for (const server of running.splice(0)) {
    server.server.closeAllConnections();
    await server.close();
  }
});

async function start(
  handler: FetchHandler,
  trustProxy?: readonly string[],
): Promise<RunningServer> {
  const server = await serve(handler, {
    host: '127.0.0.1',
    port: 0,
    ...(trustProxy === undefined ? {} : { trustProxy }),
  });
  running.push(server);
  return server;
}

/** A handler answering the client address it was given. */
const echoAddress: FetchHandler = async (request) =>
  new Response(clientAddressOf(request) ?? '(none)');

async function addressSeen(
  server: RunningServer,
  headers: Record<string, string>,
): Promise<string> {
  const response = await fetch(server.url, { headers });
  return response.text();
}

describe('the client address serve passes on', () => {
  test('is the socket address: a claimed address and X-Forwarded-For are ignored', async () => {
    const server = await start(echoAddress);
    expect(await addressSeen(server, {})).toBe('127.0.0.1');
    expect(
      await addressSeen(server, {
        [CLAIMED_ADDRESS_HEADER]: '203.0.113.9',
        'x-forwarded-for': '203.0.113.7',
      }),
    ).toBe('127.0.0.1');
  });

  test('from a trusted proxy: the right-most X-Forwarded-For address that is not a trusted proxy', async () => {
    const server = await start(echoAddress, ['127.0.0.1', '10.0.0.2']);
    expect(await addressSeen(server, { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' })).toBe(
      '203.0.113.7',
    );
    expect(
      await addressSeen(server, { 'x-forwarded-for': '198.51.100.1, 203.0.113.7, 10.0.0.2' }),
    ).toBe('203.0.113.7');
    expect(await addressSeen(server, { 'x-forwarded-for': '10.0.0.2, 127.0.0.1' })).toBe(
      '10.0.0.2',
    );
    expect(await addressSeen(server, { 'x-forwarded-for': 'not-an-address' })).toBe('127.0.0.1');
    expect(await addressSeen(server, { [CLAIMED_ADDRESS_HEADER]: '203.0.113.9' })).toBe(
      '127.0.0.1',
    );
  });

  test('trustProxy must list IP addresses', async () => {
    await expect(
      serve(echoAddress, { port: 0, trustProxy: ['proxy.example'] }),
    ).rejects.toBeInstanceOf(TypeError);
    await expect(
      serve(echoAddress, { port: 0, trustProxy: '127.0.0.1' as unknown as string[] }),
    ).rejects.toBeInstanceOf(TypeError);
  });
});

describe('a handshake flood over serve', () => {
  test('one address is throttled whatever client address or X-Forwarded-For it claims', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: { 'edge-01': 'machine:edge-01' },
      rateLimits: { handshake: { burst: 3, perSecond: 0.001 } },
    });
    const server = await start(responder.fetch);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await fetch(`${server.url}/api/keyex/edge-01/handshake`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [CLAIMED_ADDRESS_HEADER]: `203.0.113.${i}`,
          'x-forwarded-for': `198.51.100.${i}`,
        },
        body: '{}',
      });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    // The first three are admitted (and refused for their empty body); the rest are throttled.
    expect(statuses).toEqual([400, 400, 400, 429, 429, 429]);
    const document = await fetch(`${server.url}/api/keyex/edge-01/pubkey`);
    expect(document.status).toBe(200);
    responder.close();
  });
});
