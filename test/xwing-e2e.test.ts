/**
 * X-Wing (spec §9) end to end, with ML-KEM-768 and X-Wing machines side by side: the library client
 * against a responder over fetch injection and msw, and the CLI `handshake` against `serve --alg
 * X-Wing`; records on both algs; Mode-B to an X-Wing peer; keys sealed with the alg bound; and alg
 * confusion refused with the SDK's codes (a document whose alg and key size disagree, a pin for one
 * alg and a document of the other, a handshake answer with another alg, an alg not accepted).
 */
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ALG, ALG_XWING, type Alg } from '../src/core/constants.js';
import { loadKemFor } from '../src/backends/kem-backend.js';
import { parseKeyDocument } from '../src/core/document.js';
import { base64Decode, base64Encode } from '../src/core/encoding.js';
import { computeFingerprint } from '../src/core/fingerprint.js';
import { deriveModeBSeedAsInitiator, deriveModeBSeedAsResponder } from '../src/core/modeb.js';
import { type ClientOptions, createClient } from '../src/initiator/client.js';
import { sessionRecords } from '../src/initiator/records.js';
import { createResponderHandlers } from '../src/msw.js';
import { type Responder, createResponder } from '../src/responder/responder.js';
import { createMemoryKeyStore } from '../src/responder/stores.js';
import { cliEnv, jsonLine, useCliProcesses } from './helpers/cli-process.js';
import {
  type FetchHandler,
  editDocument,
  editHandshake,
  rejection,
  spy,
} from './helpers/client-kit.js';
import {
  INITIATE,
  RESPOND,
  TOKEN_A,
  TOKEN_B,
  adminRequest,
  bearer,
  twoResponders,
} from './helpers/modeb.js';
import { FIELD_KEY, ORIGIN } from './helpers/responder.js';

const ML = 'edge-ml';
const XW = 'edge-xw';
const MACHINES = { [ML]: 'machine:edge-ml', [XW]: 'machine:edge-xw' };
const BOTH: readonly Alg[] = [ALG, ALG_XWING];

/** A responder serving an ML-KEM-768 machine and an X-Wing one, echoing records. */
function sideBySide(keyStore = createMemoryKeyStore()): Responder {
  return createResponder({
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    alg: { [XW]: ALG_XWING },
    keyStore,
    onRecord: (plaintext) => plaintext,
  });
}

/** Pins for both machines of `responder`. */
async function pinsOf(responder: Responder): Promise<Record<string, string>> {
  return {
    [ML]: (await responder.keyDocument(ML)).fingerprint,
    [XW]: (await responder.keyDocument(XW)).fingerprint,
  };
}

const text = new TextEncoder();

/** Both machines through one client: sessions report their alg, records echo on both. */
async function handshakeBoth(options: ClientOptions, pins: Record<string, string>): Promise<void> {
  const client = createClient({ ...options, pins, algs: BOTH, retry: 0 });
  for (const [slug, alg, keyBytes] of [
    [ML, ALG, 1184],
    [XW, ALG_XWING, 1216],
  ] as const) {
    const doc = await client.fetchKeyDocument(slug);
    expect(doc.alg).toBe(alg);
    expect(doc.publicKey.length).toBe(keyBytes);
    const session = await client.handshake(slug);
    try {
      expect(session).toMatchObject({ alg, fingerprint: pins[slug], trust: 'pinned' });
      const reply = await sessionRecords(session).request(text.encode(`hello ${slug}`));
      expect(new TextDecoder().decode(reply)).toBe(`hello ${slug}`);
    } finally {
      session.wipe();
    }
  }
}

