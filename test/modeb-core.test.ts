/**
 * Mode-B without HTTP (spec §4, §5): every `mode_b` vector through `deriveModeBSeedAsInitiator`
 * and `deriveModeBSeedAsResponder`, the Mode-B sealing vector through `unsealStoredSeed`, and the
 * refusals of the two core functions (pin, self-inconsistent document, a secret key that is not the
 * public key's), with inputs left unmodified.
 */
import { describe, expect, test } from 'vitest';
import { ALG } from '../src/core/constants.js';
import type { KeyDocument } from '../src/core/document.js';
import { base64Decode, base64Encode } from '../src/core/encoding.js';
import { computeFingerprint } from '../src/core/fingerprint.js';
import { kemKeygen } from '../src/core/kem.js';
import { deriveModeBSeedAsInitiator, deriveModeBSeedAsResponder } from '../src/core/modeb.js';
import { deriveModeBSeedAsInitiatorDerandomized } from '../src/internal/testing.js';
import {
  type StoredSeed,
  createMemorySeedStore,
  isStoredSeed,
  unsealStoredSeed,
} from '../src/responder/seed-store.js';
import { deriveSealKey, sealSeed } from '../src/core/sealing.js';
import { expectCode, expectCodeAsync } from './helpers/errors.js';
import { type ModeBCase, expectCount, hex, protocolCases, toHex } from './helpers/vector-data.js';

const { modeB } = protocolCases;
const seedSealing = expectCount(
  'sealing (mode-b seed)',
  protocolCases.sealing.filter((c) => c.what === 'mode-b seed'),
  1,
);

function documentOf(c: ModeBCase): KeyDocument {
  const publicKey = base64Decode(c.responder_public_key_b64, 1184);
  return {
    alg: ALG,
    publicKey,
    fingerprint: c.responder_fingerprint,
    machineId: c.responder_machine_id,
  };
}

describe('mode_b vectors through the core functions', () => {
  test.each(modeB.map((c, i) => [i, c] as const))(
    'case %i: initiator and responder derive the vector seed and commitment',
    async (_, c) => {
      const peer = documentOf(c);
      const publicKeyBefore = toHex(peer.publicKey);
      const initiation = await deriveModeBSeedAsInitiatorDerandomized(
        {
          peer,
          localMachineId: c.initiator_machine_id,
          expectedFingerprint: c.responder_fingerprint,
        },
        hex(c.encaps_m),
      );
      expect(base64Encode(initiation.cipherText)).toBe(c.cipher_text_b64);
      expect(toHex(initiation.transcript)).toBe(c.transcript);
      expect(toHex(initiation.seed)).toBe(c.seed);
      expect(initiation.seedCommitment).toBe(c.seed_commitment);
      expect(initiation).toMatchObject({
        peerMachineId: c.responder_machine_id,
        peerFingerprint: c.responder_fingerprint,
        localMachineId: c.initiator_machine_id,
        alg: ALG,
      });
      expect(toHex(peer.publicKey)).toBe(publicKeyBefore);

      // The responder, once with the 64-byte seed as stored at rest, once with the expanded key.
      const seed = hex(c.responder_keygen_seed);
      const { secretKey } = kemKeygen(seed);
      const cipherText = base64Decode(c.cipher_text_b64, 1088);
      for (const key of [seed, secretKey]) {
        const keyBefore = toHex(key);
        const derived = await deriveModeBSeedAsResponder({
          secretKey: key,
          publicKey: peer.publicKey,
          localMachineId: c.responder_machine_id,
          peerMachineId: c.initiator_machine_id,
          cipherText,
        });
        expect(toHex(derived.seed)).toBe(c.seed);
        expect(derived.seedCommitment).toBe(c.seed_commitment);
        expect(toHex(derived.transcript)).toBe(c.transcript);
        expect(toHex(key)).toBe(keyBefore);
      }
      expect(base64Encode(cipherText)).toBe(c.cipher_text_b64);
    },
  );

  test.each(modeB.map((c, i) => [i, c] as const))(
    'case %i: the pin may be one of several, in any parsePin form',
    async (_, c) => {
      const other = 'ab'.repeat(32);
      const grouped = c.responder_fingerprint.toUpperCase().match(/../g)?.join(':') as string;
      const result = await deriveModeBSeedAsInitiatorDerandomized(
        {
          peer: documentOf(c),
          localMachineId: c.initiator_machine_id,
          expectedFingerprint: [other, grouped],
        },
        hex(c.encaps_m),
      );
      expect(result.seedCommitment).toBe(c.seed_commitment);
    },
  );
});

