/**
 * Secrets at rest, spec §5: the deployment's field key, the seal key derived from it, and the
 * sealing of machine secret keys (as 64-byte seeds), Mode-B seeds and the deployment's identity
 * seed (§8), each bound by its AAD to what it belongs to — a sealed key cannot be moved to another
 * slug, machine or public key, nor an identity seed to another identity key.
 *
 * Caveat: a sealed secret that does not open is an error (`unseal_failed`), never a reason to
 * generate a new one: a new key pair would silently break every pin in the field.
 * @module
 */
import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  ALG_SIZES,
  FIELD_KEY_BYTES,
  SEAL_INFO,
  SEALED_KEY_LABEL,
  SEALED_SEED_LABEL,
  SEALED_IDENTITY_LABEL,
  SIG_ALG,
  SIG_SIZES,
  MODE_B_SEED_BYTES,
  type Alg,
} from './constants.js';
import { ZeqKeyExError } from './errors.js';
import { base64Decode, base64Encode, concat, lp, utf8 } from './encoding.js';
import { aeadOpen, aeadSeal, hkdf, randomBytes } from './primitives.js';

/** §5: the field key as operators give it, 2 × {@link FIELD_KEY_BYTES} hex characters. */
const FIELD_KEY_SHAPE = /^[0-9a-fA-F]{64}$/;

/** What a sealed secret key is bound to. */
export interface SecretKeyContext {
  /** The key's algorithm (`LP(alg)` of the §5 sealed-key AAD): `'ML-KEM-768'`. */
  alg: Alg;
  /** The slug the machine is served under (`LP(slug)` of the AAD). */
  slug: string;
  /** The machine's `machine_id` (`LP(machine_id)` of the AAD). */
  machineId: string;
  /** The machine's ML-KEM public key (`LP(public_key)` of the AAD, 1184 bytes). */
  publicKey: Uint8Array;
}

/** What a sealed Mode-B seed is bound to. */
export interface SeedContext {
  /** The `machine_id` of the machine storing the seed (`LP(local_machine_id)` of the §5 AAD). */
  localMachineId: string;
  /** The other machine's `machine_id` (`LP(peer_machine_id)` of the AAD). */
  peerMachineId: string;
  /** The seed's §4 commitment, 64 lowercase hex characters (`LP(seed_commitment)` of the AAD). */
  seedCommitment: string;
}

/**
 * Parses the field key: exactly 64 hex characters (upper case is accepted, as operators paste it).
 * @param text - the `ZEQ_FIELD_KEY` value.
 * @returns the 32 key bytes.
 * @throws {ZeqKeyExError} `invalid_field_key` when missing, short, long or not hex.
 */
export function parseFieldKey(text: unknown): Uint8Array {
  if (typeof text !== 'string' || !FIELD_KEY_SHAPE.test(text)) {
    throw new ZeqKeyExError(
      'invalid_field_key',
      `the field key must be ${FIELD_KEY_BYTES * 2} hex characters (${FIELD_KEY_BYTES} bytes)`,
    );
  }
  const out = new Uint8Array(FIELD_KEY_BYTES);
  // Stryker disable next-line EqualityOperator: index 32 of a 32-byte Uint8Array is ignored when written
  for (let i = 0; i < FIELD_KEY_BYTES; i++)
    out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * `seal_key = HKDF-SHA256(IKM = field_key, salt = "", info = "zeq-keyex/v1 seal", L = 32)`.
 * @param fieldKey - the 32-byte field key.
 * @returns the 32-byte seal key. Wipe after use.
 * @throws {ZeqKeyExError} `invalid_field_key` when it is not 32 bytes.
 */
export function deriveSealKey(fieldKey: Uint8Array): Uint8Array {
  if (!(fieldKey instanceof Uint8Array) || fieldKey.length !== FIELD_KEY_BYTES) {
    throw new ZeqKeyExError('invalid_field_key');
  }
  return hkdf(fieldKey, new Uint8Array(0), utf8(SEAL_INFO), AEAD_KEY_BYTES);
}

/**
 * The AAD of a sealed secret key (§5):
 * `LP("zeq-keyex/v1 sealed key") ‖ LP(alg) ‖ LP(slug) ‖ LP(machine_id) ‖ LP(public_key)`.
 * @param context - what the key is bound to.
 * @returns the AAD.
 */
export function secretKeyAad(context: SecretKeyContext): Uint8Array {
  return lp(SEALED_KEY_LABEL, context.alg, context.slug, context.machineId, context.publicKey);
}

/**
 * The AAD of a sealed Mode-B seed (§5):
 * `LP("zeq-ssl/v1 sealed seed") ‖ LP(local_machine_id) ‖ LP(peer_machine_id) ‖ LP(seed_commitment)`.
 * @param context - what the seed is bound to.
 * @returns the AAD.
 */
export function seedAad(context: SeedContext): Uint8Array {
  return lp(
    SEALED_SEED_LABEL,
    context.localMachineId,
    context.peerMachineId,
    context.seedCommitment,
  );
}

/**
 * Seals with a given nonce: {@link seal} with its random nonce, and the known-answer tests with a
 * fixed one. The nonce must be fresh random bytes outside tests.
 * @param sealKey - the §5 seal key.
 * @param plaintext - the secret.
 * @param aad - {@link secretKeyAad} or {@link seedAad}.
 * @param nonce - 12 bytes.
 * @returns `base64(nonce ‖ ciphertext ‖ tag)`.
 * @internal
 */
export function sealWithNonce(
  sealKey: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  nonce: Uint8Array,
): string {
  return base64Encode(concat(nonce, aeadSeal(sealKey, nonce, plaintext, aad)));
}

/**
 * Seals a secret under the seal key with a fresh random nonce.
 * @param sealKey - the §5 seal key.
 * @param plaintext - the secret.
 * @param aad - {@link secretKeyAad} or {@link seedAad}.
 * @returns `base64(nonce ‖ ciphertext ‖ tag)`.
 */
export function seal(sealKey: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): string {
  return sealWithNonce(sealKey, plaintext, aad, randomBytes(AEAD_NONCE_BYTES));
}

/**
 * Opens a sealed secret: the one check behind {@link unsealSecretKey} and {@link unsealSeed}.
 * @param sealKey - the §5 seal key.
 * @param sealed - the stored base64 string.
 * @param aad - the AAD it was sealed with.
 * @param length - the plaintext length the secret must have.
 * @returns the secret. Wipe after use.
 * @throws {ZeqKeyExError} `unseal_failed` when it is malformed, tampered, bound to something else
 *   or sealed under another field key.
 */
function unseal(sealKey: Uint8Array, sealed: unknown, aad: Uint8Array, length: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = base64Decode(sealed, AEAD_NONCE_BYTES + length + AEAD_TAG_BYTES, 'sealed secret');
  } catch (cause) {
    throw new ZeqKeyExError('unseal_failed', undefined, { cause });
  }
  const opened = aeadOpen(
    sealKey,
    bytes.subarray(0, AEAD_NONCE_BYTES),
    bytes.subarray(AEAD_NONCE_BYTES),
    aad,
  );
  if (opened === undefined) throw new ZeqKeyExError('unseal_failed');
  return opened;
}

