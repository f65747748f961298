/**
 * Admission control before work (the open-internet issue; spec §7 `rate_limited`, revision 2
 * `unavailable`): each test performs the attack. One client flooding handshakes is throttled
 * (`429` with `Retry-After`) while another client and key documents are still served; a client
 * asking for key documents of ever new machines is throttled; handshakes beyond the cap on
 * decapsulations in flight are refused at once (`503` with `Retry-After: 1`), never queued.
 */
import { describe, expect, test } from 'vitest';
import { clientAddressOf, createResponder, setClientAddress } from '../src/responder.js';
import { createAdmission } from '../src/responder/admission.js';
import { createHandshakeRoute } from '../src/responder/handshake-route.js';
import type { KeyManager, MachineKey } from '../src/responder/key-manager.js';
import { silentLogger } from '../src/responder/logger.js';
import { createRecordSessions } from '../src/responder/record-sessions.js';
import { createMemorySessionStore } from '../src/responder/stores.js';
import { createMemoryReplayMemory } from '../src/responder/replay-memory.js';
import { computeFingerprint } from '../src/core/fingerprint.js';
import {
  FIELD_KEY,
  clientHandshake,
  expectError,
  fetchKeyDoc,
  getRequest,
  jsonRequest,
} from './helpers/responder.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };
const HANDSHAKE = '/api/keyex/edge-01/handshake';
const START = 1_800_000_000_000;

function randomCipherText(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(1088))).toString('base64');
}

/** A handshake request from the client named by `x-client`. */
function handshakeFrom(client: string, fingerprint: string): Request {
  return jsonRequest(
    HANDSHAKE,
    { cipher_text: randomCipherText(), fingerprint },
    { headers: { 'content-type': 'application/json', 'x-client': client } },
  );
}

const byHeader = (request: Request): string | undefined =>
  request.headers.get('x-client') ?? undefined;

