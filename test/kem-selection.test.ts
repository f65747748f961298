/**
 * Choosing the KEM backend (`src/kem-backend.ts`): the `kem` option of the client, the responder
 * and Mode-B, what `'auto'` and `'native'` pick on this runtime (asserted against what the runtime
 * offers, worked out independently in test/helpers/runtime.ts), the clear `kem_unavailable` error
 * of `'native'` where there is none (Node 20 and 22), the probe that keeps a wrong native
 * implementation out, and the responder's cache of imported keys.
 */
import { describe, expect, test } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { ALG } from '../src/core/constants.js';
import { base64Decode } from '../src/core/encoding.js';
import { type ErrorCode, isZeqKeyExError } from '../src/core/errors.js';
import { kemDecapsulate, kemEncapsulate, kemKeygen } from '../src/core/kem.js';
import {
  type Kem,
  type KemDriver,
  agreesWithNoble,
  loadKem,
  nativeKem,
  nobleKem,
} from '../src/backends/kem-backend.js';
import { createKeyManager } from '../src/responder/key-manager.js';
import { deriveModeBSeedAsInitiator, deriveModeBSeedAsResponder } from '../src/core/modeb.js';
import { nodeKemDriver } from '../src/backends/platform.node.js';
import { createMemoryKeyStore, createResponder } from '../src/responder.js';
import { deriveSealKey } from '../src/core/sealing.js';
import { expectCodeAsync } from './helpers/errors.js';
import { FIELD_KEY, recordingLogger } from './helpers/responder.js';
import { nodeHasNativeKem } from './helpers/runtime.js';
import { hex, protocolCases, toHex } from './helpers/vector-data.js';

const ORIGIN = 'https://responder.test';
const MACHINES = { 'edge-01': 'machine:edge-01' };
/** What `'auto'` must pick here. */
const EXPECTED = nodeHasNativeKem() ? 'node' : 'noble';

/** A fetch that counts what goes through it. */
function counted(handler: (request: Request) => Promise<Response>): {
  fetch: (request: Request) => Promise<Response>;
  requests: string[];
} {
  const requests: string[] = [];
  return {
    requests,
    fetch(request) {
      requests.push(`${request.method} ${new URL(request.url).pathname}`);
      return handler(request);
    },
  };
}

describe('loadKem', () => {
  test(`'auto' picks ${EXPECTED} on this runtime, once for the process`, async () => {
    const kem = await loadKem();
    expect(kem.backend).toBe(EXPECTED);
    expect(await loadKem('auto')).toBe(kem);
    expect(await loadKem('noble')).toBe(nobleKem);
  });

  test(`'native' ${nodeHasNativeKem() ? 'gives node:crypto' : 'fails with kem_unavailable (no native ML-KEM in this Node)'}`, async () => {
    if (nodeHasNativeKem()) {
      expect((await loadKem('native')).backend).toBe('node');
      return;
    }
    await expectCodeAsync(loadKem('native'), 'kem_unavailable');
  });

  test('an unknown choice is a TypeError', async () => {
    for (const bad of ['fast', 'NOBLE', '', 1, null])
      await expect(loadKem(bad as unknown as 'auto')).rejects.toThrow(TypeError);
  });

  test(`node:crypto ML-KEM is ${nodeHasNativeKem() ? 'present' : 'absent'} in this Node, as the driver sees it`, async () => {
    const driver = await nodeKemDriver();
    expect(driver?.name).toBe(nodeHasNativeKem() ? 'node' : undefined);
  });
});

