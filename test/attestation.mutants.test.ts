/**
 * Signed key documents (`src/core/attestation.ts`, spec §8) at each of their edges: the integers of
 * the signed message at 0 and past 2^32, the validity period at its bounds, every field of an
 * attestation checked on its own (and the error naming it), checks 2–6 of §8.2 in their order with
 * the clock skew at its bounds, and the verifier given exactly the message of §8.1.
 * `attestation-vectors.test.ts` runs the spec's vectors.
 */
import { describe, expect, test } from 'vitest';
import {
  type AttestationCheck,
  type AttestationFields,
  type AttestationJson,
  SIG_ALG,
  checkAttestation,
  identityKeygen,
  identityOf,
  isValidityPeriod,
  nobleVerify,
  parseAttestation,
  signAttestation,
  signedMessage,
} from '../src/core/attestation.js';
import { base64Decode } from '../src/core/encoding.js';
import { isZeqKeyExError } from '../src/core/errors.js';
import { expectCode, expectCodeAsync } from './helpers/errors.js';
import { toHex } from './helpers/vector-data.js';

const { publicKey: IDENTITY_KEY, secretKey: IDENTITY_SECRET } = identityKeygen(
  new Uint8Array(32).fill(7),
);
const IDENTITY = identityOf(IDENTITY_KEY);
const MONTH = 2_592_000;

const FIELDS: AttestationFields = {
  alg: 'ML-KEM-768',
  slug: 'edge-01',
  machineId: 'm-1',
  publicKey: new Uint8Array(1184).fill(3),
  serial: 4,
  notBefore: 1_000_000,
  notAfter: 1_000_000 + 3600,
};
const SIGNED: AttestationJson = signAttestation(IDENTITY_SECRET, IDENTITY_KEY, FIELDS);

const u64 = (n: number): string => n.toString(16).padStart(16, '0');

/** An error's code and message, from a call expected to throw. */
async function failure(run: () => unknown): Promise<{ error: unknown; message: string }> {
  try {
    await run();
  } catch (error) {
    return { error, message: (error as Error).message };
  }
  throw new Error('expected a failure');
}

function check(over: Partial<AttestationCheck> = {}): AttestationCheck {
  return {
    document: {
      alg: FIELDS.alg,
      slug: FIELDS.slug,
      machineId: FIELDS.machineId,
      publicKey: FIELDS.publicKey,
    },
    identityPins: [IDENTITY],
    nowSeconds: FIELDS.notBefore + 10,
    skewSeconds: 60,
    ...over,
  };
}

describe('the signed message (§8.1)', () => {
  test('ends with serial, not_before and not_after as uint64_be, past 2^32 too', () => {
    const message = signedMessage({
      ...FIELDS,
      serial: 2 ** 32,
      notBefore: 2 ** 32 + 5,
      notAfter: 7,
    });
    expect(toHex(message.subarray(-24))).toBe(u64(2 ** 32) + u64(2 ** 32 + 5) + u64(7));
    const small = signedMessage({ ...FIELDS, serial: 0, notBefore: 0, notAfter: 0xffff_ffff });
    expect(toHex(small.subarray(-24))).toBe(u64(0) + u64(0) + u64(0xffff_ffff));
  });

  test('each integer is checked on its own, and the error names them', () => {
    for (const field of ['serial', 'notBefore', 'notAfter'] as const)
      for (const value of [-1, 1.5, 2 ** 53, Number.NaN, '1' as unknown as number])
        expect(() => signedMessage({ ...FIELDS, [field]: value })).toThrow(RangeError);
    expect(() => signedMessage({ ...FIELDS, serial: -1 })).toThrow(/notBefore/);
    expect(() => signedMessage({ ...FIELDS, serial: 2 ** 53 - 1 })).not.toThrow();
  });
});

describe('the validity period', () => {
  test('not_before < not_after ≤ not_before + 30 days', () => {
    expect(isValidityPeriod(100, 100)).toBe(false);
    expect(isValidityPeriod(100, 99)).toBe(false);
    expect(isValidityPeriod(100, 101)).toBe(true);
    expect(isValidityPeriod(100, 100 + MONTH)).toBe(true);
    expect(isValidityPeriod(100, 101 + MONTH)).toBe(false);
  });
});