describe('per-client token buckets', () => {
  test('a client flooding handshakes gets 429 after its burst; another client and key documents are still served', async () => {
    let at = START;
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      now: () => at,
      clientId: byHeader,
      rateLimits: { handshake: { burst: 5, perSecond: 2 } },
    });
    const { fingerprint } = await fetchKeyDoc(responder.fetch, 'edge-01');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await responder.fetch(handshakeFrom('attacker', fingerprint))).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const refused = await responder.fetch(handshakeFrom('attacker', fingerprint));
    expect(refused.headers.get('retry-after')).toBe('1');
    await expectError(refused, 429, 'rate_limited');

    expect((await responder.fetch(handshakeFrom('neighbour', fingerprint))).status).toBe(200);
    const document = await responder.fetch(
      getRequest('/api/keyex/edge-01/pubkey', { headers: { 'x-client': 'attacker' } }),
    );
    expect(document.status).toBe(200);

    // The bucket refills: half a second later, one more token at 2 a second.
    at += 500;
    expect((await responder.fetch(handshakeFrom('attacker', fingerprint))).status).toBe(200);
    expect((await responder.fetch(handshakeFrom('attacker', fingerprint))).status).toBe(429);
    responder.close();
  });

  test('a refused handshake is refused before its body is read', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      clientId: byHeader,
      rateLimits: { handshake: { burst: 1, perSecond: 0.001 } },
    });
    const { fingerprint } = await fetchKeyDoc(responder.fetch, 'edge-01');
    expect((await responder.fetch(handshakeFrom('c', fingerprint))).status).toBe(200);
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller): void {
          pulled += 1;
          controller.enqueue(new TextEncoder().encode('{}'));
          controller.close();
        },
      },
      { highWaterMark: 0 },
    );
    const request = new Request(`https://responder.test${HANDSHAKE}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-client': 'c' },
      body,
      duplex: 'half',
    } as RequestInit);
    const response = await responder.fetch(request);
    expect(response.headers.get('retry-after')).toBe('1000');
    await expectError(response, 429, 'rate_limited');
    expect(pulled).toBe(0);
    responder.close();
  });

  test('the default hook reads the address an adapter attached, and the default limits throttle hundreds of handshakes', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      now: () => START,
    });
    const { fingerprint } = await fetchKeyDoc(responder.fetch, 'edge-01');
    const from = (address: string): Request =>
      setClientAddress(
        jsonRequest(HANDSHAKE, { cipher_text: randomCipherText(), fingerprint }),
        address,
      );
    let refused = 0;
    for (let i = 0; i < 100; i++)
      if ((await responder.fetch(from('192.0.2.1'))).status === 429) refused += 1;
    expect(refused).toBeGreaterThan(50);
    expect((await responder.fetch(from('192.0.2.2'))).status).toBe(200);
    responder.close();
  });

  test("a client-sent address header names no one: it neither escapes its own limit nor spends another client's", async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      now: () => START,
      rateLimits: { handshake: { burst: 2, perSecond: 0.001 } },
    });
    const { fingerprint } = await fetchKeyDoc(responder.fetch, 'edge-01');
    const claiming = (claimed: string, address?: string): Request => {
      const request = jsonRequest(
        HANDSHAKE,
        { cipher_text: randomCipherText(), fingerprint },
        { headers: { 'content-type': 'application/json', 'x-zeq-client-address': claimed } },
      );
      return address === undefined ? request : setClientAddress(request, address);
    };
    // The attacker names the victim's address in the header the Node adapter once used.
    for (let i = 0; i < 10; i++)
      expect((await responder.fetch(claiming('192.0.2.7'))).status).toBe(200);
    // The victim's own bucket is untouched.
    expect((await responder.fetch(claiming('x', '192.0.2.7'))).status).toBe(200);
    expect((await responder.fetch(claiming('x', '192.0.2.7'))).status).toBe(200);
    await expectError(await responder.fetch(claiming('x', '192.0.2.7')), 429, 'rate_limited');
    // And a limited client cannot escape by claiming a fresh address.
    await expectError(
      await responder.fetch(claiming('198.51.100.1', '192.0.2.7')),
      429,
      'rate_limited',
    );
    responder.close();
  });

  test('setClientAddress refuses what is not an address string', () => {
    const request = getRequest('/api/keyex/edge-01/pubkey');
    expect(() => setClientAddress(request, '')).toThrow(TypeError);
    expect(() => setClientAddress(request, 7 as unknown as string)).toThrow(TypeError);
    expect(clientAddressOf(request)).toBeUndefined();
    expect(clientAddressOf(setClientAddress(request, '192.0.2.1'))).toBe('192.0.2.1');
  });

  test('a client asking for the key documents of ever new machines is throttled; existing keys are still served', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: (slug: string) => `machine:${slug}`,
      clientId: byHeader,
      rateLimits: { keyGeneration: { burst: 2, perSecond: 0.01 } },
    });
    const ask = (slug: string, client: string): Promise<Response> =>
      responder.fetch(getRequest(`/api/keyex/${slug}/pubkey`, { headers: { 'x-client': client } }));
    expect((await ask('m-1', 'a')).status).toBe(200);
    expect((await ask('m-2', 'a')).status).toBe(200);
    const refused = await ask('m-3', 'a');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await expectError(refused, 429, 'rate_limited');
    expect((await ask('m-1', 'a')).status).toBe(200);
    expect((await ask('m-3', 'b')).status).toBe(200);
    responder.close();
  });

  test('records are limited per client before the session is looked up', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      clientId: byHeader,
      onRecord: (plaintext) => plaintext,
      rateLimits: { records: { burst: 2, perSecond: 0.01 } },
    });
    const post = (): Promise<Response> =>
      responder.fetch(
        new Request(`https://responder.test/api/keyex/edge-01/sessions/${'A'.repeat(22)}/records`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', 'x-client': 'r' },
          body: new Uint8Array(64),
        }),
      );
    expect((await post()).status).not.toBe(429);
    expect((await post()).status).not.toBe(429);
    await expectError(await post(), 429, 'rate_limited');
    responder.close();
  });

  test('rateLimits: false and requests without a client id are not limited per client', async () => {
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      clientId: byHeader,
      rateLimits: false,
    });
    const { fingerprint } = await fetchKeyDoc(responder.fetch, 'edge-01');
    for (let i = 0; i < 30; i++)
      expect((await responder.fetch(handshakeFrom('x', fingerprint))).status).toBe(200);
    responder.close();
    const unnamed = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    for (let i = 0; i < 30; i++) await clientHandshake(unnamed.fetch, 'edge-01');
    unnamed.close();
  });

  test('the tracked clients are bounded: the least recently seen is forgotten', () => {
    const admission = createAdmission({
      clientId: byHeader,
      rateLimits: { handshake: { burst: 1, perSecond: 0.001 } },
      maxTrackedClients: 2,
      maxInFlightDecapsulations: 1,
      now: () => START,
    });
    const from = (client: string): Request =>
      new Request('https://responder.test/', { headers: { 'x-client': client } });
    // In-memory buckets answer at once (`undefined`, no promise), or throw.
    expect(admission.take('handshake', from('a'))).toBeUndefined();
    expect(() => admission.take('handshake', from('a'))).toThrow(
      expect.objectContaining({ code: 'rate_limited' }),
    );
    expect(admission.take('handshake', from('b'))).toBeUndefined();
    expect(admission.take('handshake', from('c'))).toBeUndefined(); // forgets a
    expect(admission.take('handshake', from('a'))).toBeUndefined();
  });

  test('malformed limits are refused when the responder is created', () => {
    const base = { fieldKey: FIELD_KEY, machines: MACHINES };
    expect(() =>
      createResponder({ ...base, rateLimits: { handshake: { burst: 0, perSecond: 1 } } }),
    ).toThrow(RangeError);
    expect(() =>
      createResponder({ ...base, rateLimits: { handshake: { burst: 1, perSecond: 0 } } }),
    ).toThrow(RangeError);
    expect(() => createResponder({ ...base, maxInFlightDecapsulations: 0 })).toThrow(RangeError);
    expect(() => createResponder({ ...base, maxTrackedClients: 1.5 })).toThrow(RangeError);
    expect(() =>
      createResponder({ ...base, clientId: 'x-client' as unknown as () => undefined }),
    ).toThrow(TypeError);
    expect(() =>
      createResponder({ ...base, rateLimits: { everything: false } as unknown as false }),
    ).toThrow(TypeError);
  });
});

