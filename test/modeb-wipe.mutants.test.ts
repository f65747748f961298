/**
 * The Mode-B responder (`src/core/modeb.ts`, spec §4) lets go of every secret it made, on success
 * and on failure: the key it imported into a backend is disposed, and its copy of an expanded
 * secret key is wiped. Neither is visible through the API, so the backend loader and the
 * synchronous decapsulation are wrapped here to record what they were given.
 */
import { describe, expect, test, vi } from 'vitest';
import { ALG } from '../src/core/constants.js';
import { base64Decode } from '../src/core/encoding.js';
import { kemKeygen } from '../src/core/kem.js';
import { type ModeBResponderInput, deriveModeBSeedAsResponder } from '../src/core/modeb.js';
import type { Kem, KemSecretKey } from '../src/backends/kem-backend.js';
import { expectCodeAsync } from './helpers/errors.js';
import { type ModeBCase, hex, protocolCases } from './helpers/vector-data.js';

const seen = vi.hoisted(() => ({
  /** Each secret key imported through the loaded backend, with how often it was disposed. */
  imported: [] as { disposed: number }[],
  /** The secret-key argument of each synchronous decapsulation. */
  expanded: [] as Uint8Array[],
  /** Whether imported keys decapsulate by throwing. */
  failDecapsulation: false,
}));

vi.mock('../src/backends/kem-backend.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/backends/kem-backend.js')>();
  return {
    ...actual,
    loadKemFor: async (...args: Parameters<typeof actual.loadKemFor>): Promise<Kem> => {
      const kem = await actual.loadKemFor(...args);
      return {
        ...kem,
        importSecretKey: async (seed: Uint8Array): Promise<KemSecretKey> => {
          const key = await kem.importSecretKey(seed);
          const entry = { disposed: 0 };
          seen.imported.push(entry);
          return {
            backend: key.backend,
            publicKey: key.publicKey,
            decapsulate: async (cipherText) => {
              if (seen.failDecapsulation) throw new Error('decapsulation failed');
              return key.decapsulate(cipherText);
            },
            dispose: () => {
              entry.disposed += 1;
              key.dispose();
            },
          };
        },
      };
    },
  };
});

vi.mock('../src/core/kem.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/core/kem.js')>();
  return {
    ...actual,
    kemDecapsulate: (...args: Parameters<typeof actual.kemDecapsulate>): Uint8Array => {
      seen.expanded.push(args[0]);
      return actual.kemDecapsulate(...args);
    },
  };
});

const c = protocolCases.modeB[0] as ModeBCase;
const SEED = hex(c.responder_keygen_seed);
const PUBLIC_KEY = base64Decode(c.responder_public_key_b64, 1184);
const CIPHER_TEXT = base64Decode(c.cipher_text_b64, 1088);
const zeroed = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

const responder = (over: Partial<ModeBResponderInput> = {}): ModeBResponderInput => ({
  secretKey: SEED.slice(),
  publicKey: PUBLIC_KEY.slice(),
  localMachineId: c.responder_machine_id,
  peerMachineId: c.initiator_machine_id,
  cipherText: CIPHER_TEXT.slice(),
  ...over,
});

function reset(): void {
  seen.imported.length = 0;
  seen.expanded.length = 0;
  seen.failDecapsulation = false;
}

describe('a seed secret key is imported into the backend and disposed', () => {
  test('once the seed is derived', async () => {
    reset();
    const result = await deriveModeBSeedAsResponder(responder({ alg: ALG, kem: 'noble' }));
    expect(result.seedCommitment).toBe(c.seed_commitment);
    expect(seen.imported).toEqual([{ disposed: 1 }]);
  });

  test('when the key is not the public key’s', async () => {
    reset();
    const other = kemKeygen(new Uint8Array(64).fill(5)).publicKey;
    await expectCodeAsync(
      deriveModeBSeedAsResponder(responder({ publicKey: other })),
      'invalid_secret_key',
    );
    expect(seen.imported).toEqual([{ disposed: 1 }]);
  });

  test('when the decapsulation fails', async () => {
    reset();
    seen.failDecapsulation = true;
    await expect(deriveModeBSeedAsResponder(responder())).rejects.toThrow('decapsulation failed');
    expect(seen.imported).toEqual([{ disposed: 1 }]);
  });
});

describe('an expanded secret key is copied, and the copy wiped', () => {
  test('once the seed is derived; the caller’s key is left as it was', async () => {
    reset();
    const { secretKey } = kemKeygen(SEED);
    const given = secretKey.slice();
    const result = await deriveModeBSeedAsResponder(responder({ secretKey: given }));
    expect(result.seedCommitment).toBe(c.seed_commitment);
    expect(seen.imported).toEqual([]);
    expect(seen.expanded).toHaveLength(1);
    const [copy] = seen.expanded as [Uint8Array];
    expect(copy).not.toBe(given);
    expect(copy).toHaveLength(secretKey.length);
    expect(zeroed(copy)).toBe(true);
    expect(given).toEqual(secretKey);
  });
});
