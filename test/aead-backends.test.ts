/**
 * Every AES-256-GCM backend (`src/aead.ts` noble, `src/node/platform.ts` node:crypto) against the
 * Wycheproof AES-256-GCM vectors with 96-bit nonces, and against each other on random inputs: the
 * same sealed bytes, each opens the other's, and any flipped bit is refused. This suite runs in
 * Node with the Node build's platform (vitest.config.ts), so `aeadSeal`/`aeadOpen` — and with them
 * the record layer, confirmation and sealing throughout the suite — go through `node:crypto`; the
 * browser suite runs them through noble.
 */
import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import type { AeadBackend } from '../src/backends/aead-backend.js';
import { nobleAead } from '../src/internal/testing.js';
import { nodeAead } from '../src/internal/node-testing.js';
import { concat } from '../src/core/encoding.js';
import { aeadBackend, aeadOpen, aeadSeal } from '../src/core/primitives.js';
import { hex, toHex } from './helpers/vectors.js';
import { aesGcm256Cases, countResults, label } from './helpers/wycheproof.js';

const BACKENDS: readonly AeadBackend[] = [nobleAead, nodeAead];

const selected = aesGcm256Cases();

test('the Node suite seals through node:crypto', () => {
  expect(aeadBackend()).toBe('node');
  expect(BACKENDS.map((b) => b.name)).toEqual(['noble', 'node']);
});

test('selection', () => {
  expect(countResults(selected)).toEqual({ valid: 39, invalid: 27, acceptable: 0 });
});

describe.each(BACKENDS.map((b) => [b.name, b] as const))(
  'Wycheproof aes_gcm_test through the %s backend',
  (_, aead) => {
    test.each(selected.map(({ test: t }) => [label(t), t] as const))('%s', (__, t) => {
      const [key, nonce, aad] = [hex(t.key), hex(t.iv), hex(t.aad)];
      const sealed = concat(hex(t.ct), hex(t.tag));
      if (t.result === 'valid') {
        const out = aead.seal(key, nonce, hex(t.msg), aad);
        expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
        expect(toHex(out)).toBe(t.ct + t.tag);
        const opened = aead.open(key, nonce, sealed, aad);
        expect(opened === undefined ? undefined : Object.getPrototypeOf(opened)).toBe(
          Uint8Array.prototype,
        );
        expect(toHex(opened ?? new Uint8Array(0))).toBe(t.msg);
        return;
      }
      expect(t.flags).toEqual(['ModifiedTag']);
      expect(aead.open(key, nonce, sealed, aad)).toBeUndefined();
    });
  },
);

describe('the backends agree', () => {
  const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> =>
    fc.uint8Array({ minLength: min, maxLength: max });
  prop.prop([bytes(32, 32), bytes(12, 12), bytes(0, 300), bytes(0, 80), fc.nat()], {
    numRuns: 200,
  })(
    'same bytes, opened by each other, any flipped bit refused by both',
    (key, nonce, plaintext, aad, flip) => {
      const [a, b] = [
        nobleAead.seal(key, nonce, plaintext, aad),
        nodeAead.seal(key, nonce, plaintext, aad),
      ];
      expect(toHex(b)).toBe(toHex(a));
      expect(toHex(nodeAead.open(key, nonce, a, aad) ?? new Uint8Array(1))).toBe(toHex(plaintext));
      expect(toHex(nobleAead.open(key, nonce, b, aad) ?? new Uint8Array(1))).toBe(toHex(plaintext));
      const tampered = a.slice();
      const bit = flip % (tampered.length * 8);
      tampered[bit >>> 3] = (tampered[bit >>> 3] as number) ^ (1 << (bit & 7));
      for (const aead of BACKENDS) expect(aead.open(key, nonce, tampered, aad)).toBeUndefined();
    },
  );

  test('aeadSeal/aeadOpen check inputs before any backend sees them', () => {
    const key = new Uint8Array(32);
    expect(() => aeadSeal(key, new Uint8Array(16), new Uint8Array(1), new Uint8Array(0))).toThrow(
      TypeError,
    );
    expect(() =>
      aeadOpen(new Uint8Array(16), new Uint8Array(12), new Uint8Array(16), new Uint8Array(0)),
    ).toThrow(TypeError);
    expect(
      aeadOpen(key, new Uint8Array(12), new Uint8Array(15), new Uint8Array(0)),
    ).toBeUndefined();
  });

  test('inputs are not modified', () => {
    const [key, nonce, plaintext, aad] = [
      new Uint8Array(32).fill(1),
      new Uint8Array(12).fill(2),
      new Uint8Array(40).fill(3),
      new Uint8Array(9).fill(4),
    ];
    const before = [key, nonce, plaintext, aad].map(toHex);
    for (const aead of BACKENDS) {
      const sealed = aead.seal(key, nonce, plaintext, aad);
      const copy = toHex(sealed);
      aead.open(key, nonce, sealed, aad);
      expect(toHex(sealed)).toBe(copy);
    }
    expect([key, nonce, plaintext, aad].map(toHex)).toEqual(before);
  });
});
