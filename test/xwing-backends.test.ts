/**
 * X-Wing (spec §9) through every backend this Node offers: the public vectors of
 * draft-connolly-cfrg-xwing-kem (`test/vectors/xwing/test-vectors.json`), the input checks (the
 * ML-KEM part's modulus check, lengths, X25519 values of low order) and the probe against noble.
 *
 * Backends: noble's X-Wing; the native composition on each X25519 driver of this platform
 * (`node:crypto`, WebCrypto) over noble's ML-KEM-768 where this Node has no native ML-KEM, over
 * `node:crypto`'s where it has (Node ≥ 24.7, then also `loadKemFor('X-Wing')`'s own choice).
 */
import { describe, expect, test } from 'vitest';
import { type Kem, loadKemFor, nobleKem } from '../src/backends/kem-backend.js';
import {
  agreesWithNobleXWing,
  composeXWing,
  loadXWing,
  nobleXWingKem,
  type X25519Driver,
} from '../src/backends/xwing-backend.js';
import { x25519Drivers } from '../src/backends/platform.node.js';
import { ALG_XWING } from '../src/core/constants.js';
import { assertPublicKey } from '../src/core/kem.js';
import { xwingDecapsulate, xwingEncapsulate, xwingPublicKey } from '../src/core/xwing.js';
import { xwingEncapsulateDerandomized } from '../src/internal/testing.js';
import { expectCode, expectCodeAsync } from './helpers/errors.js';
import { nodeHasNativeKem } from './helpers/runtime.js';
import { expectCount, hex, readVectorJson, toHex } from './helpers/vectors.js';

interface XWingVector {
  seed: string;
  sk: string;
  pk: string;
  eseed: string;
  ct: string;
  ss: string;
}

const vectors = expectCount(
  'xwing/test-vectors.json',
  readVectorJson('xwing/test-vectors.json') as XWingVector[],
  3,
);

const drivers = (await Promise.all(x25519Drivers.map((probe) => probe()))).filter(
  (d): d is X25519Driver => d !== undefined,
);
const auto = await loadKemFor(ALG_XWING);
const nativeMlKem = nodeHasNativeKem() ? await loadKemFor('ML-KEM-768', 'native') : nobleKem;
const backends: readonly (readonly [string, Kem])[] = [
  ['noble', nobleXWingKem],
  ...drivers.map(
    (d) =>
      [
        `${nativeMlKem.backend} ML-KEM + ${d.name} X25519`,
        composeXWing(d.name, nativeMlKem, d),
      ] as const,
  ),
  ...(auto === nobleXWingKem ? [] : [[`auto (${auto.backend})`, auto] as const]),
];

/** A public key whose ML-KEM part fails the FIPS 203 §7.2 modulus check (first coefficient 4095 ≥ q). */
function unreducedKey(publicKey: Uint8Array): Uint8Array {
  const key = publicKey.slice();
  key[0] = 0xff;
  key[1] = (key[1] as number) | 0x0f;
  return key;
}

/** The same key or ciphertext with its X25519 part set to a point of low order (u = 0). */
function lowOrderPart(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  out.fill(0, bytes.length - 32);
  return out;
}

test('every X25519 driver of this platform is under test, and auto is native where ML-KEM is', () => {
  expect(drivers.map((d) => d.name)).toEqual(['node', 'webcrypto']);
  expect(auto.alg).toBe(ALG_XWING);
  expect(auto.backend).toBe(nodeHasNativeKem() ? 'node' : 'noble');
});

