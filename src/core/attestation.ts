/**
 * Signed key documents (spec §8): the attestation an identity key (ML-DSA-65, FIPS 204) makes
 * over a machine's key document, its signed message (§8.1), and the initiator's checks 2–6 of
 * §8.2 in order, each failure its own code. Check 1 (is there an attestation at all) and check 7
 * (anti-rollback, which needs the trust store) belong to the initiator's trust module.
 *
 * ML-DSA-65 comes from `@noble/post-quantum`; verification may instead run through a native
 * verifier that passed a probe against noble (`backends/dsa-backend.ts`). This module is reached
 * only through a dynamic `import()` by the initiator, so that an app with no identity pin never
 * ships ML-DSA.
 *
 * Security caveats:
 * - An identity key signs for every machine and slug of a deployment: its compromise lets the
 *   holder sign any key document until the pin is changed. Keep validity periods short (the spec
 *   allows at most 30 days) and the seed offline or sealed (§5).
 * - `slug` in the signed message is the one the initiator asked for, never the document's own
 *   claim: a document cannot be replayed for another machine.
 * - The identity is compared with the pins in constant time over the whole set (`fingerprint.ts`).
 * - The FIPS 204 context string is empty; the label that opens the signed message separates
 *   domains. Signing is hedged (noble's default): the same fields signed twice give two signatures.
 * @module
 */
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import {
  KEY_DOCUMENT_LABEL,
  MAX_ATTESTATION_VALIDITY_S,
  SIG_ALG,
  SIG_SIZES,
  type Alg,
} from './constants.js';
import { base64Decode, base64Encode, concat, hexEncode, lp, writeU32be } from './encoding.js';
import { ZeqKeyExError } from './errors.js';
import { fingerprintMatches } from './fingerprint.js';
import { isJsonObject, jsonField } from './json.js';
import { sha256 } from './primitives.js';

export { SIG_ALG } from './constants.js';

/** The fields an attestation signs (§8.1): the key document's, the slug asked for, and the validity. */
export interface AttestationFields {
  /** The KEM algorithm of the document. */
  alg: Alg;
  /** The slug of the request URL (never the document's claim). */
  slug: string;
  /** The document's `machine_id`. */
  machineId: string;
  /** The document's KEM public key. */
  publicKey: Uint8Array;
  /** Never decreases across the documents one identity signs for one slug. */
  serial: number;
  /** Start of validity, Unix seconds. */
  notBefore: number;
  /** End of validity, Unix seconds. */
  notAfter: number;
}

/** The `attestation` field of a key document as it is on the wire (§8.1). */
export interface AttestationJson {
  sig_alg: 'ML-DSA-65';
  /** base64 of the 1952-byte ML-DSA-65 public key. */
  identity_key: string;
  serial: number;
  not_before: number;
  not_after: number;
  /** base64 of the 3309-byte signature. */
  signature: string;
}

/** An ML-DSA-65 identity key pair. */
export interface IdentityKeyPair {
  /** The identity key (1952 bytes), published in every attestation. */
  publicKey: Uint8Array;
  /** noble's expanded secret key (4032 bytes). Wipe after use; store the 32-byte seed instead. */
  secretKey: Uint8Array;
}

/** An attestation that passed check 2 of §8.2 (shape and encodings). */
export interface Attestation {
  /** The ML-DSA-65 public key. */
  identityKey: Uint8Array;
  /** `hex(SHA-256(identityKey))`. */
  identity: string;
  serial: number;
  notBefore: number;
  notAfter: number;
  /** The signature bytes. */
  signature: Uint8Array;
}

/**
 * A signature verifier: noble's by default, or a native one that passed the probe
 * (`backends/dsa-backend.ts`). It returns `false` for any signature that does not verify.
 */
export type SignatureVerifier = (
  signature: Uint8Array,
  message: Uint8Array,
  identityKey: Uint8Array,
) => boolean | Promise<boolean>;

/**
 * noble's ML-DSA-65 verification with an empty context; a malformed input is `false`, never a throw.
 * @param signature - the signature.
 * @param message - the signed message.
 * @param identityKey - the ML-DSA-65 public key.
 * @returns whether the signature verifies.
 */
export function nobleVerify(
  signature: Uint8Array,
  message: Uint8Array,
  identityKey: Uint8Array,
): boolean {
  try {
    return ml_dsa65.verify(signature, message, identityKey);
  } catch {
    return false;
  }
}

