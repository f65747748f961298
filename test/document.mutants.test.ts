/**
 * The first-contact document parsers (`src/core/document.ts`, spec §2.1 and §2.3), field by
 * field: each missing, mistyped or malformed field is `malformed_response`, and the §2.1 checks
 * keep their order and codes. `expires_at` is read as RFC 3339 UTC from its fields (not by
 * `Date.parse`, whose handling of impossible dates depends on the engine): without a fraction,
 * with one of up to nine digits, `Z` or `+00:00`, the last day of every month, leap years by the
 * Gregorian rules; impossible dates, hours of 24, leap seconds and non-UTC offsets refused.
 */
import { describe, expect, test } from 'vitest';
import { ALG } from '../src/core/constants.js';
import { parseHandshakeResponse, parseKeyDocument } from '../src/core/document.js';
import { base64Encode } from '../src/core/encoding.js';
import { computeFingerprint } from '../src/core/fingerprint.js';
import { kemKeygen } from '../src/core/kem.js';
import { expectCode } from './helpers/errors.js';

const { publicKey } = kemKeygen(Uint8Array.from({ length: 64 }, (_, i) => i));
const FINGERPRINT = computeFingerprint(publicKey);
const KEY_DOCUMENT = {
  alg: ALG,
  public_key: base64Encode(publicKey),
  fingerprint: FINGERPRINT,
  machine_id: 'machine:edge-01',
};
const RESPONSE = {
  session_id: 'sess_0123456789abcdef',
  key_confirmation: 'AAAA',
  machine_id: 'machine:edge-01',
  fingerprint: FINGERPRINT,
  alg: ALG,
  expires_at: '2026-05-04T03:02:01.000Z',
};

/** A copy of `body` without the field `name`. */
const without = (body: object, name: string): Record<string, unknown> =>
  Object.fromEntries(Object.entries(body).filter(([key]) => key !== name));

const expiry = (expiresAt: string): number =>
  parseHandshakeResponse({ ...RESPONSE, expires_at: expiresAt }).expiresAt.getTime();