describe('the SDK layer (core/xwing.ts)', () => {
  test.each(vectors.map((v, i) => [i, v] as const))('vector %i: keygen, encaps, decaps', (_, v) => {
    expect(v.sk).toBe(v.seed);
    const publicKey = xwingPublicKey(hex(v.seed));
    expect(toHex(publicKey)).toBe(v.pk);
    const { cipherText, sharedSecret } = xwingEncapsulateDerandomized(publicKey, hex(v.eseed));
    expect(toHex(cipherText)).toBe(v.ct);
    expect(toHex(sharedSecret)).toBe(v.ss);
    expect(toHex(xwingDecapsulate(hex(v.sk), hex(v.ct)))).toBe(v.ss);
  });

  test('input checks map to the SDK codes', () => {
    const v = vectors[0] as XWingVector;
    const pk = hex(v.pk);
    expectCode(() => xwingEncapsulate(pk.subarray(0, 1184)), 'invalid_public_key');
    expectCode(() => xwingEncapsulate(unreducedKey(pk)), 'invalid_public_key');
    expectCode(() => assertPublicKey(unreducedKey(pk), ALG_XWING), 'invalid_public_key');
    expectCode(() => xwingEncapsulate(lowOrderPart(pk)), 'invalid_public_key');
    expectCode(() => xwingDecapsulate(hex(v.seed), hex(v.ct).subarray(1)), 'invalid_cipher_text');
    expectCode(() => xwingDecapsulate(hex(v.seed), lowOrderPart(hex(v.ct))), 'invalid_cipher_text');
    expectCode(() => xwingDecapsulate(new Uint8Array(64), hex(v.ct)), 'invalid_secret_key');
    expectCode(() => xwingPublicKey(new Uint8Array(31)), 'invalid_secret_key');
    expect(() => xwingEncapsulateDerandomized(pk, new Uint8Array(32))).toThrow(TypeError);
  });
});

describe.each(backends)('backend %s', (_, kem) => {
  test.each(vectors.map((v, i) => [i, v] as const))(
    'vector %i: public key of the seed, decapsulation, round trip',
    async (_, v) => {
      expect(toHex(await kem.publicKey(hex(v.seed)))).toBe(v.pk);
      expect(toHex(await kem.decapsulate(hex(v.seed), hex(v.ct)))).toBe(v.ss);
      const key = await kem.importSecretKey(hex(v.seed));
      try {
        expect(toHex(key.publicKey)).toBe(v.pk);
        expect(toHex(await key.decapsulate(hex(v.ct)))).toBe(v.ss);
        const { cipherText, sharedSecret } = await kem.encapsulate(hex(v.pk));
        expect(cipherText.length).toBe(1120);
        expect(toHex(await key.decapsulate(cipherText))).toBe(toHex(sharedSecret));
        expect(toHex(xwingDecapsulate(hex(v.seed), cipherText))).toBe(toHex(sharedSecret));
      } finally {
        key.dispose();
      }
      await expectCodeAsync(key.decapsulate(hex(v.ct)), 'invalid_secret_key');
    },
  );

  test('refuses bad keys and ciphertexts with the SDK codes', async () => {
    const v = vectors[1] as XWingVector;
    const pk = hex(v.pk);
    await expectCodeAsync(kem.encapsulate(pk.subarray(0, 1215)), 'invalid_public_key');
    await expectCodeAsync(kem.encapsulate(unreducedKey(pk)), 'invalid_public_key');
    await expectCodeAsync(kem.encapsulate(lowOrderPart(pk)), 'invalid_public_key');
    await expectCodeAsync(kem.importSecretKey(new Uint8Array(64)), 'invalid_secret_key');
    await expectCodeAsync(
      kem.decapsulate(hex(v.seed), hex(v.ct).subarray(0, 1088)),
      'invalid_cipher_text',
    );
    await expectCodeAsync(
      kem.decapsulate(hex(v.seed), lowOrderPart(hex(v.ct))),
      'invalid_cipher_text',
    );
  });

  test('agrees with noble (the probe)', async () => {
    expect(await agreesWithNobleXWing(kem)).toBe(true);
  });
});

describe('the probe', () => {
  test('refuses a composition that gets X25519 wrong', async () => {
    const honest = drivers[0] as X25519Driver;
    const wrong: X25519Driver = {
      ...honest,
      async ephemeral(peer) {
        const result = await honest.ephemeral(peer);
        result.sharedSecret[0] = (result.sharedSecret[0] as number) ^ 1;
        return result;
      },
    };
    expect(await agreesWithNobleXWing(composeXWing('node', nobleKem, wrong))).toBe(false);
  });

  test('a choice of noble is noble, and native without native ML-KEM is kem_unavailable', async () => {
    expect(await loadXWing('noble')).toBe(nobleXWingKem);
    if (nodeHasNativeKem()) expect((await loadXWing('native')).backend).toBe('node');
    else await expectCodeAsync(loadXWing('native'), 'kem_unavailable');
  });
});
