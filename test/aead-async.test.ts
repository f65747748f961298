/**
 * The records' asynchronous AES-256-GCM key (`AsyncAeadKey`) of the portable build: WebCrypto's
 * (`src/webcrypto-aead.ts`, run here on Node's WebCrypto). The Node build has none: its
 * asynchronous record calls run the synchronous `node:crypto` ones. Against the Wycheproof AES-256-GCM vectors and against noble on random inputs;
 * inputs are read when a call is made, also before the key is imported; a forgotten key refuses
 * later calls but settles the ones already made; and a runtime without WebCrypto, or with one
 * that disagrees with noble, gets noble.
 */
import { fc, test as prop } from '@fast-check/vitest';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { AsyncAeadKey } from '../src/backends/aead-backend.js';
import { nobleAead } from '../src/internal/testing.js';
import { concat } from '../src/core/encoding.js';
import { aeadKeyAsync } from '../src/backends/platform.node.js';
import { aeadBackendAsync, randomBytes } from '../src/core/primitives.js';
import { webCryptoAeadBackend, webCryptoAeadKey } from '../src/backends/webcrypto-aead.js';
import { hex, toHex } from './helpers/vectors.js';
import { aesGcm256Cases, label } from './helpers/wycheproof.js';

const KEYS: readonly (readonly [string, (key: Uint8Array) => AsyncAeadKey])[] = [
  ['WebCrypto (portable build)', webCryptoAeadKey],
];

afterEach(() => {
  vi.unstubAllGlobals();
  vi.resetModules();
});

test('the portable build uses WebCrypto here; the Node build node:crypto, through its synchronous calls', async () => {
  expect(await webCryptoAeadBackend()).toBe('webcrypto');
  expect(await aeadBackendAsync()).toBe('node');
  expect(aeadKeyAsync).toBeUndefined();
});

describe.each(KEYS)('Wycheproof aes_gcm_test through the %s key', (_, keyOf) => {
  test.each(aesGcm256Cases().map(({ test: t }) => [label(t), t] as const))('%s', async (__, t) => {
    const key = keyOf(hex(t.key));
    const [nonce, aad] = [hex(t.iv), hex(t.aad)];
    const sealed = concat(hex(t.ct), hex(t.tag));
    if (t.result === 'valid') {
      const out = await key.seal(nonce, hex(t.msg), aad);
      expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
      expect(toHex(out)).toBe(t.ct + t.tag);
      expect(toHex((await key.open(nonce, sealed, aad)) ?? new Uint8Array(1))).toBe(t.msg);
    } else {
      expect(await key.open(nonce, sealed, aad)).toBeUndefined();
    }
    key.forget();
  });
});

describe.each(KEYS)('the %s key agrees with noble', (_, keyOf) => {
  const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> =>
    fc.uint8Array({ minLength: min, maxLength: max });
  prop.prop([bytes(32, 32), bytes(12, 12), bytes(0, 300), bytes(0, 80), bytes(0, 13), fc.nat()], {
    numRuns: 100,
  })(
    'same bytes with the prefix in front, opened by noble and opening noble, any flipped bit refused',
    async (keyBytes, nonce, plaintext, aad, prefix, flip) => {
      const key = keyOf(keyBytes);
      const expected = nobleAead.seal(keyBytes, nonce, plaintext, aad);
      expect(toHex(await key.seal(nonce, plaintext, aad, prefix))).toBe(
        toHex(prefix) + toHex(expected),
      );
      expect(toHex((await key.open(nonce, expected, aad)) ?? new Uint8Array(1))).toBe(
        toHex(plaintext),
      );
      const tampered = expected.slice();
      const bit = flip % (tampered.length * 8);
      tampered[bit >>> 3] = (tampered[bit >>> 3] as number) ^ (1 << (bit & 7));
      expect(await key.open(nonce, tampered, aad)).toBeUndefined();
      key.forget();
    },
  );
});