describe('the Mode-B sealing vector through the seed store functions', () => {
  test.each(seedSealing.map((c, i) => [i, c] as const))(
    'case %i: unsealStoredSeed opens the vector; a moved record does not open',
    async (_, c) => {
      const stored: StoredSeed = {
        alg: ALG,
        role: 'initiator',
        localSlug: 'local-01',
        localMachineId: c.local_machine_id as string,
        peerMachineId: c.peer_machine_id as string,
        fingerprint: 'd8fc510ff9c8985265e94d080139116f734db7b79a7828721f1a4670cd3d4341',
        seedCommitment: c.seed_commitment as string,
        sealedSeed: c.sealed_b64,
        createdAt: '2030-01-01T00:00:00.000Z',
      };
      expect(isStoredSeed(stored)).toBe(true);
      expect(toHex(unsealStoredSeed(c.field_key, stored))).toBe(c.plaintext);
      expect(toHex(unsealStoredSeed(hex(c.field_key), stored))).toBe(c.plaintext);
      // Through a store and back.
      const store = createMemorySeedStore();
      await store.put(stored);
      const again = await store.get(stored.localMachineId, stored.peerMachineId);
      expect(again).toEqual(stored);
      expect(toHex(unsealStoredSeed(c.field_key, again as StoredSeed))).toBe(c.plaintext);
      // Bound to both machines and the commitment, and to the field key.
      expectCode(
        () => unsealStoredSeed(c.field_key, { ...stored, peerMachineId: 'm-peer-03' }),
        'unseal_failed',
      );
      expectCode(
        () =>
          unsealStoredSeed(c.field_key, {
            ...stored,
            localMachineId: stored.peerMachineId,
            peerMachineId: stored.localMachineId,
          }),
        'unseal_failed',
      );
      expectCode(
        () => unsealStoredSeed(c.field_key, { ...stored, seedCommitment: '00'.repeat(32) }),
        'unseal_failed',
      );
      expectCode(() => unsealStoredSeed('11'.repeat(32), stored), 'unseal_failed');
      expectCode(
        () => unsealStoredSeed(c.field_key, { ...stored, role: 'other' } as unknown as StoredSeed),
        'unseal_failed',
      );
      expectCode(() => unsealStoredSeed('not a key', stored), 'invalid_field_key');
    },
  );

  test('a vector seed sealed by sealSeed opens with unsealStoredSeed', () => {
    const c = modeB[0] as ModeBCase;
    const fieldKey = 'e198bfd1fcff9a555c1979d97dc8bd3b786d9ab1803698123b9dc4766a75bf21';
    const context = {
      localMachineId: c.initiator_machine_id,
      peerMachineId: c.responder_machine_id,
      seedCommitment: c.seed_commitment,
    };
    const sealed = sealSeed(deriveSealKey(hex(fieldKey)), context, hex(c.seed));
    const stored: StoredSeed = {
      ...context,
      alg: ALG,
      role: 'initiator',
      localSlug: 'local-01',
      fingerprint: c.responder_fingerprint,
      sealedSeed: sealed,
      createdAt: '2030-01-01T00:00:00.000Z',
    };
    expect(toHex(unsealStoredSeed(fieldKey, stored))).toBe(c.seed);
  });
});

