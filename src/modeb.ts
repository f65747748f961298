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
 * Security caveats: a bare KEM authenticates nobody, so the initiator side requires the peer's
 * expected fingerprint and checks it before encapsulating. ML-KEM decapsulation never fails, so
 * only equal commitments show that both sides hold the same seed.
 * @module
 */
import { ALG, ALG_SIZES, MODE_B_SEED_INFO, MODE_B_TRANSCRIPT_LABEL, SEED_COMMITMENT_LABEL, type Alg } from './constants.js';
import type { KeyDocument } from './document.js';
import { hexEncode, lp, utf8 } from './encoding.js';
import { ZeqKeyExError } from './errors.js';
import { computeFingerprint, fingerprintMatches, parsePins } from './fingerprint.js';
import { assertMachineId } from './identifiers.js';
import {
  type Encapsulation,
  assertAlg,
  assertPublicKey,
  kemDecapsulate,
  kemEncapsulate,
  kemEncapsulateDerandomized,
  kemKeygen,
} from './kem.js';
import { constantTimeEqual, hkdf, hmacSha256, sha256, wipe } from './primitives.js';

/** What a Mode-B transcript binds. */
export interface ModeBTranscriptInput {
  alg: Alg;
  initiatorMachineId: string;
  responderMachineId: string;
  responderPublicKey: Uint8Array;
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
    lp(MODE_B_TRANSCRIPT_LABEL, input.alg, input.initiatorMachineId, input.responderMachineId, input.responderPublicKey, input.cipherText),
  );
}

/**
 * Derives the seed and its commitment from the KEM shared secret.
 * @param sharedSecret - the ML-KEM shared secret.
 * @param transcript - the Mode-B transcript hash.
 * @returns the seed, commitment and transcript.
 */
export function deriveModeBSeed(sharedSecret: Uint8Array, transcript: Uint8Array): ModeBSeed {
  const seed = hkdf(sharedSecret, transcript, utf8(MODE_B_SEED_INFO), 32);
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
}

/** The initiator's result: the seed, its commitment, and the ciphertext to give the peer. */
export interface ModeBInitiation extends ModeBSeed {
  /** The ML-KEM ciphertext for the peer (1088 bytes), to send to its `respond` endpoint. */
  cipherText: Uint8Array;
  /** The peer's `machine_id`, as its key document states it. */
  peerMachineId: string;
  /** The fingerprint of the key the seed was encapsulated to. */
  peerFingerprint: string;
  /** The local machine's `machine_id`. */
  localMachineId: string;
  alg: Alg;
}

/** What the responder of a Mode-B seeding needs (spec §4, machine P). */
export interface ModeBResponderInput {
  /** @defaultValue `'ML-KEM-768'` */
  alg?: Alg;
  /**
   * The local machine's secret key: the 64-byte FIPS 203 seed `d‖z`, or the expanded
   * decapsulation key (2400 bytes). Not modified; the caller wipes it.
   */
  secretKey: Uint8Array;
  /** The local machine's public key; it must be the one `secretKey` belongs to. */
  publicKey: Uint8Array;
  /** The local (responding) machine's `machine_id`. */
  localMachineId: string;
  /** The initiator's `machine_id`. */
  peerMachineId: string;
  /** The initiator's ciphertext (1088 bytes). */
  cipherText: Uint8Array;
}

/** Encapsulation as the initiator performs it; a parameter only so known-answer tests can fix it. */
type Encapsulate = (publicKey: Uint8Array, alg: Alg) => Encapsulation;

function initiate(input: ModeBInitiatorInput, encapsulate: Encapsulate): ModeBInitiation {
  if (typeof input !== 'object' || input === null) throw new TypeError('expected { peer, localMachineId, expectedFingerprint }');
  const { peer } = input;
  assertMachineId(input.localMachineId);
  const pins = parsePins(input.expectedFingerprint);
  if (typeof peer !== 'object' || peer === null || !(peer.publicKey instanceof Uint8Array)) {
    throw new TypeError('peer must be a KeyDocument (see parseKeyDocument)');
  }
  assertMachineId(peer.machineId);
  assertAlg(peer.alg);
  assertPublicKey(peer.publicKey, peer.alg);
  // A document assembled by hand gets the same self-check parseKeyDocument applies (§2.1 check 2).
  const computed = computeFingerprint(peer.publicKey);
  if (typeof peer.fingerprint !== 'string' || !constantTimeEqual(utf8(computed), utf8(peer.fingerprint))) {
    throw new ZeqKeyExError('fingerprint_inconsistent', undefined, { expectedFingerprint: computed, actualFingerprint: String(peer.fingerprint) });
  }
  // §2.1 check 3, before anything is encapsulated (§6).
  if (!fingerprintMatches(computed, pins)) {
    throw new ZeqKeyExError('fingerprint_mismatch', 'the peer key matches none of the expected fingerprints', {
      expectedFingerprint: pins[0] as string,
      actualFingerprint: computed,
    });
  }
  const publicKey = peer.publicKey.slice();
  const { cipherText, sharedSecret } = encapsulate(publicKey, peer.alg);
  try {
    const transcript = modeBTranscript({
      alg: peer.alg,
      initiatorMachineId: input.localMachineId,
      responderMachineId: peer.machineId,
      responderPublicKey: publicKey,
      cipherText,
    });
    return {
      ...deriveModeBSeed(sharedSecret, transcript),
      cipherText,
      peerMachineId: peer.machineId,
      peerFingerprint: computed,
      localMachineId: input.localMachineId,
      alg: peer.alg,
    };
  } finally {
    wipe(sharedSecret);
  }
}