describe('keys and signing', () => {
  test('a 32-byte identity seed gives the same ML-DSA-65 key pair each time', () => {
    const pair = identityKeygen(new Uint8Array(32).fill(7));
    expect(toHex(pair.publicKey)).toBe(toHex(IDENTITY_KEY));
    expect(pair.publicKey).toHaveLength(1952);
    expect(pair.secretKey).toHaveLength(4032);
  });

  test('an identity seed must be a Uint8Array of 32 bytes; the error says how long', async () => {
    for (const seed of [new Uint8Array(31), new Uint8Array(33), Array.from(new Uint8Array(32))])
      expectCode(() => identityKeygen(seed as Uint8Array), 'invalid_secret_key');
    expect((await failure(() => identityKeygen(new Uint8Array(31)))).message).toMatch(/32 bytes/);
  });

  test('an identity key of another length is refused before signing, naming its length', async () => {
    const short = IDENTITY_KEY.subarray(1);
    expectCode(() => signAttestation(IDENTITY_SECRET, short, FIELDS), 'invalid_secret_key');
    expect((await failure(() => signAttestation(IDENTITY_SECRET, short, FIELDS))).message).toMatch(
      /1952/,
    );
  });

  test('a period §8.1 does not allow is a RangeError that states the rule', () => {
    expect(() =>
      signAttestation(IDENTITY_SECRET, IDENTITY_KEY, { ...FIELDS, notAfter: FIELDS.notBefore }),
    ).toThrow(/notBefore < notAfter/);
  });

  test('the attestation carries the fields it signed, and its signature verifies', () => {
    expect(SIGNED).toMatchObject({
      sig_alg: SIG_ALG,
      serial: FIELDS.serial,
      not_before: FIELDS.notBefore,
      not_after: FIELDS.notAfter,
    });
    expect(toHex(base64Decode(SIGNED.identity_key, 1952))).toBe(toHex(IDENTITY_KEY));
    const signature = base64Decode(SIGNED.signature, 3309);
    expect(nobleVerify(signature, signedMessage(FIELDS), IDENTITY_KEY)).toBe(true);
    expect(nobleVerify(signature, signedMessage({ ...FIELDS, serial: 5 }), IDENTITY_KEY)).toBe(
      false,
    );
  });

  test('nobleVerify answers false for malformed input, never throws', () => {
    const message = signedMessage(FIELDS);
    const signature = base64Decode(SIGNED.signature, 3309);
    expect(nobleVerify(signature.subarray(1), message, IDENTITY_KEY)).toBe(false);
    expect(nobleVerify(signature, message, IDENTITY_KEY.subarray(1))).toBe(false);
    expect(nobleVerify('x' as unknown as Uint8Array, message, IDENTITY_KEY)).toBe(false);
  });
});

describe('parseAttestation (check 2 of §8.2)', () => {
  test('reads every field; unknown ones are ignored', () => {
    const parsed = parseAttestation({ ...SIGNED, extra: true });
    expect(parsed).toMatchObject({
      identity: IDENTITY,
      serial: FIELDS.serial,
      notBefore: FIELDS.notBefore,
      notAfter: FIELDS.notAfter,
    });
    expect(toHex(parsed.identityKey)).toBe(toHex(IDENTITY_KEY));
    expect(parsed.signature).toHaveLength(3309);
  });

  test('zero is an integer it accepts, in each integer field', () => {
    for (const field of ['serial', 'not_before', 'not_after'])
      expect(() => parseAttestation({ ...SIGNED, [field]: 0 })).not.toThrow();
  });

  const cases: [string, unknown, RegExp][] = [
    ['null', null, /object/],
    ['an array', [SIGNED], /object/],
    ['a string', 'attestation', /object/],
    ['no sig_alg', { ...SIGNED, sig_alg: undefined }, /sig_alg/],
    ['another sig_alg', { ...SIGNED, sig_alg: 'ML-DSA-44' }, /sig_alg/],
    ['a negative serial', { ...SIGNED, serial: -1 }, /serial/],
    ['a fractional not_before', { ...SIGNED, not_before: 1.5 }, /not_before/],
    ['a not_after past 2^53', { ...SIGNED, not_after: 2 ** 53 }, /not_after/],
    ['a string serial', { ...SIGNED, serial: '4' }, /serial/],
    [
      'a short identity_key',
      { ...SIGNED, identity_key: SIGNED.identity_key.slice(4) },
      /identity_key/,
    ],
    ['no signature', { ...SIGNED, signature: undefined }, /signature/],
    ['a short signature', { ...SIGNED, signature: SIGNED.signature.slice(4) }, /signature/],
  ];
  test.each(cases)('%s is attestation_invalid, naming what is wrong', async (_, raw, names) => {
    const { error, message } = await failure(() => parseAttestation(raw));
    expect(isZeqKeyExError(error, 'attestation_invalid')).toBe(true);
    expect(message).toMatch(names);
  });

  test('a bad encoding keeps the decoder’s error, naming its field, as the cause', async () => {
    for (const field of ['identity_key', 'signature'] as const) {
      const { error } = await failure(() => parseAttestation({ ...SIGNED, [field]: 'AAAA' }));
      const cause = (error as Error).cause;
      expect(isZeqKeyExError(cause, 'invalid_encoding')).toBe(true);
      expect((cause as Error).message).toMatch(field);
    }
    const { error } = await failure(() => parseAttestation(null));
    expect((error as Error).cause).toBeUndefined();
    expect(Object.hasOwn(error as Error, 'cause')).toBe(false);
  });
});

