/**
 * ZeqSSL Mode-B seed derivation of spec §4: two machines that never shared a secret derive the
 * same 32-byte seed from one ML-KEM encapsulation, and confirm it with equal `seed_commitment`s.
 *
 * The commitment is an HMAC keyed by the seed, so it reveals nothing about the seed; the seed
 * itself never leaves the machine that derived it and is stored sealed (§5).
 *
 * {@link deriveModeBSeedAsInitiator} and {@link deriveModeBSeedAsResponder} are the two sides
 * without HTTP, for apps that carry the ciphertext and commitments over their own transport; the
 * responder's admin endpoints (§4.1, §4.2) are built on them.
 *
 * Both run ML-KEM through the backend their `kem` option selects (`kem-backend.ts`: native where the
 * runtime has it, noble otherwise), and so are asynchronous.
 *
 * Security caveats: a bare KEM authenticates nobody, so the initiator side requires the peer's
 * expected fingerprint and checks it before encapsulating. ML-KEM decapsulation never fails, so
 * only equal commitments show that both sides hold the same seed.
 * @module
 */
import {
  ALG,
  ALGS,
  ALG_SIZES,
  MODE_B_SEED_BYTES,
  MODE_B_SEED_INFO,
  MODE_B_TRANSCRIPT_LABEL,
  SEED_COMMITMENT_LABEL,
  type Alg,
} from './constants.js';
import type { KeyDocument } from './document.js';
import { hexEncode, lp, utf8 } from './encoding.js';
import { ZeqKeyExError } from './errors.js';
import { assertFingerprintPinned, assertOwnFingerprint, parsePins } from './fingerprint.js';
import { assertMachineId } from './identifiers.js';
import { type Encapsulation, assertAlg, assertPublicKey, kemDecapsulate } from './kem.js';
import {
  type KemBackendName,
  type KemChoice,
  type KemEncapsulator,
  type KemSecretKey,
  assertKemChoice,
  loadKemFor,
} from '../backends/kem-backend.js';
import { constantTimeEqual, hkdf, hmacSha256, sha256, wipe } from './primitives.js';

/** What a Mode-B transcript binds. */
export interface ModeBTranscriptInput {
  /** The KEM algorithm (`alg`, §4): `'ML-KEM-768'` or `'X-Wing'` (§9). */
  alg: Alg;
  /** The initiating machine's (L's) `machine_id` (`initiator_machine_id` in §4). */
  initiatorMachineId: string;
  /** The responding machine's (P's) `machine_id` (`responder_machine_id` in §4). */
  responderMachineId: string;
  /** P's public key (`responder_public_key` in §4, 1184 bytes for ML-KEM-768, 1216 for X-Wing). */
  responderPublicKey: Uint8Array;
  /** L's ciphertext to P's key (`cipher_text` in §4, 1088 bytes for ML-KEM-768, 1120 for X-Wing). */
  cipherText: Uint8Array;
}

/** A derived Mode-B seed with its commitment. */
export interface ModeBSeed {
  /** The 32-byte seed. Secret: store it sealed, wipe it after use. */
  seed: Uint8Array;
  /** `hex(HMAC-SHA256(seed, LP(label) ‖ LP(mb_transcript)))`, safe to publish. */
  seedCommitment: string;
  /** The Mode-B transcript hash. */
  transcript: Uint8Array;
}

/**
 * `SHA-256(LP("zeq-ssl/v1 mode-b") ‖ LP(alg) ‖ LP(initiator) ‖ LP(responder) ‖ LP(responder_pk) ‖ LP(ct))`.
 * @param input - the fields.
 * @returns the 32-byte Mode-B transcript hash.
 */
export function modeBTranscript(input: ModeBTranscriptInput): Uint8Array {
  return sha256(
    lp(
      MODE_B_TRANSCRIPT_LABEL,
      input.alg,
      input.initiatorMachineId,
      input.responderMachineId,
      input.responderPublicKey,
      input.cipherText,
    ),
  );
}

/**
 * Derives the seed and its commitment from the KEM shared secret.
 * @param sharedSecret - the ML-KEM shared secret.
 * @param transcript - the Mode-B transcript hash.
 * @returns the seed, commitment and transcript.
 */