/** The attestation integers: `[0, 2^53 − 1]`. */
function isAttestationInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Appends `uint64_be(n)` for a safe integer `n ≥ 0`. */
function u64be(n: number): Uint8Array {
  const out = new Uint8Array(8);
  writeU32be(out, 0, Math.floor(n / 0x1_0000_0000));
  writeU32be(out, 4, n % 0x1_0000_0000);
  return out;
}

/**
 * The message an attestation signs, byte-exact to §8.1:
 * `LP(label) ‖ LP(sig_alg) ‖ LP(alg) ‖ LP(slug) ‖ LP(machine_id) ‖ LP(public_key) ‖
 * uint64_be(serial) ‖ uint64_be(not_before) ‖ uint64_be(not_after)`.
 * @param fields - the signed fields.
 * @returns the message.
 * @throws {RangeError} when `serial`, `notBefore` or `notAfter` is not an integer in `[0, 2^53 − 1]`.
 */
export function signedMessage(fields: AttestationFields): Uint8Array {
  const { serial, notBefore, notAfter } = fields;
  if (![serial, notBefore, notAfter].every(isAttestationInteger))
    throw new RangeError('serial, notBefore and notAfter must be integers in [0, 2^53 - 1]');
  return concat(
    lp(KEY_DOCUMENT_LABEL, SIG_ALG, fields.alg, fields.slug, fields.machineId, fields.publicKey),
    u64be(serial),
    u64be(notBefore),
    u64be(notAfter),
  );
}

/**
 * The identity an initiator pins: `hex(SHA-256(identity_key))` (§8).
 * @param identityKey - the ML-DSA-65 public key.
 * @returns 64 lowercase hex characters.
 */
export function identityOf(identityKey: Uint8Array): string {
  return hexEncode(sha256(identityKey));
}

/**
 * ML-DSA-65 key generation (FIPS 204 `ML-DSA.KeyGen_internal`) from the 32-byte seed that is
 * stored sealed (§5).
 * @param seed - 32 bytes.
 * @returns the key pair; the caller wipes `secretKey`.
 * @throws {ZeqKeyExError} `invalid_secret_key` for a seed of another length.
 */
export function identityKeygen(seed: Uint8Array): IdentityKeyPair {
  if (!(seed instanceof Uint8Array) || seed.length !== SIG_SIZES.seed)
    throw new ZeqKeyExError('invalid_secret_key', `an identity seed is ${SIG_SIZES.seed} bytes`);
  const { publicKey, secretKey } = ml_dsa65.keygen(seed);
  return { publicKey, secretKey };
}

/**
 * Checks the validity period of §8.1 (check 4 of §8.2): `not_before < not_after ≤ not_before + 30 days`.
 * @param notBefore - Unix seconds.
 * @param notAfter - Unix seconds.
 * @returns whether the period is valid.
 */
export function isValidityPeriod(notBefore: number, notAfter: number): boolean {
  return notBefore < notAfter && notAfter - notBefore <= MAX_ATTESTATION_VALIDITY_S;
}

/**
 * Signs a key document (§8.1), the responder's side.
 * @param secretKey - the identity's expanded secret key ({@link identityKeygen}).
 * @param publicKey - the identity key, published in the attestation.
 * @param fields - what is signed.
 * @returns the `attestation` field of the document.
 * @throws {RangeError} for integers out of range or a validity period §8.1 does not allow.
 * @throws {ZeqKeyExError} `invalid_secret_key` for an identity key of the wrong length.
 */
export function signAttestation(
  secretKey: Uint8Array,
  publicKey: Uint8Array,
  fields: AttestationFields,
): AttestationJson {
  const message = signedMessage(fields);
  if (!isValidityPeriod(fields.notBefore, fields.notAfter))
    throw new RangeError('the validity must satisfy notBefore < notAfter <= notBefore + 30 days');
  if (publicKey.length !== SIG_SIZES.identityKey)
    throw new ZeqKeyExError('invalid_secret_key', 'an identity key is 1952 bytes');
  const signature = ml_dsa65.sign(message, secretKey);
  return {
    sig_alg: SIG_ALG,
    identity_key: base64Encode(publicKey),
    serial: fields.serial,
    not_before: fields.notBefore,
    not_after: fields.notAfter,
    signature: base64Encode(signature),
  };
}