describe('checkAttestation (checks 1–6 of §8.2)', () => {
  test('a signed attestation passes through noble’s verifier by default', async () => {
    const verified = await checkAttestation(SIGNED, check());
    expect(verified.serial).toBe(FIELDS.serial);
    expect(verified.identity).toBe(IDENTITY);
  });

  test('the signature covers the slug asked for, not another', async () => {
    await expectCodeAsync(
      checkAttestation(SIGNED, check({ document: { ...check().document, slug: 'edge-02' } })),
      'attestation_invalid',
    );
  });

  test('no attestation is attestation_required; a JSON null is attestation_invalid', async () => {
    await expectCodeAsync(checkAttestation(undefined, check()), 'attestation_required');
    await expectCodeAsync(checkAttestation(null, check()), 'attestation_invalid');
  });

  test('an identity not pinned is identity_mismatch, before the signature is checked', async () => {
    let verified = 0;
    await expectCodeAsync(
      checkAttestation(
        SIGNED,
        check({
          identityPins: ['ab'.repeat(32)],
          verify: () => {
            verified += 1;
            return true;
          },
        }),
      ),
      'identity_mismatch',
    );
    expect(verified).toBe(0);
  });

  test('a period too long is attestation_invalid naming the validity, before the signature', async () => {
    let verified = 0;
    const { error, message } = await failure(() =>
      checkAttestation(
        { ...SIGNED, not_after: FIELDS.notBefore + MONTH + 1 },
        check({
          verify: () => {
            verified += 1;
            return true;
          },
        }),
      ),
    );
    expect(isZeqKeyExError(error, 'attestation_invalid')).toBe(true);
    expect(message).toMatch(/validity/);
    expect(verified).toBe(0);
  });

  test('the verifier is given the signature, the message of §8.1 and the identity key', async () => {
    const calls: [string, string, string][] = [];
    await checkAttestation(
      SIGNED,
      check({
        verify: async (signature, message, identityKey) => {
          calls.push([toHex(signature), toHex(message), toHex(identityKey)]);
          return true;
        },
      }),
    );
    expect(calls).toEqual([
      [
        toHex(base64Decode(SIGNED.signature, 3309)),
        toHex(signedMessage(FIELDS)),
        toHex(IDENTITY_KEY),
      ],
    ]);
  });

  test('a verifier that says no, or throws, is attestation_invalid naming the signature', async () => {
    const no = await failure(() => checkAttestation(SIGNED, check({ verify: () => false })));
    expect(isZeqKeyExError(no.error, 'attestation_invalid')).toBe(true);
    expect(no.message).toMatch(/signature/);
    const broken = new Error('verifier down');
    const threw = await failure(() =>
      checkAttestation(
        SIGNED,
        check({
          verify: () => {
            throw broken;
          },
        }),
      ),
    );
    expect(isZeqKeyExError(threw.error, 'attestation_invalid')).toBe(true);
    expect(threw.message).toMatch(/signature/);
    expect((threw.error as Error).cause).toBe(broken);
  });

  test('it is current within the skew, to the second at both ends', async () => {
    const at = async (nowSeconds: number): Promise<string> =>
      checkAttestation(SIGNED, check({ nowSeconds, verify: () => true })).then(
        () => 'accepted',
        (error: unknown) => (isZeqKeyExError(error) ? error.code : String(error)),
      );
    const { notBefore, notAfter } = FIELDS;
    expect(await at(notBefore - 61)).toBe('attestation_expired');
    expect(await at(notBefore - 60)).toBe('accepted');
    expect(await at(notBefore - 1)).toBe('accepted');
    expect(await at(notAfter + 1)).toBe('accepted');
    expect(await at(notAfter + 60)).toBe('accepted');
    expect(await at(notAfter + 61)).toBe('attestation_expired');
  });
});