/**
 * Seals a machine's secret key (its 64-byte seed) bound to its identity and public key.
 * @param sealKey - the §5 seal key.
 * @param context - alg, slug, machine_id and public key.
 * @param seed - the 64-byte FIPS 203 seed.
 * @returns the sealed string.
 */
export function sealSecretKey(
  sealKey: Uint8Array,
  context: SecretKeyContext,
  seed: Uint8Array,
): string {
  return seal(sealKey, seed, secretKeyAad(context));
}

/**
 * Opens a machine's sealed secret key.
 * @param sealKey - the §5 seal key.
 * @param context - alg, slug, machine_id and public key it must be bound to.
 * @param sealed - the stored string.
 * @returns the 64-byte seed. Wipe after use.
 * @throws {ZeqKeyExError} `unseal_failed`.
 */
export function unsealSecretKey(
  sealKey: Uint8Array,
  context: SecretKeyContext,
  sealed: unknown,
): Uint8Array {
  return unseal(sealKey, sealed, secretKeyAad(context), ALG_SIZES[context.alg].seed);
}

/**
 * Seals a Mode-B seed bound to both machines and its commitment.
 * @param sealKey - the §5 seal key.
 * @param context - local and peer machine ids and the seed commitment.
 * @param seed - the 32-byte seed.
 * @returns the sealed string.
 */
export function sealSeed(sealKey: Uint8Array, context: SeedContext, seed: Uint8Array): string {
  return seal(sealKey, seed, seedAad(context));
}

/**
 * Opens a sealed Mode-B seed.
 * @param sealKey - the §5 seal key.
 * @param context - what it must be bound to.
 * @param sealed - the stored string.
 * @returns the 32-byte seed. Wipe after use.
 * @throws {ZeqKeyExError} `unseal_failed`.
 */
export function unsealSeed(sealKey: Uint8Array, context: SeedContext, sealed: unknown): Uint8Array {
  return unseal(sealKey, sealed, seedAad(context), MODE_B_SEED_BYTES);
}

/**
 * The AAD of a sealed identity seed (§5, §8):
 * `LP("zeq-keyex/v1 sealed identity") ‖ LP("ML-DSA-65") ‖ LP(identity_key)`.
 * @param identityKey - the identity's ML-DSA-65 public key (1952 bytes).
 * @returns the AAD.
 */
export function identityAad(identityKey: Uint8Array): Uint8Array {
  return lp(SEALED_IDENTITY_LABEL, SIG_ALG, identityKey);
}

/**
 * Seals the deployment's identity seed bound to its public key.
 * @param sealKey - the §5 seal key.
 * @param identityKey - the ML-DSA-65 public key the seed derives.
 * @param seed - the 32-byte FIPS 204 seed.
 * @returns the sealed string.
 */
export function sealIdentitySeed(
  sealKey: Uint8Array,
  identityKey: Uint8Array,
  seed: Uint8Array,
): string {
  return seal(sealKey, seed, identityAad(identityKey));
}

/**
 * Opens a sealed identity seed.
 * @param sealKey - the §5 seal key.
 * @param identityKey - the public key it must be bound to.
 * @param sealed - the stored string.
 * @returns the 32-byte seed. Wipe after use.
 * @throws {ZeqKeyExError} `unseal_failed`.
 */
export function unsealIdentitySeed(
  sealKey: Uint8Array,
  identityKey: Uint8Array,
  sealed: unknown,
): Uint8Array {
  return unseal(sealKey, sealed, identityAad(identityKey), SIG_SIZES.seed);
}
