/**
 * `base64Decode` (`src/core/encoding.ts`) refuses a text whose length no canonical encoding of
 * the required length has without decoding it: a peer's oversized field costs a length check, not
 * a decoding. The platform's decoder is wrapped to count its calls.
 */
import { expect, test, vi } from 'vitest';
import { base64Decode } from '../src/core/encoding.js';
import { expectCode } from './helpers/errors.js';

const decoded = vi.hoisted(() => ({ texts: [] as string[] }));

vi.mock('../src/backends/platform.node.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/backends/platform.node.js')>();
  return {
    ...actual,
    base64Bytes: (text: string): Uint8Array | undefined => {
      decoded.texts.push(text);
      return actual.base64Bytes(text);
    },
  };
});

test('a text of another length than the field’s encoding is refused without being decoded', () => {
  const huge = 'A'.repeat(1 << 20);
  for (const text of [huge, 'AAAA', 'AAECAw==AAAA', 'AAE='])
    expectCode(() => base64Decode(text, 32), 'invalid_encoding');
  expect(decoded.texts).toEqual([]);
  // Of the right length, or with no length required, it is decoded (and checked).
  expect(base64Decode('AAE=', 2)).toEqual(Uint8Array.of(0, 1));
  expectCode(() => base64Decode('AAF=', 2), 'invalid_encoding');
  expect(base64Decode('AAEC')).toEqual(Uint8Array.of(0, 1, 2));
  expect(decoded.texts).toEqual(['AAE=', 'AAF=', 'AAEC']);
});
