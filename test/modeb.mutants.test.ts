/**
 * The Mode-B core (`src/core/modeb.ts`, spec §4) at each of its input checks and wipes: every
 * malformed input of either role refused with its documented error before any KEM operation, the
 * shared secret wiped once the seed is derived (seen through a backend that keeps a reference to
 * it), the inputs copied before the first await (a caller changing them meanwhile changes
 * nothing), and the transcript binding each field in its place.
 */
import { describe, expect, test } from 'vitest';
import { ALG } from '../src/core/constants.js';
import type { KeyDocument } from '../src/core/document.js';
import { base64Decode } from '../src/core/encoding.js';
import { computeFingerprint } from '../src/core/fingerprint.js';
import { kemEncapsulate, kemKeygen } from '../src/core/kem.js';
import {
  type ModeBInitiatorInput,
  type ModeBResponderInput,
  deriveModeBSeed,
  deriveModeBSeedAsInitiator,
  deriveModeBSeedAsResponder,
  initiateModeB,
  modeBTranscript,
  respondModeB,
} from '../src/core/modeb.js';
import type { KemEncapsulator, KemSecretKey } from '../src/backends/kem-backend.js';
import { isZeqKeyExError } from '../src/core/errors.js';
import { expectCodeAsync } from './helpers/errors.js';
import { type ModeBCase, hex, protocolCases, toHex } from './helpers/vector-data.js';

const c = protocolCases.modeB[0] as ModeBCase;
const SEED = hex(c.responder_keygen_seed);
const PUBLIC_KEY = base64Decode(c.responder_public_key_b64, 1184);
const CIPHER_TEXT = base64Decode(c.cipher_text_b64, 1088);
const FP = c.responder_fingerprint;

const peer = (): KeyDocument => ({
  alg: ALG,
  publicKey: PUBLIC_KEY.slice(),
  fingerprint: FP,
  machineId: c.responder_machine_id,
});
const initiator = (over: Partial<Record<keyof ModeBInitiatorInput, unknown>> = {}) =>
  ({
    peer: peer(),
    localMachineId: c.initiator_machine_id,
    expectedFingerprint: FP,
    ...over,
  }) as ModeBInitiatorInput;
const responder = (over: Partial<Record<keyof ModeBResponderInput, unknown>> = {}) =>
  ({
    secretKey: SEED.slice(),
    publicKey: PUBLIC_KEY.slice(),
    localMachineId: c.responder_machine_id,
    peerMachineId: c.initiator_machine_id,
    cipherText: CIPHER_TEXT.slice(),
    ...over,
  }) as ModeBResponderInput;

/** An encapsulator that gives `sharedSecret` and lets the test see what it was given. */
function keptEncapsulator(sharedSecret: Uint8Array, during?: () => void): KemEncapsulator {
  return {
    backend: 'noble',
    alg: 'ML-KEM-768',
    encapsulate: async (publicKey) => {
      during?.();
      const { cipherText } = kemEncapsulate(publicKey);
      return { cipherText, sharedSecret };
    },
  };
}

/** A secret key whose decapsulation gives `sharedSecret`. */
function keptSecretKey(sharedSecret: Uint8Array, during?: () => void): KemSecretKey {
  return {
    backend: 'noble',
    publicKey: PUBLIC_KEY.slice(),
    decapsulate: async () => {
      during?.();
      return sharedSecret;
    },
    dispose: () => undefined,
  };
}