function invalid(what: string, cause?: unknown): ZeqKeyExError {
  return new ZeqKeyExError(
    'attestation_invalid',
    `attestation invalid: ${what}`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * Check 2 of §8.2: the attestation is an object with `sig_alg` `"ML-DSA-65"`, canonical base64 of
 * 1952 and 3309 bytes, and integers in `[0, 2^53 − 1]`. Unknown extra fields are ignored.
 * @param raw - the document's `attestation` value.
 * @returns the parsed attestation.
 * @throws {ZeqKeyExError} `attestation_invalid`.
 */
export function parseAttestation(raw: unknown): Attestation {
  if (!isJsonObject(raw)) throw invalid('not an object');
  if (jsonField(raw, 'sig_alg') !== SIG_ALG) throw invalid('unknown sig_alg');
  const serial = jsonField(raw, 'serial');
  const notBefore = jsonField(raw, 'not_before');
  const notAfter = jsonField(raw, 'not_after');
  if (
    !isAttestationInteger(serial) ||
    !isAttestationInteger(notBefore) ||
    !isAttestationInteger(notAfter)
  )
    throw invalid('serial, not_before and not_after must be integers in [0, 2^53 - 1]');
  let identityKey: Uint8Array;
  let signature: Uint8Array;
  try {
    identityKey = base64Decode(
      jsonField(raw, 'identity_key'),
      SIG_SIZES.identityKey,
      'identity_key',
    );
    signature = base64Decode(jsonField(raw, 'signature'), SIG_SIZES.signature, 'signature');
  } catch (cause) {
    throw invalid('identity_key or signature is not canonical base64 of its length', cause);
  }
  return {
    identityKey,
    identity: identityOf(identityKey),
    serial,
    notBefore,
    notAfter,
    signature,
  };
}

/** What {@link checkAttestation} checks an attestation against. */
export interface AttestationCheck {
  /** The key document's fields and the slug asked for (`serial` and validity come from the attestation). */
  document: Pick<AttestationFields, 'alg' | 'slug' | 'machineId' | 'publicKey'>;
  /** Canonical identity pins (64 lowercase hex each), compared in constant time. */
  identityPins: readonly string[];
  /** The current time, Unix seconds. */
  nowSeconds: number;
  /** The accepted clock skew, seconds (at most 300). */
  skewSeconds: number;
  /** The signature verifier. @defaultValue noble's ML-DSA-65 */
  verify?: SignatureVerifier;
}

/**
 * Checks 1–6 of §8.2, in that order, each failure its own code. Check 7 (anti-rollback) is the
 * caller's, as it needs the caller's state.
 * @param raw - the document's `attestation` value (`undefined` when the document has none).
 * @param check - the document, the identity pins, the clock and the verifier.
 * @returns the verified attestation.
 * @throws {ZeqKeyExError} `attestation_required`, `attestation_invalid`, `identity_mismatch`,
 *   `attestation_expired`.
 */
export async function checkAttestation(
  raw: unknown,
  check: AttestationCheck,
): Promise<Attestation> {
  // 1. there is an attestation (a JSON null is one, and fails check 2).
  if (raw === undefined) throw new ZeqKeyExError('attestation_required');
  // 2. its shape and encodings.
  const attestation = parseAttestation(raw);
  // 3. it is by a pinned identity.
  if (!fingerprintMatches(attestation.identity, check.identityPins))
    throw new ZeqKeyExError('identity_mismatch');
  // 4. the validity period.
  if (!isValidityPeriod(attestation.notBefore, attestation.notAfter))
    throw invalid('validity period');
  // 5. the signature, over the message built from the slug asked for.
  const message = signedMessage({ ...check.document, ...attestation });
  const verify = check.verify ?? nobleVerify;
  let verified: boolean;
  try {
    verified = await verify(attestation.signature, message, attestation.identityKey);
  } catch (cause) {
    throw invalid('signature', cause);
  }
  if (!verified) throw invalid('signature');
  // 6. it is current, within the clock skew.
  const { nowSeconds, skewSeconds } = check;
  if (
    nowSeconds < attestation.notBefore - skewSeconds ||
    nowSeconds > attestation.notAfter + skewSeconds
  )
    throw new ZeqKeyExError('attestation_expired');
  return attestation;
}