export function deriveModeBSeed(sharedSecret: Uint8Array, transcript: Uint8Array): ModeBSeed {
  const seed = hkdf(sharedSecret, transcript, utf8(MODE_B_SEED_INFO), MODE_B_SEED_BYTES);
  const seedCommitment = hexEncode(hmacSha256(seed, lp(SEED_COMMITMENT_LABEL, transcript)));
  return { seed, seedCommitment, transcript: transcript.slice() };
}

/** What the initiator of a Mode-B seeding needs (spec §4, machine L). */
export interface ModeBInitiatorInput {
  /** The peer's key document, validated by {@link parseKeyDocument} (§2.1 checks 1 and 2). */
  peer: KeyDocument;
  /** The local (initiating) machine's `machine_id`. */
  localMachineId: string;
  /**
   * The fingerprint the peer's key must have (§2.1 check 3), or several during a key rotation.
   * Checked in constant time before anything is encapsulated.
   */
  expectedFingerprint: string | readonly string[];
  /**
   * The ML-KEM backend (see `loadKem`): native when the runtime has one, else noble.
   * @defaultValue 'auto'
   */
  kem?: KemChoice;
}

/** The initiator's result: the seed, its commitment, and the ciphertext to give the peer. */
export interface ModeBInitiation extends ModeBSeed {
  /** The ciphertext for the peer (1088 bytes; 1120 for X-Wing), to send to its `respond` endpoint. */
  cipherText: Uint8Array;
  /** The peer's `machine_id`, as its key document states it. */
  peerMachineId: string;
  /** The fingerprint of the key the seed was encapsulated to. */
  peerFingerprint: string;
  /** The local machine's `machine_id`. */
  localMachineId: string;
  /** The KEM algorithm of the exchange (`alg`, §4): the peer's, `'ML-KEM-768'` or `'X-Wing'`. */
  alg: Alg;
  /** The ML-KEM backend that encapsulated. */
  kemBackend: KemBackendName;
}

/** What the responder of a Mode-B seeding needs (spec §4, machine P). */
export interface ModeBResponderInput {
  /** @defaultValue `'ML-KEM-768'` */
  alg?: Alg;
  /**
   * The local machine's secret key: the 64-byte FIPS 203 seed `d‖z`, or the expanded
   * decapsulation key (2400 bytes, noble only); for X-Wing, the 32-byte X-Wing seed. Not modified;
   * the caller wipes it.
   */
  secretKey: Uint8Array;
  /** The local machine's public key; it must be the one `secretKey` belongs to. */
  publicKey: Uint8Array;
  /** The local (responding) machine's `machine_id`. */
  localMachineId: string;
  /** The initiator's `machine_id`. */
  peerMachineId: string;
  /** The initiator's ciphertext (1088 bytes; 1120 for X-Wing). */
  cipherText: Uint8Array;
  /**
   * The ML-KEM backend (see `loadKem`). Native backends import the 64-byte seed only: an expanded
   * key is decapsulated by noble under `'auto'`, and refused under `'native'`.
   * @defaultValue 'auto'
   */
  kem?: KemChoice;
}

/** The responder's result: the seed and its commitment. */
export interface ModeBResponse extends ModeBSeed {
  /** The ML-KEM backend that decapsulated. */
  kemBackend: KemBackendName;
}

/** An initiator input that passed its checks, ready to encapsulate to. */
interface CheckedInitiation {
  peer: KeyDocument;
  publicKey: Uint8Array;
  fingerprint: string;
  localMachineId: string;
}

function checkInitiation(input: ModeBInitiatorInput): CheckedInitiation {
  if (typeof input !== 'object' || input === null)
    throw new TypeError('expected { peer, localMachineId, expectedFingerprint }');
  const { peer } = input;
  assertMachineId(input.localMachineId);
  const pins = parsePins(input.expectedFingerprint);
  if (input.kem !== undefined) assertKemChoice(input.kem);
  if (typeof peer !== 'object' || peer === null || !(peer.publicKey instanceof Uint8Array)) {
    throw new TypeError('peer must be a KeyDocument (see parseKeyDocument)');
  }
  assertMachineId(peer.machineId);
  assertAlg(peer.alg, ALGS);
  assertPublicKey(peer.publicKey, peer.alg);
  // A document assembled by hand gets the same self-check parseKeyDocument applies (§2.1 check 2).
  const computed = assertOwnFingerprint(peer.publicKey, peer.fingerprint);
  // §2.1 check 3, before anything is encapsulated (§6).
  assertFingerprintPinned(computed, pins);
  return {
    peer,
    publicKey: peer.publicKey.slice(),
    fingerprint: computed,
    localMachineId: input.localMachineId,
  };
}