describe('refusals', () => {
  const c = modeB[0] as ModeBCase;

  test('a wrong pin is fingerprint_mismatch with both fingerprints, before encapsulating', async () => {
    let thrown: unknown;
    try {
      await deriveModeBSeedAsInitiator({
        peer: documentOf(c),
        localMachineId: c.initiator_machine_id,
        expectedFingerprint: 'ab'.repeat(32),
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({
      code: 'fingerprint_mismatch',
      expectedFingerprint: 'ab'.repeat(32),
      actualFingerprint: c.responder_fingerprint,
    });
  });

  test('a hand-made document whose fingerprint is not its key is fingerprint_inconsistent', async () => {
    const peer = { ...documentOf(c), fingerprint: 'ab'.repeat(32) };
    await expectCodeAsync(
      deriveModeBSeedAsInitiator({
        peer,
        localMachineId: 'm-1',
        expectedFingerprint: 'ab'.repeat(32),
      }),
      'fingerprint_inconsistent',
    );
  });

  test('a public key failing the modulus check is invalid_public_key', async () => {
    const publicKey = new Uint8Array(1184).fill(0xff);
    const peer: KeyDocument = {
      alg: ALG,
      publicKey,
      fingerprint: computeFingerprint(publicKey),
      machineId: 'm-2',
    };
    await expectCodeAsync(
      deriveModeBSeedAsInitiator({
        peer,
        localMachineId: 'm-1',
        expectedFingerprint: peer.fingerprint,
      }),
      'invalid_public_key',
    );
  });

  test('programmer input is a TypeError', async () => {
    const peer = documentOf(c);
    await expect(
      deriveModeBSeedAsInitiator({
        peer,
        localMachineId: 'bad id!',
        expectedFingerprint: c.responder_fingerprint,
      }),
    ).rejects.toThrow(TypeError);
    await expect(
      deriveModeBSeedAsInitiator({ peer, localMachineId: 'm-1', expectedFingerprint: 'xyz' }),
    ).rejects.toThrow(TypeError);
    await expect(
      deriveModeBSeedAsInitiator({ peer, localMachineId: 'm-1', expectedFingerprint: [] }),
    ).rejects.toThrow(TypeError);
    await expect(
      deriveModeBSeedAsResponder({
        secretKey: new Uint8Array(64),
        publicKey: peer.publicKey,
        localMachineId: 'm 1',
        peerMachineId: 'm-2',
        cipherText: new Uint8Array(1088),
      }),
    ).rejects.toThrow(TypeError);
    const kem = 'fast' as unknown as 'auto';
    await expect(
      deriveModeBSeedAsInitiator({
        peer,
        localMachineId: 'm-1',
        expectedFingerprint: c.responder_fingerprint,
        kem,
      }),
    ).rejects.toThrow(TypeError);
    // Native backends import seeds only: an expanded key with kem 'native' is a mistake.
    const expanded = kemKeygen(hex(c.responder_keygen_seed)).secretKey;
    const input = {
      publicKey: peer.publicKey,
      localMachineId: 'm-1',
      peerMachineId: 'm-2',
      cipherText: new Uint8Array(1088),
    };
    await expect(
      deriveModeBSeedAsResponder({ ...input, secretKey: expanded, kem: 'native' }),
    ).rejects.toThrow(TypeError);
  });

  test('a secret key of another key pair, or of the wrong length, is invalid_secret_key', async () => {
    const peer = documentOf(c);
    const cipherText = base64Decode(c.cipher_text_b64, 1088);
    const other = kemKeygen(new Uint8Array(64).fill(7));
    const base = {
      publicKey: peer.publicKey,
      localMachineId: c.responder_machine_id,
      peerMachineId: c.initiator_machine_id,
      cipherText,
    };
    await expectCodeAsync(
      deriveModeBSeedAsResponder({ ...base, secretKey: new Uint8Array(64).fill(7) }),
      'invalid_secret_key',
    );
    await expectCodeAsync(
      deriveModeBSeedAsResponder({ ...base, secretKey: other.secretKey }),
      'invalid_secret_key',
    );
    await expectCodeAsync(
      deriveModeBSeedAsResponder({ ...base, secretKey: new Uint8Array(100) }),
      'invalid_secret_key',
    );
    await expectCodeAsync(
      deriveModeBSeedAsResponder({
        ...base,
        secretKey: hex(c.responder_keygen_seed),
        cipherText: new Uint8Array(1087),
      }),
      'invalid_cipher_text',
    );
  });

  test('a ciphertext made for another key gives another seed (implicit rejection), so commitments differ', async () => {
    const peer = documentOf(c);
    const initiation = await deriveModeBSeedAsInitiator({
      peer,
      localMachineId: c.initiator_machine_id,
      expectedFingerprint: c.responder_fingerprint,
    });
    const responder = await deriveModeBSeedAsResponder({
      secretKey: hex(c.responder_keygen_seed),
      publicKey: peer.publicKey,
      localMachineId: c.responder_machine_id,
      peerMachineId: c.initiator_machine_id,
      cipherText: initiation.cipherText,
    });
    expect(responder.seedCommitment).toBe(initiation.seedCommitment);
    const tampered = initiation.cipherText.slice();
    tampered[0] = (tampered[0] as number) ^ 1;
    const wrong = await deriveModeBSeedAsResponder({
      secretKey: hex(c.responder_keygen_seed),
      publicKey: peer.publicKey,
      localMachineId: c.responder_machine_id,
      peerMachineId: c.initiator_machine_id,
      cipherText: tampered,
    });
    expect(wrong.seedCommitment).not.toBe(initiation.seedCommitment);
    // Another initiator id changes the transcript, so the seed too.
    const renamed = await deriveModeBSeedAsResponder({
      secretKey: hex(c.responder_keygen_seed),
      publicKey: peer.publicKey,
      localMachineId: c.responder_machine_id,
      peerMachineId: 'someone-else',
      cipherText: initiation.cipherText,
    });
    expect(renamed.seedCommitment).not.toBe(initiation.seedCommitment);
  });
});
