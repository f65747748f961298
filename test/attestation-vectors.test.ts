/**
 * The `signed_documents` and `invalid.signed_documents` vectors (spec §8): ML-DSA-65 keygen from
 * the identity seed, the signed message byte for byte, the identity, the signature, and every
 * invalid case with its outcome code through checks 1–6 of `core/attestation.ts` (check 7, the
 * rollback, is run through the trust policy in test/identity-trust.test.ts, and here against the
 * case's `highest_serial`).
 */
import { describe, expect, test } from 'vitest';
import {
  SIG_ALG,
  checkAttestation,
  identityKeygen,
  identityOf,
  nobleVerify,
  parseAttestation,
  signAttestation,
  signedMessage,
} from '../src/core/attestation.js';
import { parseKeyDocument } from '../src/core/document.js';
import { base64Decode, base64Encode } from '../src/core/encoding.js';
import { isZeqKeyExError } from '../src/core/errors.js';
import { jsonField } from '../src/core/json.js';
import { hex, protocolCases, toHex, type VectorKeyDocument } from './helpers/vector-data.js';

const { signedDocuments, badSignedDocuments } = protocolCases;
const SKEW = 60; // the vectors' clock skew (notes)

function fieldsOf(document: VectorKeyDocument) {
  const doc = parseKeyDocument(document);
  return { doc, raw: jsonField(document as unknown as Record<string, unknown>, 'attestation') };
}

describe('signed_documents (spec §8.1)', () => {
  test.each(signedDocuments.map((c) => [c.slug, c] as const))('%s', async (slug, c) => {
    const { publicKey, secretKey } = identityKeygen(hex(c.identity_seed));
    expect(base64Encode(publicKey)).toBe(c.identity_key_b64);
    expect(identityOf(publicKey)).toBe(c.identity);

    const { doc, raw } = fieldsOf(c.document);
    const attestation = parseAttestation(raw);
    expect(attestation.identity).toBe(c.identity);
    const fields = { ...doc, slug, ...attestation };
    const message = signedMessage(fields);
    expect(toHex(message)).toBe(c.signed_message);
    expect(nobleVerify(attestation.signature, message, publicKey)).toBe(true);

    const verified = await checkAttestation(raw, {
      document: { ...doc, slug },
      identityPins: [c.identity],
      nowSeconds: c.now,
      skewSeconds: SKEW,
    });
    expect(verified.serial).toBe(attestation.serial);

    // Our own signature over the same fields verifies too (signing is hedged: not byte-equal).
    const ours = signAttestation(secretKey, publicKey, fields);
    expect(ours.sig_alg).toBe(SIG_ALG);
    expect(ours.identity_key).toBe(c.identity_key_b64);
    expect(nobleVerify(base64Decode(ours.signature, 3309), message, publicKey)).toBe(true);
    secretKey.fill(0);
  });
});

describe('invalid.signed_documents (spec §8.2)', () => {
  test.each(badSignedDocuments.map((c) => [c.why, c] as const))('%s', async (_, c) => {
    const { doc, raw } = fieldsOf(c.document);
    const outcome = await checkAttestation(raw, {
      document: { ...doc, slug: c.slug },
      identityPins: c.identity_pins,
      nowSeconds: c.now,
      skewSeconds: SKEW,
    }).then(
      (attestation) =>
        c.highest_serial !== undefined && attestation.serial < c.highest_serial
          ? 'attestation_rollback'
          : 'accepted',
      (error: unknown) => (isZeqKeyExError(error) ? error.code : error),
    );
    expect(outcome).toBe(c.expect);
  });
});

describe('signing (spec §8.1)', () => {
  const { publicKey, secretKey } = identityKeygen(new Uint8Array(32).fill(7));
  const base = {
    alg: 'ML-KEM-768' as const,
    slug: 'edge-01',
    machineId: 'm-1',
    publicKey: new Uint8Array(1184),
    serial: 1,
    notBefore: 100,
    notAfter: 200,
  };

  test('refuses a validity period the spec does not allow, and integers out of range', () => {
    expect(() => signAttestation(secretKey, publicKey, { ...base, notAfter: 100 })).toThrow(
      RangeError,
    );
    expect(() =>
      signAttestation(secretKey, publicKey, { ...base, notAfter: 100 + 2_592_001 }),
    ).toThrow(RangeError);
    expect(() => signAttestation(secretKey, publicKey, { ...base, serial: -1 })).toThrow(
      RangeError,
    );
    expect(() => signedMessage({ ...base, serial: 2 ** 53 })).toThrow(RangeError);
  });

  test('a 30-day period is the longest allowed', () => {
    const json = signAttestation(secretKey, publicKey, { ...base, notAfter: 100 + 2_592_000 });
    expect(parseAttestation(json).notAfter).toBe(100 + 2_592_000);
  });

  test('refuses an identity seed of another length', () => {
    expect(() => identityKeygen(new Uint8Array(31))).toThrow(
      expect.objectContaining({ code: 'invalid_secret_key' }),
    );
  });

  test('uint64 fields above 2^32 are written big-endian', () => {
    const message = signedMessage({ ...base, serial: 2 ** 53 - 1 });
    expect(toHex(message.subarray(-24, -16))).toBe('001fffffffffffff');
  });
});