describe('fetch injection', () => {
  test('ML-KEM-768 and X-Wing machines side by side: pinned sessions and records on both', async () => {
    const responder = sideBySide();
    await handshakeBoth(
      { origin: ORIGIN, fetch: (request) => responder.fetch(request) },
      await pinsOf(responder),
    );
    responder.close();
  });

  test('an X-Wing document is unsupported_alg for a client that accepts only ML-KEM-768; nothing is posted', async () => {
    const responder = sideBySide();
    const s = spy((request) => responder.fetch(request));
    const pins = await pinsOf(responder);
    const client = createClient({ origin: ORIGIN, fetch: s.handler, pins, retry: 0 });
    await rejection(client.handshake(XW), 'unsupported_alg');
    const onlyXWing = createClient({
      origin: ORIGIN,
      fetch: s.handler,
      pins,
      algs: [ALG_XWING],
      retry: 0,
    });
    await rejection(onlyXWing.handshake(ML), 'unsupported_alg');
    expect(s.count('POST')).toBe(0);
    responder.close();
  });

  test.each([
    ['an X-Wing key labelled ML-KEM-768', XW, ALG],
    ['an ML-KEM-768 key labelled X-Wing', ML, ALG_XWING],
  ] as const)(
    'a document with %s is invalid_public_key; nothing is posted',
    async (_, slug, alg) => {
      const responder = sideBySide();
      const pins = await pinsOf(responder);
      const s = spy(
        editDocument(
          (request) => responder.fetch(request),
          (doc) => ({ ...doc, alg }),
        ),
      );
      const client = createClient({ origin: ORIGIN, fetch: s.handler, pins, algs: BOTH, retry: 0 });
      await rejection(client.handshake(slug), 'invalid_public_key');
      expect(s.count('POST')).toBe(0);
      responder.close();
    },
  );

  test('a pin for an ML-KEM-768 key and a document of the X-Wing key is fingerprint_mismatch', async () => {
    const responder = sideBySide();
    const pins = await pinsOf(responder);
    // The machine edge-ml now answers with the X-Wing machine's document.
    const handler: FetchHandler = (request) =>
      responder.fetch(new Request(request.url.replace(`/${ML}/`, `/${XW}/`), request));
    const s = spy(handler);
    const client = createClient({
      origin: ORIGIN,
      fetch: s.handler,
      pins: { [ML]: pins[ML] as string },
      algs: BOTH,
      retry: 0,
    });
    await rejection(client.handshake(ML), 'fingerprint_mismatch');
    expect(s.count('POST')).toBe(0);
    responder.close();
  });

  test('a handshake answer with the other alg is response_mismatch', async () => {
    const responder = sideBySide();
    const pins = await pinsOf(responder);
    const client = createClient({
      origin: ORIGIN,
      fetch: editHandshake(
        (request) => responder.fetch(request),
        (response) => ({ ...response, alg: ALG }),
      ),
      pins,
      algs: BOTH,
      retry: 0,
    });
    await rejection(client.handshake(XW), 'response_mismatch');
    responder.close();
  });

  test('the responder refuses a ciphertext of the other alg, and an X25519 part of low order, with 400 invalid_cipher_text', async () => {
    const responder = sideBySide();
    const pins = await pinsOf(responder);
    const post = (slug: string, bytes: Uint8Array) =>
      responder.fetch(
        new Request(`${ORIGIN}/api/keyex/${slug}/handshake`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            cipher_text: Buffer.from(bytes).toString('base64'),
            fingerprint: pins[slug],
          }),
        }),
      );
    for (const [slug, bytes] of [
      [XW, new Uint8Array(1088).fill(7)],
      [ML, new Uint8Array(1120).fill(7)],
      [XW, new Uint8Array(1120).fill(7).fill(0, 1088)],
    ] as const) {
      const response = await post(slug, bytes);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_cipher_text');
    }
    // The refused ciphertext left no replay tag: the same request is refused the same way again.
    const again = await post(XW, new Uint8Array(1120).fill(7).fill(0, 1088));
    expect(((await again.json()) as { error: string }).error).toBe('invalid_cipher_text');
    responder.close();
  });
});

describe('keys at rest', () => {
  test('an X-Wing key is stored as its sealed 32-byte seed with the alg, and survives a restart', async () => {
    const keyStore = createMemoryKeyStore();
    const first = sideBySide(keyStore);
    const pins = await pinsOf(first);
    first.close();
    const stored = await keyStore.get(XW);
    expect(stored?.alg).toBe(ALG_XWING);
    // nonce ‖ AES-GCM(32-byte seed) ‖ tag
    expect(base64Decode(stored?.sealedSecretKey).length).toBe(12 + 32 + 16);
    const second = sideBySide(keyStore);
    expect(await pinsOf(second)).toEqual(pins);
    await handshakeBoth({ origin: ORIGIN, fetch: (request) => second.fetch(request) }, pins);
    second.close();
  });

  test('a stored key of one alg is never served as the other, nor replaced', async () => {
    const keyStore = createMemoryKeyStore();
    const mlKem = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, keyStore });
    await mlKem.keyDocument(XW);
    mlKem.close();
    const before = await keyStore.get(XW);
    const xwing = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore,
      alg: ALG_XWING,
    });
    await rejection(xwing.keyDocument(XW), 'machine_unavailable');
    const response = await xwing.fetch(new Request(`${ORIGIN}/api/keyex/${XW}/pubkey`));
    expect(response.status).toBe(500);
    expect(await keyStore.get(XW)).toEqual(before);
    xwing.close();
  });

  test('the alg option is checked at creation', () => {
    const options = { fieldKey: FIELD_KEY, machines: MACHINES };
    expect(() => createResponder({ ...options, alg: 'ML-KEM-1024' as Alg })).toThrow(TypeError);
    expect(() => createResponder({ ...options, alg: { [XW]: 'x' as Alg } })).toThrow(TypeError);
    expect(() => createClient({ origin: ORIGIN, algs: ['ML-KEM-1024' as Alg] })).toThrow(TypeError);
  });
});