describe('the probe keeps a wrong native implementation out', () => {
  /** A driver over noble, optionally corrupted at one step. */
  function driver(
    corrupt: 'none' | 'publicKey' | 'encapsulation' | 'decapsulation' | 'rejection' | 'throws',
  ): KemDriver {
    return {
      name: 'webcrypto',
      async importSecretKey(seed) {
        if (corrupt === 'throws') throw new Error('not implemented');
        const { publicKey, secretKey } = kemKeygen(seed);
        if (corrupt === 'publicKey') publicKey[0] = (publicKey[0] as number) ^ 1;
        let first: string | undefined;
        return {
          publicKey,
          async decapsulate(cipherText) {
            const secret = kemDecapsulate(secretKey, cipherText);
            first ??= toHex(cipherText);
            if (corrupt === 'decapsulation') secret[0] = (secret[0] as number) ^ 1;
            // A rejection that answers the genuine secret instead of J(z‖c) is a broken implicit rejection.
            if (corrupt === 'rejection' && toHex(cipherText) !== first)
              return kemDecapsulate(secretKey, hex(first));
            return secret;
          },
        };
      },
      async encapsulate(publicKey) {
        const result = kemEncapsulate(publicKey);
        if (corrupt === 'encapsulation')
          result.sharedSecret[31] = (result.sharedSecret[31] as number) ^ 1;
        return result;
      },
    };
  }

  test('a correct implementation passes', async () => {
    expect(await agreesWithNoble(nativeKem(driver('none')))).toBe(true);
  });

  test.each(['publicKey', 'encapsulation', 'decapsulation', 'rejection', 'throws'] as const)(
    'a wrong %s fails',
    async (corrupt) => {
      expect(await agreesWithNoble(nativeKem(driver(corrupt)))).toBe(false);
    },
  );

  test('a driver that fails to import a seed gives invalid_secret_key, not its own error', async () => {
    await expectCodeAsync(
      nativeKem(driver('throws')).importSecretKey(new Uint8Array(64)),
      'invalid_secret_key',
    );
  });
});

describe('the client', () => {
  test('an unknown kem is a TypeError at creation', () => {
    expect(() => createClient({ origin: ORIGIN, kem: 'fast' as unknown as 'auto' })).toThrow(
      TypeError,
    );
  });

  test(`the session reports the backend: ${EXPECTED} by default, noble when asked`, async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    const pin = (await responder.keyDocument('edge-01')).fingerprint;
    for (const [kem, expected] of [
      [undefined, EXPECTED],
      ['auto', EXPECTED],
      ['noble', 'noble'],
    ] as const) {
      const client = createClient({
        origin: ORIGIN,
        pins: { 'edge-01': pin },
        retry: 0,
        fetch: responder.fetch,
        ...(kem === undefined ? {} : { kem }),
      });
      const session = await client.handshake('edge-01');
      expect(session.kemBackend).toBe(expected);
      session.wipe();
    }
    responder.close();
  });

  test(`kem: 'native' ${nodeHasNativeKem() ? 'uses node:crypto' : 'without a native backend: kem_unavailable, and nothing is sent'}`, async () => {
    const responder = createResponder({ fieldKey: FIELD_KEY, machines: MACHINES });
    const pin = (await responder.keyDocument('edge-01')).fingerprint;
    const { fetch, requests } = counted(responder.fetch);
    const client = createClient({
      origin: ORIGIN,
      pins: { 'edge-01': pin },
      retry: 0,
      fetch,
      kem: 'native',
    });
    if (nodeHasNativeKem()) {
      expect((await client.handshake('edge-01')).kemBackend).toBe('node');
    } else {
      await expectCodeAsync(client.handshake('edge-01'), 'kem_unavailable');
      expect(requests).toEqual([]);
    }
    responder.close();
  });
});

describe('the responder', () => {
  test('an unknown kem is a TypeError at creation', () => {
    expect(() =>
      createResponder({
        fieldKey: FIELD_KEY,
        machines: MACHINES,
        kem: 'openssl' as unknown as 'auto',
      }),
    ).toThrow(TypeError);
  });

  test(`reports its backend (${EXPECTED} by default), and serves any client`, async () => {
    for (const [kem, expected] of [
      [undefined, EXPECTED],
      ['noble', 'noble'],
    ] as const) {
      const responder = createResponder({
        fieldKey: FIELD_KEY,
        machines: MACHINES,
        ...(kem === undefined ? {} : { kem }),
      });
      expect(await responder.kemBackend()).toBe(expected);
      const pin = (await responder.keyDocument('edge-01')).fingerprint;
      for (const clientKem of ['noble', 'auto'] as const) {
        const session = await createClient({
          origin: ORIGIN,
          pins: { 'edge-01': pin },
          retry: 0,
          fetch: responder.fetch,
          kem: clientKem,
        }).handshake('edge-01');
        expect(session.recordKey).toHaveLength(32);
        session.wipe();
      }
      responder.close();
    }
  });

  test(`kem: 'native' ${nodeHasNativeKem() ? 'uses node:crypto' : 'without a native backend: kemBackend() says kem_unavailable; requests get a 500 and nothing is stored'}`, async () => {
    const logger = recordingLogger();
    const keyStore = createMemoryKeyStore();
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      kem: 'native',
      logger,
      keyStore,
    });
    if (nodeHasNativeKem()) {
      expect(await responder.kemBackend()).toBe('node');
      expect((await responder.keyDocument('edge-01')).alg).toBe(ALG);
      responder.close();
      return;
    }
    await expectCodeAsync(responder.kemBackend(), 'kem_unavailable');
    const response = await responder.fetch(new Request(`${ORIGIN}/api/keyex/edge-01/pubkey`));
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: 'internal' });
    expect(logger.lines.map((l) => [l.level, l.fields?.['code']])).toEqual([
      ['error', 'kem_unavailable'],
    ]);
    expect(await keyStore.get('edge-01')).toBeUndefined();
    let thrown: unknown;
    try {
      await responder.keyDocument('edge-01');
    } catch (error) {
      thrown = error;
    }
    expect(isZeqKeyExError(thrown, 'kem_unavailable' satisfies ErrorCode)).toBe(true);
    responder.close();
  });
});