describe.each(KEYS)('the %s key reads its inputs when called', (_, keyOf) => {
  test('the key, plaintext, aad and prefix changed right after the calls change nothing', async () => {
    const [keyBytes, nonce, plaintext, aad, prefix] = [
      randomBytes(32),
      randomBytes(12),
      randomBytes(1000),
      randomBytes(20),
      randomBytes(13),
    ];
    const expected = toHex(prefix) + toHex(nobleAead.seal(keyBytes, nonce, plaintext, aad));
    // Called at once, before any import can have completed.
    const key = keyOf(keyBytes.slice());
    const inputs = [nonce.slice(), plaintext.slice(), aad.slice(), prefix.slice()] as const;
    const sealing = key.seal(...inputs);
    for (const input of inputs) input.fill(0xa5);
    expect(toHex(await sealing)).toBe(expected);
    // And once the key is ready.
    const again = [nonce.slice(), plaintext.slice(), aad.slice(), prefix.slice()] as const;
    const resealing = key.seal(...again);
    for (const input of again) input.fill(0x5a);
    expect(toHex(await resealing)).toBe(expected);
    const sealed = nobleAead.seal(keyBytes, nonce, plaintext, aad);
    const opening = key.open(nonce, sealed, aad);
    sealed.fill(0);
    expect(toHex((await opening) ?? new Uint8Array(1))).toBe(toHex(plaintext));
    key.forget();
  });

  test('the caller may wipe the key buffer once the key is made', async () => {
    const keyBytes = randomBytes(32);
    const [nonce, plaintext, aad] = [randomBytes(12), randomBytes(64), randomBytes(5)];
    const expected = toHex(nobleAead.seal(keyBytes, nonce, plaintext, aad));
    const buffer = keyBytes.slice();
    const key = keyOf(buffer);
    buffer.fill(0);
    expect(toHex(await key.seal(nonce, plaintext, aad))).toBe(expected);
    key.forget();
  });
});

describe('forgetting a WebCrypto key', () => {
  test('calls made before settle with the right bytes; later calls reject', async () => {
    const keyBytes = randomBytes(32);
    const [nonce, plaintext, aad] = [randomBytes(12), randomBytes(300), randomBytes(7)];
    const key = webCryptoAeadKey(keyBytes);
    const early = key.seal(nonce, plaintext, aad);
    key.forget();
    expect(toHex(await early)).toBe(toHex(nobleAead.seal(keyBytes, nonce, plaintext, aad)));
    await expect(key.seal(nonce, plaintext, aad)).rejects.toThrow(TypeError);
    await expect(key.open(nonce, new Uint8Array(16), aad)).rejects.toThrow(TypeError);
  });
});

describe('a runtime whose WebCrypto cannot be used gets noble', () => {
  async function freshModule(): Promise<typeof import('../src/backends/webcrypto-aead.js')> {
    vi.resetModules();
    return import('../src/backends/webcrypto-aead.js');
  }

  async function roundTrip(
    module: typeof import('../src/backends/webcrypto-aead.js'),
  ): Promise<void> {
    const keyBytes = randomBytes(32);
    const [nonce, plaintext, aad] = [randomBytes(12), randomBytes(100), randomBytes(9)];
    const key = module.webCryptoAeadKey(keyBytes);
    const sealed = await key.seal(nonce, plaintext, aad);
    expect(toHex(sealed)).toBe(toHex(nobleAead.seal(keyBytes, nonce, plaintext, aad)));
    expect(toHex((await key.open(nonce, sealed, aad)) ?? new Uint8Array(1))).toBe(toHex(plaintext));
    sealed[0] = (sealed[0] as number) ^ 1;
    expect(await key.open(nonce, sealed, aad)).toBeUndefined();
    key.forget();
    await expect(key.seal(nonce, plaintext, aad)).rejects.toThrow(TypeError);
  }

  test('no crypto.subtle (a page on plain http:)', async () => {
    vi.stubGlobal('crypto', {
      getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto),
    });
    const module = await freshModule();
    expect(await module.webCryptoAeadBackend()).toBe('noble');
    await roundTrip(module);
  });

  test('a WebCrypto whose AES-GCM gives other bytes', async () => {
    const real = globalThis.crypto.subtle;
    const wrong = {
      importKey: real.importKey.bind(real),
      decrypt: real.decrypt.bind(real),
      encrypt: async (...args: Parameters<SubtleCrypto['encrypt']>) => {
        const out = new Uint8Array(await real.encrypt(...args));
        out[0] = (out[0] as number) ^ 1;
        return out.buffer;
      },
    };
    vi.stubGlobal('crypto', {
      getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto),
      subtle: wrong,
    });
    const module = await freshModule();
    expect(await module.webCryptoAeadBackend()).toBe('noble');
    await roundTrip(module);
  });

  test('a WebCrypto that opens a modified record', async () => {
    const real = globalThis.crypto.subtle;
    let calls = 0;
    const lax = {
      importKey: real.importKey.bind(real),
      encrypt: real.encrypt.bind(real),
      decrypt: async (...args: Parameters<SubtleCrypto['decrypt']>) => {
        calls += 1;
        // The probe's first decryption is genuine; the one of its modified record "succeeds".
        return calls === 1 ? real.decrypt(...args) : new ArrayBuffer(0);
      },
    };
    vi.stubGlobal('crypto', {
      getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto),
      subtle: lax,
    });
    const module = await freshModule();
    expect(await module.webCryptoAeadBackend()).toBe('noble');
    expect(calls).toBe(2);
  });
});