/** The last step of both roles: the seed of the shared secret over the transcript, then the secret wiped. */
function seedOf(sharedSecret: Uint8Array, transcript: ModeBTranscriptInput): ModeBSeed {
  try {
    return deriveModeBSeed(sharedSecret, modeBTranscript(transcript));
  } finally {
    wipe(sharedSecret);
  }
}

function finishInitiation(
  checked: CheckedInitiation,
  { cipherText, sharedSecret }: Encapsulation,
  kemBackend: KemBackendName,
): ModeBInitiation {
  const { peer, publicKey } = checked;
  const seed = seedOf(sharedSecret, {
    alg: peer.alg,
    initiatorMachineId: checked.localMachineId,
    responderMachineId: peer.machineId,
    responderPublicKey: publicKey,
    cipherText,
  });
  return {
    ...seed,
    cipherText,
    peerMachineId: peer.machineId,
    peerFingerprint: checked.fingerprint,
    localMachineId: checked.localMachineId,
    alg: peer.alg,
    kemBackend,
  };
}

/**
 * {@link deriveModeBSeedAsInitiator} with an already loaded backend: the responder's admin route
 * (its machine's backend), and the known-answer tests (an encapsulation with a fixed `m`,
 * `src/internal/testing.ts`).
 * @internal
 */
export async function initiateModeB(
  input: ModeBInitiatorInput,
  kem: KemEncapsulator,
): Promise<ModeBInitiation> {
  const checked = checkInitiation(input);
  // A backend of the other alg would encapsulate to a key it cannot read (§9: one alg per key).
  if (kem.alg !== checked.peer.alg) throw new ZeqKeyExError('unsupported_alg');
  return finishInitiation(checked, await kem.encapsulate(checked.publicKey), kem.backend);
}

/**
 * Mode-B as the initiator (spec §4, machine L), without HTTP: checks the peer's key against the
 * expected fingerprint, encapsulates to it, and derives the seed and its commitment. Send
 * `cipherText` to the peer (which runs {@link deriveModeBSeedAsResponder}); compare commitments.
 * @param input - the peer's validated key document, the local machine_id, the expected
 *   fingerprint and, optionally, the KEM backend.
 * @returns the seed (secret: seal it, then wipe it), its commitment, the transcript, the
 *   ciphertext and the backend used.
 * @throws {ZeqKeyExError} `fingerprint_mismatch` (with both fingerprints) when the key is not the
 *   expected one, `fingerprint_inconsistent`, `invalid_public_key`, `unsupported_alg`,
 *   `kem_unavailable` (`kem: 'native'`).
 * @throws {TypeError} for a malformed local machine_id, expected fingerprint, document or `kem`.
 * @example
 * ```ts
 * const peer = parseKeyDocument(await (await fetch(`${peerOrigin}/api/keyex/core/pubkey`)).json());
 * const mine = await deriveModeBSeedAsInitiator({ peer, localMachineId: 'machine:edge', expectedFingerprint: pin });
 * await sendToPeer(base64Encode(mine.cipherText)); // the peer answers with its seed_commitment
 * ```
 */
export async function deriveModeBSeedAsInitiator(
  input: ModeBInitiatorInput,
): Promise<ModeBInitiation> {
  const checked = checkInitiation(input);
  const kem = await loadKemFor(checked.peer.alg, input.kem);
  return finishInitiation(checked, await kem.encapsulate(checked.publicKey), kem.backend);
}

/** The fields of a responder input that passed its checks. */
interface CheckedResponse {
  alg: Alg;
  publicKey: Uint8Array;
  cipherText: Uint8Array;
  localMachineId: string;
  peerMachineId: string;
}

function checkResponse(input: Omit<ModeBResponderInput, 'secretKey'>): CheckedResponse {
  if (typeof input !== 'object' || input === null)
    throw new TypeError(
      'expected { secretKey, publicKey, localMachineId, peerMachineId, cipherText }',
    );
  const alg = input.alg ?? ALG;
  assertAlg(alg, ALGS);
  assertMachineId(input.localMachineId);
  assertMachineId(input.peerMachineId);
  if (input.kem !== undefined) assertKemChoice(input.kem);
  if (
    !(input.cipherText instanceof Uint8Array) ||
    input.cipherText.length !== ALG_SIZES[alg].cipherText
  )
    throw new ZeqKeyExError('invalid_cipher_text');
  assertPublicKey(input.publicKey, alg);
  return {
    alg,
    publicKey: input.publicKey.slice(),
    cipherText: input.cipherText.slice(),
    localMachineId: input.localMachineId,
    peerMachineId: input.peerMachineId,
  };
}