describe('the cap on decapsulations in flight', () => {
  /** A handshake route over one machine key whose decapsulation waits until released. */
  function slowRoute(maxInFlight: number): {
    fetch: (request: Request) => Promise<Response>;
    started: () => number;
    release: () => void;
    fingerprint: string;
  } {
    const publicKey = new Uint8Array(1184);
    const fingerprint = computeFingerprint(publicKey);
    let started = 0;
    const waiting: (() => void)[] = [];
    const key: MachineKey = {
      alg: 'ML-KEM-768',
      slug: 'edge-01',
      machineId: 'machine:edge-01',
      publicKey,
      publicKeyBase64: Buffer.from(publicKey).toString('base64'),
      fingerprint,
      documentJson: '{}',
      secretKey: {
        backend: 'noble',
        publicKey,
        decapsulate: async () => {
          started += 1;
          await new Promise<void>((resolve) => waiting.push(resolve));
          return new Uint8Array(32).fill(7);
        },
        dispose: () => undefined,
      },
    };
    const keys = { find: async () => key, obtain: async () => key } as unknown as KeyManager;
    const now = (): number => START;
    const handler = createHandshakeRoute({
      machineFor: async () => 'machine:edge-01',
      keys,
      sessionStore: createMemorySessionStore({ now }),
      replayMemory: createMemoryReplayMemory({ now }),
      storeTimeoutMs: 5_000,
      recordSessions: createRecordSessions({ maxSessions: 100, now, ratchet: { now } }),
      publicRandom: (length) => crypto.getRandomValues(new Uint8Array(length)),
      sessionTtlMs: 60_000,
      now,
      logger: silentLogger,
      admission: createAdmission({
        clientId: () => undefined,
        rateLimits: false,
        maxTrackedClients: 1,
        maxInFlightDecapsulations: maxInFlight,
        now,
      }),
    });
    return {
      fetch: async (request) => {
        try {
          return await handler({ request, params: new Map([['slug', 'edge-01']]) });
        } catch (error) {
          const { refusalResponse } = await import('../src/responder/http.js');
          return refusalResponse(error as never);
        }
      },
      started: () => started,
      release: () => {
        for (const resolve of waiting.splice(0)) resolve();
      },
      fingerprint,
    };
  }

  test('handshakes beyond the cap get 503 unavailable with Retry-After: 1 at once, and nothing queues', async () => {
    const route = slowRoute(2);
    const body = (cipherText: string): Request =>
      jsonRequest(HANDSHAKE, { cipher_text: cipherText, fingerprint: route.fingerprint });
    const held = [route.fetch(body(randomCipherText())), route.fetch(body(randomCipherText()))];
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(route.started()).toBe(2);

    const beyond: Response[] = [];
    for (let i = 0; i < 5; i++) beyond.push(await route.fetch(body(randomCipherText())));
    for (const response of beyond) {
      expect(response.headers.get('retry-after')).toBe('1');
      await expectError(response, 503, 'unavailable');
    }
    expect(route.started()).toBe(2);

    route.release();
    for (const response of await Promise.all(held)) expect(response.status).toBe(200);

    // A slot is free again, and a ciphertext refused for want of one was not remembered.
    const again = randomCipherText();
    const first = route.fetch(body(again));
    await new Promise((resolve) => setTimeout(resolve, 0));
    route.release();
    expect((await first).status).toBe(200);
  });

  test('a ciphertext refused when the slots filled up during its checks can be sent again', async () => {
    const route = slowRoute(1);
    const cipherText = randomCipherText();
    const request = (): Request =>
      jsonRequest(HANDSHAKE, { cipher_text: cipherText, fingerprint: route.fingerprint });
    // Both pass the early check; the second finds the one slot taken when it decapsulates.
    const first = route.fetch(
      jsonRequest(HANDSHAKE, { cipher_text: randomCipherText(), fingerprint: route.fingerprint }),
    );
    const second = route.fetch(request());
    await expectError(await second, 503, 'unavailable');
    route.release();
    expect((await first).status).toBe(200);
    const retried = route.fetch(request());
    await new Promise((resolve) => setTimeout(resolve, 0));
    route.release();
    expect((await retried).status).toBe(200);
  });
});
