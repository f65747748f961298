/**
 * The error class itself: its fields, its default message, and the guard that works across
 * bundles (a registered symbol, not `instanceof`).
 */
import { describe, expect, test } from 'vitest';
import { ERROR_CODES, type ErrorCode, ZeqKeyExError, isZeqKeyExError } from '../src/core/errors.js';

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe('ZeqKeyExError', () => {
  test.each(codes)('%s without a message says its code in words', (code) => {
    const error = new ZeqKeyExError(code);
    expect(error.message).toBe(code.split('_').join(' '));
    expect(error.code).toBe(code);
    expect(error.name).toBe('ZeqKeyExError');
    expect(error).toBeInstanceOf(Error);
  });

  test('a given message, status, wire code, fingerprints and cause are kept', () => {
    const cause = new Error('underlying');
    const error = new ZeqKeyExError(
      'http_error',
      'the responder answered HTTP 409 (key_mismatch)',
      {
        status: 409,
        responseCode: 'key_mismatch',
        expectedFingerprint: 'a'.repeat(64),
        actualFingerprint: 'b'.repeat(64),
        cause,
      },
    );
    expect(error.message).toBe('the responder answered HTTP 409 (key_mismatch)');
    expect([
      error.status,
      error.responseCode,
      error.expectedFingerprint,
      error.actualFingerprint,
    ]).toEqual([409, 'key_mismatch', 'a'.repeat(64), 'b'.repeat(64)]);
    expect(error.cause).toBe(cause);
    expect(Object.hasOwn(new ZeqKeyExError('timeout'), 'cause')).toBe(false);
  });

  test('isZeqKeyExError recognises the brand, optionally with a code, and nothing else', () => {
    const error = new ZeqKeyExError('aborted');
    expect(isZeqKeyExError(error)).toBe(true);
    expect(isZeqKeyExError(error, 'aborted')).toBe(true);
    expect(isZeqKeyExError(error, 'timeout')).toBe(false);
    // Another copy of the SDK (another bundle or realm) brands with the same registered symbol.
    const foreign = Object.assign(new Error('x'), {
      code: 'timeout',
      [Symbol.for('zeq-keyex.error')]: true,
    });
    expect(isZeqKeyExError(foreign, 'timeout')).toBe(true);
    for (const value of [undefined, null, 'timeout', { code: 'timeout' }, new Error('timeout')])
      expect(isZeqKeyExError(value)).toBe(false);
  });
});

test('every entry that can throw it exports the one class, its guard and its codes', async () => {
  const entries = await Promise.all([
    import('../src/index.js'),
    import('../src/protocol.js'),
    import('../src/identity.js'),
    import('../src/mode-b.js'),
    import('../src/responder.js'),
  ]);
  for (const entry of entries) {
    expect(entry.ZeqKeyExError).toBe(ZeqKeyExError);
    expect(entry.isZeqKeyExError).toBe(isZeqKeyExError);
    expect(entry.ERROR_CODES).toBe(ERROR_CODES);
  }
});