function finishResponse(
  checked: CheckedResponse,
  sharedSecret: Uint8Array,
  kemBackend: KemBackendName,
): ModeBResponse {
  const seed = seedOf(sharedSecret, {
    alg: checked.alg,
    initiatorMachineId: checked.peerMachineId,
    responderMachineId: checked.localMachineId,
    responderPublicKey: checked.publicKey,
    cipherText: checked.cipherText,
  });
  return { ...seed, kemBackend };
}

/**
 * {@link deriveModeBSeedAsResponder} with a secret key already imported into a backend (the
 * responder's cached machine key, whose public key is `input.publicKey`).
 * @internal
 */
export async function respondModeB(
  input: Omit<ModeBResponderInput, 'secretKey' | 'kem'>,
  secretKey: KemSecretKey,
): Promise<ModeBResponse> {
  return respondWith(checkResponse(input), secretKey);
}

async function respondWith(
  checked: CheckedResponse,
  secretKey: KemSecretKey,
): Promise<ModeBResponse> {
  if (!constantTimeEqual(secretKey.publicKey, checked.publicKey)) {
    throw new ZeqKeyExError(
      'invalid_secret_key',
      'the secret key does not belong to the public key',
    );
  }
  return finishResponse(
    checked,
    await secretKey.decapsulate(checked.cipherText),
    secretKey.backend,
  );
}

/**
 * Mode-B as the responder (spec §4, machine P), without HTTP: decapsulates the initiator's
 * ciphertext with the local key and derives the seed and its commitment.
 *
 * ML-KEM never fails decapsulation: a ciphertext made for another key yields an unrelated seed, so
 * agreement is known only when the two commitments are compared. The secret key is checked to
 * belong to `publicKey` first, since a mismatch would silently give a seed nobody else has.
 * @param input - the local key pair, both machine ids, the ciphertext and, optionally, the KEM backend.
 * @returns the seed (secret: seal it, then wipe it), its commitment, the transcript and the backend used.
 * @throws {ZeqKeyExError} `invalid_cipher_text`, `invalid_public_key`, `invalid_secret_key` (also
 *   when the secret key does not belong to the public key), `unsupported_alg`, `kem_unavailable`.
 * @throws {TypeError} for a malformed machine_id or `kem`, or an expanded key with `kem: 'native'`.
 */
export async function deriveModeBSeedAsResponder(
  input: ModeBResponderInput,
): Promise<ModeBResponse> {
  const checked = checkResponse(input);
  if (!(input.secretKey instanceof Uint8Array)) throw new ZeqKeyExError('invalid_secret_key');
  if (input.secretKey.length === ALG_SIZES[checked.alg].seed) {
    const key = await (await loadKemFor(checked.alg, input.kem)).importSecretKey(input.secretKey);
    try {
      return await respondWith(checked, key);
    } finally {
      key.dispose();
    }
  }
  // An expanded key: ML-KEM-768 (X-Wing has none), noble only.
  if (checked.alg !== ALG) throw new ZeqKeyExError('invalid_secret_key');
  if (input.kem === 'native')
    throw new TypeError("kem: 'native' needs the 64-byte seed as secretKey, not an expanded key");
  const expanded = input.secretKey.slice();
  try {
    // FIPS 203 layout: dk = dk_PKE ‖ ek ‖ H(ek) ‖ z, so the public key sits 64 bytes before the end.
    const end = expanded.length - 64;
    if (
      // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: equivalent: without this guard a key too short to hold the public key compares a slice of another length, which fails the same way (`invalid_secret_key`); `<=` differs only for a key of exactly 1248 bytes, refused as `invalid_secret_key` either way.
      end - checked.publicKey.length < 0 ||
      !constantTimeEqual(expanded.subarray(end - checked.publicKey.length, end), checked.publicKey)
    ) {
      throw new ZeqKeyExError(
        'invalid_secret_key',
        'the secret key does not belong to the public key',
      );
    }
    return finishResponse(checked, kemDecapsulate(expanded, checked.cipherText, ALG), 'noble');
  } finally {
    wipe(expanded);
  }
}
