/**
 * Mode-B peer fetches over real loopback sockets with the platform's own fetch: two responders
 * behind the Node server adapter seed with each other over plain http (127.0.0.1 allowed by name,
 * for plain http and as a private host; loopback is refused otherwise),
 * and scripted peers that redirect, stall, or send an oversized document are refused without the
 * redirect being followed.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { createModeBAdminClient } from '../src/initiator/admin-client.js';
import { createBearerTokenAuthorizer } from '../src/responder/admin.js';
import { createResponder } from '../src/responder/responder.js';
import { type RunningServer, serve } from '../src/node/server.js';
import { expectError, fetchKeyDoc } from './helpers/responder.js';
import {
  FIELD_KEY,
  INITIATE,
  OTHER_FIELD_KEY,
  TOKEN_A,
  TOKEN_B,
  adminRequest,
  bearer,
} from './helpers/modeb.js';

const running: { close(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(handler: (request: Request) => Promise<Response>): Promise<RunningServer> {
  const server = await serve(handler, { host: '127.0.0.1', port: 0 });
  running.push(server);
  return server;
}

/** A raw Node server with a scripted answer, counting requests. */
async function raw(
  answer: Parameters<typeof createServer>[1],
): Promise<{ origin: string; hits: () => number }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    answer?.(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  running.push({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits };
}

function responderA(peerTimeoutMs = 2_000): ReturnType<typeof createResponder> {
  return createResponder({
    fieldKey: FIELD_KEY,
    machines: { 'edge-01': 'machine:edge-01' },
    admin: createBearerTokenAuthorizer(TOKEN_A),
    modeB: { allowHttpHosts: ['127.0.0.1'], allowPrivatePeerHosts: ['127.0.0.1'], peerTimeoutMs },
  });
}

describe('over loopback sockets', () => {
  test('two responders seed with each other through the admin client; equal commitments', async () => {
    const a = responderA();
    const b = createResponder({
      fieldKey: OTHER_FIELD_KEY,
      machines: { 'core-01': 'machine:core-01' },
      admin: createBearerTokenAuthorizer(TOKEN_B),
    });
    const [serverA, serverB] = await Promise.all([start(a.fetch), start(b.fetch)]);
    const pin = (await fetchKeyDoc(b.fetch, 'core-01')).fingerprint;
    const l = await createModeBAdminClient({ origin: serverA.url, token: TOKEN_A }).initiate({
      localMachine: 'edge-01',
      peerOrigin: serverB.url,
      peerMachine: 'core-01',
      expectedFingerprint: pin,
    });
    const p = await createModeBAdminClient({ origin: serverB.url, token: TOKEN_B }).respond({
      localMachine: 'core-01',
      peerMachineId: l.localMachineId,
      cipherText: l.cipherText,
    });
    expect(p.seedCommitment).toBe(l.seedCommitment);
    // Allowed for plain http but not named as a private host: refused before any fetch.
    const httpOnly = createResponder({
      fieldKey: FIELD_KEY,
      machines: { 'edge-01': 'machine:edge-01' },
      admin: createBearerTokenAuthorizer(TOKEN_A),
      modeB: { allowHttpHosts: ['127.0.0.1'] },
    });
    await expectError(
      await httpOnly.fetch(
        adminRequest(
          serverA.url,
          INITIATE,
          {
            local_machine: 'edge-01',
            peer_origin: serverB.url,
            peer_machine: 'core-01',
            expected_fingerprint: pin,
          },
          bearer(TOKEN_A),
        ),
      ),
      400,
      'invalid_request',
    );
    // `localhost` is not 127.0.0.1 as far as the allow-lists go.
    const refused = await a.fetch(
      adminRequest(
        serverA.url,
        INITIATE,
        {
          local_machine: 'edge-01',
          peer_origin: serverB.url.replace('127.0.0.1', 'localhost'),
          peer_machine: 'core-01',
          expected_fingerprint: pin,
        },
        bearer(TOKEN_A),
      ),
    );
    await expectError(refused, 400, 'invalid_request');
  });

  test('a redirecting peer is 502 peer_invalid_response, and the redirect is not followed', async () => {
    const b = createResponder({
      fieldKey: OTHER_FIELD_KEY,
      machines: { 'core-01': 'machine:core-01' },
    });
    const target = await raw((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    const serverB = await start(b.fetch);
    const pin = (await fetchKeyDoc(b.fetch, 'core-01')).fingerprint;
    const redirector = await raw((req, res) => {
      res.writeHead(302, { location: `${target.origin}${req.url ?? '/'}` }).end();
    });
    const a = responderA();
    const body = {
      local_machine: 'edge-01',
      peer_origin: redirector.origin,
      peer_machine: 'core-01',
      expected_fingerprint: pin,
    };
    await expectError(
      await a.fetch(adminRequest('https://edge.test', INITIATE, body, bearer(TOKEN_A))),
      502,
      'peer_invalid_response',
    );
    expect(redirector.hits()).toBe(1);
    expect(target.hits()).toBe(0);
    expect(serverB.url).toMatch(/^http:/);
  });

  test('a peer that accepts but never answers is 502 peer_unreachable within the time limit', async () => {
    const silent = await raw(() => undefined);
    const a = responderA(300);
    const started = performance.now();
    const body = {
      local_machine: 'edge-01',
      peer_origin: silent.origin,
      peer_machine: 'core-01',
      expected_fingerprint: 'ab'.repeat(32),
    };
    await expectError(
      await a.fetch(adminRequest('https://edge.test', INITIATE, body, bearer(TOKEN_A))),
      502,
      'peer_unreachable',
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(silent.hits()).toBe(1);
  });

  test('an oversized document over a real socket (declared or streamed) is 502 peer_invalid_response', async () => {
    const a = responderA();
    for (const declared of [true, false]) {
      const big = await raw((_req, res) => {
        const chunk = 'x'.repeat(16 * 1024);
        res.writeHead(
          200,
          declared
            ? { 'content-type': 'application/json', 'content-length': String(80 * 1024 + 2) }
            : { 'content-type': 'application/json' },
        );
        res.write('"');
        for (let i = 0; i < 5; i++) res.write(chunk);
        res.end('"');
      });
      const body = {
        local_machine: 'edge-01',
        peer_origin: big.origin,
        peer_machine: 'core-01',
        expected_fingerprint: 'ab'.repeat(32),
      };
      await expectError(
        await a.fetch(adminRequest('https://edge.test', INITIATE, body, bearer(TOKEN_A))),
        502,
        'peer_invalid_response',
      );
    }
  });
});