describe('the key manager imports each machine key once', () => {
  test('many lookups, one import; close() disposes of it', async () => {
    let imports = 0;
    let disposed = 0;
    const counting: Kem = {
      ...nobleKem,
      async importSecretKey(seed) {
        imports++;
        const key = await nobleKem.importSecretKey(seed);
        return {
          ...key,
          backend: key.backend,
          publicKey: key.publicKey,
          decapsulate: (cipherText) => key.decapsulate(cipherText),
          dispose() {
            disposed++;
            key.dispose();
          },
        };
      },
    };
    const keyStore = createMemoryKeyStore();
    const options = {
      sealKey: deriveSealKey(hex(FIELD_KEY)),
      keyStore,
      logger: recordingLogger(),
      now: Date.now,
      kem: async () => counting,
    };
    const manager = createKeyManager(options);
    const key = await manager.obtain('edge-01', 'machine:edge-01');
    for (let i = 0; i < 5; i++) {
      expect(await manager.find('edge-01', 'machine:edge-01')).toBe(key);
      const { cipherText, sharedSecret } = kemEncapsulate(key.publicKey);
      expect(toHex(await key.secretKey.decapsulate(cipherText))).toBe(toHex(sharedSecret));
    }
    expect(imports).toBe(1);
    // A second manager (a restart) opens the stored seed: one import again.
    const restarted = createKeyManager(options);
    expect((await restarted.find('edge-01', 'machine:edge-01'))?.fingerprint).toBe(key.fingerprint);
    expect(imports).toBe(2);
    manager.close();
    restarted.close();
    expect(disposed).toBe(2);
  });
});

describe('Mode-B', () => {
  const c = protocolCases.modeB[0];
  if (c === undefined) throw new Error('no mode_b case');
  const publicKey = base64Decode(c.responder_public_key_b64, 1184);
  const peer = {
    alg: ALG,
    publicKey,
    fingerprint: c.responder_fingerprint,
    machineId: c.responder_machine_id,
  };

  test(`both sides report their backend (${EXPECTED} by default) and agree whatever it is`, async () => {
    for (const [kem, expected] of [
      [undefined, EXPECTED],
      ['noble', 'noble'],
    ] as const) {
      const option = kem === undefined ? {} : { kem };
      const mine = await deriveModeBSeedAsInitiator({
        peer,
        localMachineId: c.initiator_machine_id,
        expectedFingerprint: c.responder_fingerprint,
        ...option,
      });
      expect(mine.kemBackend).toBe(expected);
      const theirs = await deriveModeBSeedAsResponder({
        secretKey: hex(c.responder_keygen_seed),
        publicKey,
        localMachineId: c.responder_machine_id,
        peerMachineId: c.initiator_machine_id,
        cipherText: mine.cipherText,
        ...option,
      });
      expect(theirs.kemBackend).toBe(expected);
      expect(theirs.seedCommitment).toBe(mine.seedCommitment);
    }
  });

  test(`kem: 'native' ${nodeHasNativeKem() ? 'uses node:crypto' : 'without a native backend is kem_unavailable'}`, async () => {
    const attempt = deriveModeBSeedAsInitiator({
      peer,
      localMachineId: c.initiator_machine_id,
      expectedFingerprint: c.responder_fingerprint,
      kem: 'native',
    });
    if (nodeHasNativeKem()) expect((await attempt).kemBackend).toBe('node');
    else await expectCodeAsync(attempt, 'kem_unavailable');
  });
});