describe('the initiator’s input checks', () => {
  test('an input that is not an object is a TypeError', async () => {
    for (const input of [null, undefined, 'peer', 7])
      await expect(
        deriveModeBSeedAsInitiator(input as unknown as ModeBInitiatorInput),
      ).rejects.toThrow(TypeError);
  });

  test('a peer that is not a key document is a TypeError', async () => {
    for (const value of [null, undefined, 'doc', {}, { ...peer(), publicKey: [1, 2] }])
      await expect(deriveModeBSeedAsInitiator(initiator({ peer: value }))).rejects.toThrow(
        TypeError,
      );
    await expect(
      deriveModeBSeedAsInitiator(initiator({ peer: { ...peer(), machineId: 'bad id' } })),
    ).rejects.toThrow(TypeError);
  });

  test('a peer of another alg is unsupported_alg; a short key invalid_public_key', async () => {
    await expectCodeAsync(
      deriveModeBSeedAsInitiator(initiator({ peer: { ...peer(), alg: 'ML-KEM-1024' } })),
      'unsupported_alg',
    );
    const short = PUBLIC_KEY.subarray(0, 1183);
    await expectCodeAsync(
      deriveModeBSeedAsInitiator(
        initiator({
          peer: { ...peer(), publicKey: short },
          expectedFingerprint: computeFingerprint(short),
        }),
      ),
      'invalid_public_key',
    );
  });

  test('the pin may be a set during a rotation; the key must be one of them', async () => {
    const result = await deriveModeBSeedAsInitiator(
      initiator({ expectedFingerprint: ['ab'.repeat(32), FP.toUpperCase()] }),
    );
    expect(result.peerFingerprint).toBe(FP);
    await expectCodeAsync(
      deriveModeBSeedAsInitiator(initiator({ expectedFingerprint: ['ab'.repeat(32)] })),
      'fingerprint_mismatch',
    );
  });

  test('the result names both machines, the key, the alg and the backend', async () => {
    const shared = new Uint8Array(32).fill(9);
    const result = await initiateModeB(initiator(), keptEncapsulator(shared));
    expect(result).toMatchObject({
      peerMachineId: c.responder_machine_id,
      peerFingerprint: FP,
      localMachineId: c.initiator_machine_id,
      alg: ALG,
      kemBackend: 'noble',
    });
    const transcript = modeBTranscript({
      alg: ALG,
      initiatorMachineId: c.initiator_machine_id,
      responderMachineId: c.responder_machine_id,
      responderPublicKey: PUBLIC_KEY,
      cipherText: result.cipherText,
    });
    expect(toHex(result.transcript)).toBe(toHex(transcript));
    const expected = deriveModeBSeed(new Uint8Array(32).fill(9), transcript);
    expect(toHex(result.seed)).toBe(toHex(expected.seed));
    expect(result.seedCommitment).toBe(expected.seedCommitment);
  });

  test('the shared secret is wiped once the seed is derived', async () => {
    const shared = new Uint8Array(32).fill(9);
    await initiateModeB(initiator(), keptEncapsulator(shared));
    expect(shared.every((b) => b === 0)).toBe(true);
  });

  test('the peer’s key is copied before encapsulating: changing it meanwhile changes nothing', async () => {
    const input = initiator();
    const shared = new Uint8Array(32).fill(9);
    const result = await initiateModeB(
      input,
      keptEncapsulator(shared, () => input.peer.publicKey.fill(0)),
    );
    const transcript = modeBTranscript({
      alg: ALG,
      initiatorMachineId: c.initiator_machine_id,
      responderMachineId: c.responder_machine_id,
      responderPublicKey: PUBLIC_KEY,
      cipherText: result.cipherText,
    });
    expect(toHex(result.transcript)).toBe(toHex(transcript));
  });
});

describe('the backends’ callers', () => {
  test('an unknown kem is a TypeError for every entry, whatever the key', async () => {
    const kem = 'fastest';
    await expect(
      initiateModeB(initiator({ kem }), keptEncapsulator(new Uint8Array(32))),
    ).rejects.toThrow(TypeError);
    const { secretKey } = kemKeygen(SEED);
    await expect(deriveModeBSeedAsResponder(responder({ secretKey, kem }))).rejects.toThrow(
      TypeError,
    );
    await expect(
      respondModeB(responder({ kem }), keptSecretKey(new Uint8Array(32))),
    ).rejects.toThrow(TypeError);
  });

  test('a ciphertext of the wrong length is refused before an imported key sees it', async () => {
    let decapsulated = false;
    const key = keptSecretKey(new Uint8Array(32), () => {
      decapsulated = true;
    });
    for (const cipherText of [new Uint8Array(1087), new Uint8Array(1089), 'AAAA'])
      await expectCodeAsync(respondModeB(responder({ cipherText }), key), 'invalid_cipher_text');
    expect(decapsulated).toBe(false);
  });
});

