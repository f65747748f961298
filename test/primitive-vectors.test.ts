/**
 * Wycheproof HKDF-SHA256, HMAC-SHA256 and AES-256-GCM vectors run through the SDK's own wrappers
 * (`src/primitives.ts`). Provenance and schemas: `test/vectors/README.md`.
 */
import { describe, expect, test } from 'vitest';
import { aeadOpen, aeadSeal, constantTimeEqual, hkdf, hmacSha256 } from '../src/core/primitives.js';
import { concat } from '../src/core/encoding.js';
import { expectCount, hex, toHex } from './helpers/vectors.js';
import {
  aesGcm256Cases,
  countResults,
  label,
  readAesGcm,
  readWycheproof,
  type WycheproofCase,
} from './helpers/wycheproof.js';

const flagsOf = (t: WycheproofCase): string[] => t.flags ?? [];

describe('Wycheproof hkdf_sha256_test', () => {
  interface Case extends WycheproofCase {
    ikm: string;
    salt: string;
    info: string;
    size: number;
    okm: string;
  }
  const cases = readWycheproof<{ keySize: number }, Case>('hkdf_sha256_test', 86);
  test('selection', () => {
    expect(countResults(cases)).toEqual({ valid: 83, invalid: 3, acceptable: 0 });
  });

  test.each(cases.map(({ test: t }) => [label(t), t] as const))('%s', (_, t) => {
    const run = (): Uint8Array => hkdf(hex(t.ikm), hex(t.salt), hex(t.info), t.size);
    if (t.result === 'valid') {
      // An empty salt (flag EmptySalt) must act as 32 zero bytes.
      expect(toHex(run())).toBe(t.okm);
      return;
    }
    // The only invalid kind is an output longer than 255 · 32 bytes: a programmer mistake.
    expect(flagsOf(t)).toEqual(['SizeTooLarge']);
    expect(t.size).toBeGreaterThan(255 * 32);
    expect(run).toThrow(RangeError);
  });
});

describe('Wycheproof hmac_sha256_test', () => {
  interface Case extends WycheproofCase {
    key: string;
    msg: string;
    tag: string;
  }
  const cases = readWycheproof<{ keySize: number; tagSize: number }, Case>('hmac_sha256_test', 174);
  test('selection', () => {
    expect(countResults(cases)).toEqual({ valid: 66, invalid: 108, acceptable: 0 });
    expect(new Set(cases.map(({ group }) => group.tagSize))).toEqual(new Set([256, 128]));
  });

  // A 128-bit group holds truncated tags: compare the first 16 bytes of the HMAC.
  test.each(
    cases.map(
      ({ group, test: t }) => [`tagSize ${group.tagSize}, ${label(t)}`, group.tagSize, t] as const,
    ),
  )('%s', (_, tagSize, t) => {
    expect([128, 256]).toContain(tagSize);
    const tag = hex(t.tag);
    expect(tag).toHaveLength(tagSize / 8);
    const computed = hmacSha256(hex(t.key), hex(t.msg)).subarray(0, tagSize / 8);
    if (t.result === 'valid') {
      expect(toHex(computed)).toBe(t.tag);
    } else {
      expect(flagsOf(t)).toEqual(['ModifiedTag']);
      expect(constantTimeEqual(computed, tag)).toBe(false);
    }
  });
});

describe('Wycheproof aes_gcm_test, AES-256 with a 96-bit nonce', () => {
  const all = readAesGcm();
  const selected = aesGcm256Cases(all);

  test('selection', () => {
    expect(countResults(selected)).toEqual({ valid: 39, invalid: 27, acceptable: 0 });
    expect(selected.every(({ group }) => group.tagSize === 128)).toBe(true);
  });

  test.each(selected.map(({ test: t }) => [label(t), t] as const))('%s', (_, t) => {
    const key = hex(t.key);
    const nonce = hex(t.iv);
    const aad = hex(t.aad);
    const sealed = concat(hex(t.ct), hex(t.tag));
    if (t.result === 'valid') {
      expect(toHex(aeadSeal(key, nonce, hex(t.msg), aad))).toBe(t.ct + t.tag);
      const opened = aeadOpen(key, nonce, sealed, aad);
      expect(opened).toBeInstanceOf(Uint8Array);
      expect(toHex(opened as Uint8Array)).toBe(t.msg);
      return;
    }
    expect(flagsOf(t)).toEqual(['ModifiedTag']);
    expect(aeadOpen(key, nonce, sealed, aad)).toBeUndefined();
  });

  // The SDK uses 96-bit nonces only: any other AES-256 nonce size is refused, never mis-decrypted.
  const otherNonces = expectCount(
    'aes_gcm 256/other nonce sizes',
    all.filter(({ group }) => group.keySize === 256 && group.ivSize !== 96),
    39,
  );
  test.each(otherNonces.map(({ group, test: t }) => [group.ivSize, label(t), t] as const))(
    'ivSize %i, %s: refused',
    (_, __, t) => {
      const key = hex(t.key);
      const nonce = hex(t.iv);
      expect(nonce.length).not.toBe(12);
      expect(() => aeadSeal(key, nonce, hex(t.msg), hex(t.aad))).toThrow(TypeError);
      expect(() => aeadOpen(key, nonce, concat(hex(t.ct), hex(t.tag)), hex(t.aad))).toThrow(
        TypeError,
      );
    },
  );
});