/**
 * Mode-B as the initiator (spec §4, machine L), without HTTP: checks the peer's key against the
 * expected fingerprint, encapsulates to it, and derives the seed and its commitment. Send
 * `cipherText` to the peer (which runs {@link deriveModeBSeedAsResponder}); compare commitments.
 * @param input - the peer's validated key document, the local machine_id and the expected fingerprint.
 * @returns the seed (secret: seal it, then wipe it), its commitment, the transcript and the ciphertext.
 * @throws {ZeqKeyExError} `fingerprint_mismatch` (with both fingerprints) when the key is not the
 *   expected one, `fingerprint_inconsistent`, `invalid_public_key`, `unsupported_alg`.
 * @throws {TypeError} for a malformed local machine_id, expected fingerprint or document.
 * @example
 * ```ts
 * const peer = parseKeyDocument(await (await fetch(`${peerOrigin}/api/keyex/core/pubkey`)).json());
 * const mine = deriveModeBSeedAsInitiator({ peer, localMachineId: 'machine:edge', expectedFingerprint: pin });
 * await sendToPeer(base64Encode(mine.cipherText)); // the peer answers with its seed_commitment
 * ```
 */
export function deriveModeBSeedAsInitiator(input: ModeBInitiatorInput): ModeBInitiation {
  return initiate(input, kemEncapsulate);
}

/**
 * {@link deriveModeBSeedAsInitiator} with a fixed encapsulation randomness `m`. A seam for
 * known-answer tests only: not exported from any package entry.
 * @internal
 */
export function deriveModeBSeedAsInitiatorDerandomized(input: ModeBInitiatorInput, m: Uint8Array): ModeBInitiation {
  return initiate(input, (publicKey, alg) => kemEncapsulateDerandomized(publicKey, m, alg));
}

/**
 * Mode-B as the responder (spec §4, machine P), without HTTP: decapsulates the initiator's
 * ciphertext with the local key and derives the seed and its commitment.
 *
 * ML-KEM never fails decapsulation: a ciphertext made for another key yields an unrelated seed, so
 * agreement is known only when the two commitments are compared. The secret key is checked to
 * belong to `publicKey` first, since a mismatch would silently give a seed nobody else has.
 * @param input - the local key pair, both machine ids and the ciphertext.
 * @returns the seed (secret: seal it, then wipe it), its commitment and the transcript.
 * @throws {ZeqKeyExError} `invalid_cipher_text`, `invalid_public_key`, `invalid_secret_key` (also
 *   when the secret key does not belong to the public key), `unsupported_alg`.
 * @throws {TypeError} for a malformed machine_id.
 */
export function deriveModeBSeedAsResponder(input: ModeBResponderInput): ModeBSeed {
  if (typeof input !== 'object' || input === null) throw new TypeError('expected { secretKey, publicKey, localMachineId, peerMachineId, cipherText }');
  const alg = input.alg ?? ALG;
  assertAlg(alg);
  assertMachineId(input.localMachineId);
  assertMachineId(input.peerMachineId);
  const sizes = ALG_SIZES[alg];
  if (!(input.cipherText instanceof Uint8Array) || input.cipherText.length !== sizes.cipherText) throw new ZeqKeyExError('invalid_cipher_text');
  assertPublicKey(input.publicKey, alg);
  if (!(input.secretKey instanceof Uint8Array)) throw new ZeqKeyExError('invalid_secret_key');
  const cipherText = input.cipherText.slice();
  const publicKey = input.publicKey.slice();
  let expanded: Uint8Array;
  if (input.secretKey.length === sizes.seed) {
    expanded = kemKeygen(input.secretKey, alg).secretKey;
  } else {
    expanded = input.secretKey.slice();
  }
  let sharedSecret: Uint8Array | undefined;
  try {
    // FIPS 203 layout: dk = dk_PKE ‖ ek ‖ H(ek) ‖ z, so the public key sits 64 bytes before the end.
    const end = expanded.length - 64;
    if (end - publicKey.length < 0 || !constantTimeEqual(expanded.subarray(end - publicKey.length, end), publicKey)) {
      throw new ZeqKeyExError('invalid_secret_key', 'the secret key does not belong to the public key');
    }
    sharedSecret = kemDecapsulate(expanded, cipherText, alg);
    const transcript = modeBTranscript({
      alg,
      initiatorMachineId: input.peerMachineId,
      responderMachineId: input.localMachineId,
      responderPublicKey: publicKey,
      cipherText,
    });
    return deriveModeBSeed(sharedSecret, transcript);
  } finally {
    wipe(expanded, sharedSecret);
  }
}