describe('the responder’s input checks', () => {
  test('an input that is not an object is a TypeError', async () => {
    for (const input of [null, undefined, 'x'])
      await expect(
        deriveModeBSeedAsResponder(input as unknown as ModeBResponderInput),
      ).rejects.toThrow(TypeError);
  });

  test('each malformed field is refused with its code', async () => {
    await expectCodeAsync(
      deriveModeBSeedAsResponder(responder({ alg: 'X-Wing-2' })),
      'unsupported_alg',
    );
    for (const field of ['localMachineId', 'peerMachineId'] as const)
      for (const value of ['', 'a b', 7])
        await expect(deriveModeBSeedAsResponder(responder({ [field]: value }))).rejects.toThrow(
          TypeError,
        );
    await expect(deriveModeBSeedAsResponder(responder({ kem: 'fastest' }))).rejects.toThrow(
      TypeError,
    );
    for (const cipherText of [
      new Uint8Array(1087),
      new Uint8Array(1089),
      new Uint8Array(0),
      Array.from(CIPHER_TEXT),
      'AAAA',
    ])
      await expectCodeAsync(
        deriveModeBSeedAsResponder(responder({ cipherText })),
        'invalid_cipher_text',
      );
    await expectCodeAsync(
      deriveModeBSeedAsResponder(responder({ publicKey: PUBLIC_KEY.subarray(1) })),
      'invalid_public_key',
    );
    for (const secretKey of [undefined, 'seed', Array.from(SEED)])
      await expectCodeAsync(
        deriveModeBSeedAsResponder(responder({ secretKey })),
        'invalid_secret_key',
      );
  });

  test('the default alg is ML-KEM-768, and it may be named', async () => {
    const implicit = await deriveModeBSeedAsResponder(responder());
    const named = await deriveModeBSeedAsResponder(responder({ alg: ALG }));
    expect(named.seedCommitment).toBe(implicit.seedCommitment);
    expect(implicit.seedCommitment).toBe(c.seed_commitment);
  });

  test('an expanded key opens with noble under auto, and must be the public key’s', async () => {
    const { secretKey } = kemKeygen(SEED);
    const result = await deriveModeBSeedAsResponder(responder({ secretKey: secretKey.slice() }));
    expect(result.seedCommitment).toBe(c.seed_commitment);
    expect(result.kemBackend).toBe('noble');
    const tampered = secretKey.slice();
    const at = tampered.length - 64 - 1;
    tampered[at] = (tampered[at] as number) ^ 1;
    await expectCodeAsync(
      deriveModeBSeedAsResponder(responder({ secretKey: tampered })),
      'invalid_secret_key',
    );
    const shifted = secretKey.slice(1);
    await expectCodeAsync(
      deriveModeBSeedAsResponder(responder({ secretKey: shifted })),
      'invalid_secret_key',
    );
    await expectCodeAsync(
      deriveModeBSeedAsResponder(responder({ secretKey: new Uint8Array(1184 + 63) })),
      'invalid_secret_key',
    );
    // The caller's key is not modified.
    expect(toHex(secretKey)).toBe(toHex(kemKeygen(SEED).secretKey));
  });

  test('a secret key of another public key is invalid_secret_key, before decapsulating', async () => {
    let decapsulated = false;
    const other: KemSecretKey = {
      ...keptSecretKey(new Uint8Array(32), () => {
        decapsulated = true;
      }),
      publicKey: kemKeygen(new Uint8Array(64).fill(1)).publicKey,
    };
    await expectCodeAsync(respondModeB(responder(), other), 'invalid_secret_key');
    expect(decapsulated).toBe(false);
  });

  test('the shared secret is wiped; inputs changed during the decapsulation change nothing', async () => {
    const input = responder();
    const shared = new Uint8Array(32).fill(4);
    const result = await respondModeB(
      input,
      keptSecretKey(shared, () => {
        input.cipherText.fill(1);
        input.publicKey.fill(1);
      }),
    );
    expect(shared.every((b) => b === 0)).toBe(true);
    const expected = deriveModeBSeed(
      new Uint8Array(32).fill(4),
      modeBTranscript({
        alg: ALG,
        initiatorMachineId: c.initiator_machine_id,
        responderMachineId: c.responder_machine_id,
        responderPublicKey: PUBLIC_KEY,
        cipherText: CIPHER_TEXT,
      }),
    );
    expect(result.seedCommitment).toBe(expected.seedCommitment);
    expect(toHex(result.transcript)).toBe(c.transcript);
    expect(result.kemBackend).toBe('noble');
  });
});