describe('Mode-B to an X-Wing peer', () => {
  test('the core API on both sides: the 32-byte X-Wing seed, equal seeds and commitments', async () => {
    const seed = new Uint8Array(32).fill(3);
    const kem = await loadKemFor(ALG_XWING);
    const publicKey = await kem.publicKey(seed);
    const peer = parseKeyDocument(
      {
        alg: ALG_XWING,
        public_key: base64Encode(publicKey),
        fingerprint: computeFingerprint(publicKey),
        machine_id: 'm-peer',
      },
      [ALG_XWING],
    );
    const mine = await deriveModeBSeedAsInitiator({
      peer,
      localMachineId: 'm-local',
      expectedFingerprint: peer.fingerprint,
    });
    expect(mine.alg).toBe(ALG_XWING);
    expect(mine.cipherText.length).toBe(1120);
    const theirs = await deriveModeBSeedAsResponder({
      alg: ALG_XWING,
      secretKey: seed,
      publicKey,
      localMachineId: 'm-peer',
      peerMachineId: 'm-local',
      cipherText: mine.cipherText,
    });
    expect(theirs.seedCommitment).toBe(mine.seedCommitment);
    expect(theirs.seed).toEqual(mine.seed);
    // X-Wing has no expanded key form: only its 32-byte seed is a secret key.
    await rejection(
      deriveModeBSeedAsResponder({
        alg: ALG_XWING,
        secretKey: new Uint8Array(64),
        publicKey,
        localMachineId: 'm-peer',
        peerMachineId: 'm-local',
        cipherText: mine.cipherText,
      }),
      'invalid_secret_key',
    );
  });

  test('initiate on A (ML-KEM-768) to B (X-Wing), respond on B: equal commitments, alg X-Wing', async () => {
    const pair = twoResponders({ extraB: { alg: ALG_XWING } });
    const peer = await pair.b.keyDocument('core-01');
    expect(peer.alg).toBe(ALG_XWING);
    const initiated = await pair.a.fetch(
      adminRequest(
        'https://edge.test',
        INITIATE,
        {
          local_machine: 'edge-01',
          peer_origin: 'https://core.test',
          peer_machine: 'core-01',
          expected_fingerprint: peer.fingerprint,
        },
        bearer(TOKEN_A),
      ),
    );
    expect(initiated.status).toBe(200);
    const initiation = (await initiated.json()) as Record<string, string>;
    expect(initiation['alg']).toBe(ALG_XWING);
    expect(base64Decode(initiation['cipher_text']).length).toBe(1120);
    const responded = await pair.b.fetch(
      adminRequest(
        'https://core.test',
        RESPOND,
        {
          local_machine: 'core-01',
          peer_machine_id: initiation['local_machine_id'],
          cipher_text: initiation['cipher_text'],
        },
        bearer(TOKEN_B),
      ),
    );
    expect(responded.status).toBe(200);
    const response = (await responded.json()) as Record<string, string>;
    expect(response['alg']).toBe(ALG_XWING);
    expect(response['seed_commitment']).toBe(initiation['seed_commitment']);
    pair.a.close();
    pair.b.close();
  });
});

describe('msw', () => {
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterAll(() => server.close());

  test('ML-KEM-768 and X-Wing machines side by side through msw handlers', async () => {
    const responder = sideBySide();
    const origin = 'https://xwing.msw.test';
    server.use(...createResponderHandlers(responder, origin));
    await handshakeBoth({ origin }, await pinsOf(responder));
    responder.close();
  });
});

describe('zeq-keyex serve --alg X-Wing and handshake', () => {
  const { startServe, stop, fingerprintOf, run } = useCliProcesses('xwing-serve');

  test('an X-Wing serve beside an ML-KEM-768 one; handshake follows the pinned key; --alg restricts', async () => {
    const machine = ['--machine', `${XW}=machine:edge-xw`, '--echo'];
    const xwing = await startServe([...machine, '--alg', ALG_XWING], FIELD_KEY);
    const mlKem = await startServe(machine, FIELD_KEY);
    try {
      for (const [server, alg] of [
        [xwing, ALG_XWING],
        [mlKem, ALG],
      ] as const) {
        const pin = await fingerprintOf(server.origin, XW);
        const exit = await run([
          'handshake',
          server.origin,
          XW,
          '--pin',
          pin,
          '--send',
          'hi',
          '--json',
        ]);
        expect(exit.code).toBe(0);
        expect(jsonLine(exit)).toMatchObject({ ok: true, alg, fingerprint: pin, reply: 'hi' });
        const other = alg === ALG ? ALG_XWING : ALG;
        const refused = await run([
          'handshake',
          server.origin,
          XW,
          '--pin',
          pin,
          '--alg',
          other,
          '--json',
        ]);
        expect(refused.code).not.toBe(0);
        expect(jsonLine(refused)).toMatchObject({ ok: false, code: 'unsupported_alg' });
      }
      const bad = await run(
        ['serve', '--machine', `${XW}=m`, '--alg', 'ML-KEM-1024'],
        cliEnv({ ZEQ_FIELD_KEY: FIELD_KEY }),
      );
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--alg');
      expect(bad.code).not.toBe(0);
    } finally {
      await stop(xwing);
      await stop(mlKem);
    }
  });
});
