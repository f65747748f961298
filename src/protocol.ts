/**
 * `zeq-keyex/protocol`: the pure protocol core of ZeqKeyEx v1, for implementers who carry the
 * protocol over their own transport or build another side of it.
 *
 * Encodings and identifiers (spec §1), fingerprints and pins (§2.1), ML-KEM-768 and X-Wing (§9)
 * through one asynchronous API that picks a native backend where the runtime has one (`loadKem`,
 * `loadKemFor`), the
 * first-contact transcript and record key (§2.2), key confirmation (§2.3), the record format and a
 * ratcheting record channel (§3), ZeqSSL Mode-B seed derivation (§4), and sealing at rest (§5).
 * Nothing here does HTTP.
 *
 * Security caveats: ML-KEM never fails to decapsulate — a wrong key silently gives a different
 * secret — so a session is only as good as the pin checked before encapsulating and the key
 * confirmation checked after. Secrets returned here are the caller's to {@link wipe}.
 * @module
 */
export {
  ALG,
  ALG_XWING,
  ALGS,
  type Alg,
  DEFAULT_REKEY_INTERVAL_MS,
  type Role,
} from './core/constants.js';
export {
  ERROR_CODES,
  type ErrorCode,
  ZeqKeyExError,
  type ZeqKeyExErrorOptions,
  isZeqKeyExError,
} from './core/errors.js';
export { base64Decode, base64Encode, hexDecode, hexEncode, lp } from './core/encoding.js';
export { isFingerprint, isMachineId, isSessionId, isSlug } from './core/identifiers.js';
export { computeFingerprint, fingerprintMatches, parsePin, parsePins } from './core/fingerprint.js';
export { type KeyDocument, parseKeyDocument } from './core/document.js';
export type { Encapsulation } from './core/kem.js';
export {
  type Kem,
  type KemBackendName,
  type KemChoice,
  type KemSecretKey,
  loadKem,
  loadKemFor,
} from './backends/kem-backend.js';
export {
  type TranscriptInput,
  deriveRecordKey,
  firstContactTranscript,
} from './core/transcript.js';
export { openKeyConfirmation, sealKeyConfirmation } from './core/confirmation.js';
export {
  type Direction,
  type RecordHeader,
  deriveTrafficKey,
  encodeRecordHeader,
  openRecord,
  parseRecordHeader,
  rekey,
  sealRecord,
} from './core/record-format.js';
export {
  type RatchetOptions,
  type RecordChannel,
  createRecordChannel,
} from './core/record-channel.js';
export {
  type ModeBInitiation,
  type ModeBInitiatorInput,
  type ModeBResponderInput,
  type ModeBResponse,
  type ModeBSeed,
  type ModeBTranscriptInput,
  deriveModeBSeed,
  deriveModeBSeedAsInitiator,
  deriveModeBSeedAsResponder,
  modeBTranscript,
} from './core/modeb.js';
export {
  type SecretKeyContext,
  type SeedContext,
  deriveSealKey,
  parseFieldKey,
  sealSecretKey,
  sealSeed,
  unsealSecretKey,
  unsealSeed,
} from './core/sealing.js';
export { type AeadBackendName, type AsyncAeadBackendName } from './backends/aead-backend.js';
export { aeadBackend, aeadBackendAsync, wipe } from './core/primitives.js';