describe('parseKeyDocument', () => {
  test('a valid document: every field, the key bytes decoded', () => {
    const doc = parseKeyDocument({ ...KEY_DOCUMENT, extra: 1 });
    expect(doc).toEqual({
      alg: ALG,
      publicKey,
      fingerprint: FINGERPRINT,
      machineId: 'machine:edge-01',
    });
    expect(parseKeyDocument(KEY_DOCUMENT, [ALG]).alg).toBe(ALG);
  });

  test('not an object, or any field missing or not a string: malformed_response', () => {
    for (const body of [null, undefined, 'x', 1, [], [KEY_DOCUMENT]])
      expectCode(() => parseKeyDocument(body), 'malformed_response');
    for (const name of Object.keys(KEY_DOCUMENT)) {
      const rest = without(KEY_DOCUMENT, name);
      expectCode(() => parseKeyDocument(rest), 'malformed_response');
      expectCode(() => parseKeyDocument({ ...rest, [name]: 7 }), 'malformed_response');
      expectCode(() => parseKeyDocument({ ...rest, [name]: null }), 'malformed_response');
    }
  });

  test('a malformed machine_id or fingerprint is malformed_response, before the alg is looked at', () => {
    for (const machineId of ['', ':x', 'a b', 'x'.repeat(129)])
      expectCode(
        () => parseKeyDocument({ ...KEY_DOCUMENT, machine_id: machineId, alg: 'X' }),
        'malformed_response',
      );
    for (const fingerprint of [
      '',
      FINGERPRINT.toUpperCase(),
      FINGERPRINT.slice(1),
      `${FINGERPRINT}0`,
    ])
      expectCode(
        () => parseKeyDocument({ ...KEY_DOCUMENT, fingerprint, alg: 'X' }),
        'malformed_response',
      );
  });

  test('§2.1 check 1: alg, then the key’s encoding and length; check 2: the fingerprint', () => {
    expectCode(() => parseKeyDocument({ ...KEY_DOCUMENT, alg: 'ML-KEM-512' }), 'unsupported_alg');
    expectCode(() => parseKeyDocument(KEY_DOCUMENT, []), 'unsupported_alg');
    expectCode(
      () => parseKeyDocument({ ...KEY_DOCUMENT, alg: 'ML-KEM-512', public_key: '!' }),
      'unsupported_alg',
    );
    expectCode(
      () => parseKeyDocument({ ...KEY_DOCUMENT, public_key: `${KEY_DOCUMENT.public_key} ` }),
      'malformed_response',
    );
    let caught: unknown;
    try {
      parseKeyDocument({ ...KEY_DOCUMENT, public_key: 'not base64!' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({
      code: 'malformed_response',
      cause: expect.objectContaining({ code: 'invalid_encoding' }) as unknown,
    });
    expectCode(
      () => parseKeyDocument({ ...KEY_DOCUMENT, public_key: base64Encode(publicKey.subarray(1)) }),
      'invalid_public_key',
    );
    expectCode(
      () => parseKeyDocument({ ...KEY_DOCUMENT, fingerprint: 'ab'.repeat(32) }),
      'fingerprint_inconsistent',
    );
  });
});

describe('parseHandshakeResponse', () => {
  test('a valid response: every field, expires_at as a Date', () => {
    expect(parseHandshakeResponse({ ...RESPONSE, extra: true })).toEqual({
      sessionId: RESPONSE.session_id,
      keyConfirmation: RESPONSE.key_confirmation,
      machineId: RESPONSE.machine_id,
      fingerprint: FINGERPRINT,
      alg: ALG,
      expiresAt: new Date(Date.UTC(2026, 4, 4, 3, 2, 1)),
    });
  });

  test('not an object, or any field missing or not a string: malformed_response', () => {
    for (const body of [null, 'x', 1, [RESPONSE]])
      expectCode(() => parseHandshakeResponse(body), 'malformed_response');
    for (const name of Object.keys(RESPONSE)) {
      const rest = without(RESPONSE, name);
      expectCode(() => parseHandshakeResponse(rest), 'malformed_response');
      expectCode(() => parseHandshakeResponse({ ...rest, [name]: 1 }), 'malformed_response');
    }
  });

  test('a session_id outside the §1 grammar is malformed_response', () => {
    for (const sessionId of [
      'short',
      'a'.repeat(129),
      'sess 0123456789abcdef',
      'sess.0123456789abcdef',
    ])
      expectCode(
        () => parseHandshakeResponse({ ...RESPONSE, session_id: sessionId }),
        'malformed_response',
      );
    expect(parseHandshakeResponse({ ...RESPONSE, session_id: 'a'.repeat(128) }).sessionId).toBe(
      'a'.repeat(128),
    );
  });
});

describe('expires_at', () => {
  test('with or without a fraction, of 1 to 9 digits (cut to milliseconds)', () => {
    const base = Date.UTC(2026, 0, 15, 12, 30, 45);
    expect(expiry('2026-01-15T12:30:45Z')).toBe(base);
    expect(expiry('2026-01-15T12:30:45.5Z')).toBe(base + 500);
    expect(expiry('2026-01-15T12:30:45.12Z')).toBe(base + 120);
    expect(expiry('2026-01-15T12:30:45.123Z')).toBe(base + 123);
    expect(expiry('2026-01-15T12:30:45.987654321Z')).toBe(base + 987);
    expectCode(() => expiry('2026-01-15T12:30:45.1234567890Z'), 'malformed_response');
    expectCode(() => expiry('2026-01-15T12:30:45.Z'), 'malformed_response');
  });

  test('T and Z in either case; +00:00 and -00:00 are UTC too', () => {
    const at = Date.UTC(2026, 6, 1, 0, 0, 0);
    for (const text of [
      '2026-07-01T00:00:00Z',
      '2026-07-01t00:00:00z',
      '2026-07-01T00:00:00+00:00',
      '2026-07-01T00:00:00-00:00',
    ])
      expect(expiry(text)).toBe(at);
  });

  test('an offset other than UTC is refused: the spec sends UTC', () => {
    for (const text of [
      '2026-07-01T02:00:00+02:00',
      '2026-07-01T00:00:00-05:30',
      '2026-07-01T00:00:00+00:01',
      '2026-07-01T00:00:00+01:00',
    ])
      expectCode(() => expiry(text), 'malformed_response');
  });

  test('the last day of every month; the day after it refused', () => {
    const last = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    last.forEach((day, i) => {
      const month = String(i + 1).padStart(2, '0');
      expect(expiry(`2027-${month}-${day}T23:59:59Z`)).toBe(Date.UTC(2027, i, day, 23, 59, 59));
      expectCode(() => expiry(`2027-${month}-${day + 1}T00:00:00Z`), 'malformed_response');
      expect(expiry(`2027-${month}-01T00:00:00Z`)).toBe(Date.UTC(2027, i, 1));
    });
  });

  test('February 29 in leap years only (every 4th year, not every 100th, every 400th)', () => {
    for (const year of ['2024', '2000', '2400', '1600', '0000'])
      expect(new Date(expiry(`${year}-02-29T00:00:00Z`)).getUTCDate()).toBe(29);
    for (const year of ['2026', '2100', '1900', '2023', '0100'])
      expectCode(() => expiry(`${year}-02-29T00:00:00Z`), 'malformed_response');
  });

  test('the years 0000–0099 are those years, not 1900–1999', () => {
    expect(new Date(expiry('0099-12-31T00:00:00Z')).getUTCFullYear()).toBe(99);
    expect(new Date(expiry('0004-02-29T00:00:00Z')).toISOString()).toBe('0004-02-29T00:00:00.000Z');
    expect(new Date(expiry('9999-12-31T23:59:59.999Z')).toISOString()).toBe(
      '9999-12-31T23:59:59.999Z',
    );
  });

  test('impossible fields refused: month 0 and 13, day 0, hour 24, minute 60, second 60', () => {
    for (const text of [
      '2026-00-10T00:00:00Z',
      '2026-13-10T00:00:00Z',
      '2026-01-00T00:00:00Z',
      '2026-01-32T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-02-30T00:00:00Z',
      '2026-01-10T24:00:00Z',
      '2026-01-10T00:60:00Z',
      '2026-01-10T00:00:60Z',
      '2016-12-31T23:59:60Z',
    ])
      expectCode(() => expiry(text), 'malformed_response');
    for (const text of ['2026-12-10T23:00:00Z', '2026-01-10T00:59:00Z', '2026-01-10T00:00:59Z'])
      expect(Number.isInteger(expiry(text))).toBe(true);
  });

  test('anything but the RFC 3339 shape is refused', () => {
    for (const text of [
      'soon',
      '',
      '2026-01-10',
      '2026-01-10T00:00:00',
      '2026-01-10 00:00:00Z',
      '2026-1-10T00:00:00Z',
      '26-01-10T00:00:00Z',
      '+02026-01-10T00:00:00Z',
      ' 2026-01-10T00:00:00Z',
      '2026-01-10T00:00:00Z ',
      '2026-01-10T00:00Z',
      '2026-01-10T00:00:00+0000',
      '2026-01-10T00:00:00UTC',
      'Sat, 10 Jan 2026 00:00:00 GMT',
      '1768003200000',
      '２０２６-01-10T00:00:00Z',
    ])
      expectCode(() => expiry(text), 'malformed_response');
  });
});

describe('a malformed_response names the field at fault', () => {
  const messageOf = (parse: () => unknown): string => {
    try {
      parse();
    } catch (error) {
      expect((error as { code?: unknown }).code).toBe('malformed_response');
      return (error as Error).message;
    }
    throw new Error('expected malformed_response');
  };

  test('in a key document', () => {
    expect(messageOf(() => parseKeyDocument('text'))).toMatch(/object/);
    for (const name of ['alg', 'public_key', 'fingerprint', 'machine_id'])
      expect(messageOf(() => parseKeyDocument(without(KEY_DOCUMENT, name)))).toMatch(name);
    expect(messageOf(() => parseKeyDocument({ ...KEY_DOCUMENT, machine_id: 'a b' }))).toMatch(
      /machine_id/,
    );
    expect(messageOf(() => parseKeyDocument({ ...KEY_DOCUMENT, fingerprint: 'ab' }))).toMatch(
      /fingerprint/,
    );
    expect(messageOf(() => parseKeyDocument({ ...KEY_DOCUMENT, public_key: 'A*' }))).toMatch(
      /public_key/,
    );
  });

  test('the base64 decoder’s error, kept as the cause, names public_key too', () => {
    try {
      parseKeyDocument({ ...KEY_DOCUMENT, public_key: 'A*' });
    } catch (error) {
      expect(((error as Error).cause as Error).message).toMatch(/public_key/);
      return;
    }
    throw new Error('expected malformed_response');
  });

  test('in a handshake response', () => {
    expect(messageOf(() => parseHandshakeResponse(null))).toMatch(/object/);
    for (const name of Object.keys(RESPONSE))
      expect(messageOf(() => parseHandshakeResponse(without(RESPONSE, name)))).toMatch(name);
    expect(messageOf(() => parseHandshakeResponse({ ...RESPONSE, session_id: 'x y' }))).toMatch(
      /session_id/,
    );
    expect(
      messageOf(() => parseHandshakeResponse({ ...RESPONSE, expires_at: '2026-02-30T00:00:00Z' })),
    ).toMatch(/expires_at/);
  });
});

describe('the attestation of a key document (§8.1)', () => {
  test('is kept as received, unchecked, and is undefined when absent', () => {
    const attestation = { sig_alg: 'ML-DSA-65', anything: [1, 2] };
    expect(parseKeyDocument({ ...KEY_DOCUMENT, attestation }).attestation).toBe(attestation);
    expect(parseKeyDocument({ ...KEY_DOCUMENT, attestation: null }).attestation).toBeNull();
    expect(parseKeyDocument(KEY_DOCUMENT).attestation).toBeUndefined();
  });
});