describe('the seed and its transcript', () => {
  test('deriveModeBSeed returns a copy of the transcript', () => {
    const transcript = new Uint8Array(32).fill(2);
    const seed = deriveModeBSeed(new Uint8Array(32).fill(1), transcript);
    expect(seed.transcript).not.toBe(transcript);
    expect(toHex(seed.transcript)).toBe(toHex(transcript));
    expect(seed.seed).toHaveLength(32);
    expect(seed.seedCommitment).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('what the errors name, and the refusals only a guard makes', () => {
  const failure = async (promise: Promise<unknown>): Promise<Error> => {
    const error: unknown = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    return error as Error;
  };

  test('an initiator input that is not an object is a TypeError naming the fields expected', async () => {
    for (const input of [null, undefined, 'peer', 7]) {
      const error = await failure(
        deriveModeBSeedAsInitiator(input as unknown as ModeBInitiatorInput),
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/expectedFingerprint/);
    }
  });

  test('a peer that is not a key document object is a TypeError pointing to parseKeyDocument', async () => {
    // A function carrying a document's fields is not a document either.
    const callable = Object.assign(() => undefined, peer());
    for (const value of [null, 'doc', 7, {}, callable]) {
      const error = await failure(deriveModeBSeedAsInitiator(initiator({ peer: value })));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/parseKeyDocument/);
    }
  });

  test('a responder input that is not an object is a TypeError naming the fields expected', async () => {
    for (const input of [null, undefined, 'x', 7]) {
      const error = await failure(
        deriveModeBSeedAsResponder(input as unknown as ModeBResponderInput),
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/cipherText/);
    }
  });

  test('a backend of another alg is unsupported_alg, before it encapsulates', async () => {
    let encapsulated = false;
    const xwing: KemEncapsulator = {
      ...keptEncapsulator(new Uint8Array(32), () => {
        encapsulated = true;
      }),
      alg: 'X-Wing',
    };
    await expectCodeAsync(initiateModeB(initiator(), xwing), 'unsupported_alg');
    expect(encapsulated).toBe(false);
  });

  test('a secret key of another public key says so, for a seed and for an expanded key', async () => {
    const other = kemKeygen(new Uint8Array(64).fill(1)).publicKey;
    const imported = await failure(
      respondModeB(responder({ publicKey: other }), keptSecretKey(new Uint8Array(32))),
    );
    expect(isZeqKeyExError(imported, 'invalid_secret_key')).toBe(true);
    expect(imported.message).toMatch(/public key/);
    const expanded = await failure(
      deriveModeBSeedAsResponder(
        responder({ secretKey: kemKeygen(SEED).secretKey, publicKey: other }),
      ),
    );
    expect(isZeqKeyExError(expanded, 'invalid_secret_key')).toBe(true);
    expect(expanded.message).toMatch(/public key/);
  });

  test('X-Wing has no expanded key: any other length is invalid_secret_key, even one holding the key', async () => {
    const xwingPublicKey = new Uint8Array(1216).fill(7);
    // Shaped like an expanded ML-KEM-768 key around the X-Wing public key.
    const shaped = new Uint8Array(2400);
    shaped.set(xwingPublicKey, 2400 - 64 - 1216);
    await expectCodeAsync(
      deriveModeBSeedAsResponder(
        responder({
          alg: 'X-Wing',
          secretKey: shaped,
          publicKey: xwingPublicKey,
          cipherText: new Uint8Array(1120),
        }),
      ),
      'invalid_secret_key',
    );
  });

  test("an expanded key with kem: 'native' is a TypeError saying a seed is needed", async () => {
    const error = await failure(
      deriveModeBSeedAsResponder(
        responder({ secretKey: kemKeygen(SEED).secretKey, kem: 'native' }),
      ),
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/seed/);
  });
});
