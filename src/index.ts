/**
 * `zeq-keyex`: post-quantum first contact over ML-KEM-768 (spec keyex-v1).
 *
 * This entry holds what an app needs on the initiator side, plus the pure protocol core for apps
 * that carry the protocol over their own transport.
 * @module
 */
export { type CallOptions, type Client, type ClientOptions, createClient } from './initiator/client.js';
export { type ClientSession, type TrustMode } from './initiator/session.js';
export { type RecordRequestOptions, type SessionRecords, sessionRecords } from './initiator/records.js';
export { type StorageLike, type TrustStore, createLocalStorageTrustStore, createMemoryTrustStore } from './initiator/trust.js';
export { type KeyDocument, parseKeyDocument } from './core/document.js';
export type { RequestOptions, TransportOptions } from './initiator/transport.js';
export { ALG, type Alg, DEFAULT_REKEY_INTERVAL_MS } from './core/constants.js';
export { ERROR_CODES, type ErrorCode, ZeqKeyExError, type ZeqKeyExErrorOptions, isZeqKeyExError } from './core/errors.js';
export { base64Decode, base64Encode, hexDecode, hexEncode, lp } from './core/encoding.js';
export { computeFingerprint, fingerprintMatches, parsePin, parsePins } from './core/fingerprint.js';
export { isFingerprint, isMachineId, isSessionId, isSlug } from './core/identifiers.js';
export { type Encapsulation, type KemKeyPair, assertPublicKey, kemDecapsulate, kemDecapsulateSeed, kemEncapsulate, kemKeygen } from './core/kem.js';
export { type Kem, type KemBackendName, type KemChoice, type KemSecretKey, loadKem } from './backends/kem-backend.js';
export { type AeadBackendName, type AsyncAeadBackendName } from './backends/aead-backend.js';
export { type TranscriptInput, deriveRecordKey, firstContactTranscript } from './core/transcript.js';
export { openKeyConfirmation, sealKeyConfirmation } from './core/confirmation.js';
export { type Direction, type RecordHeader, deriveTrafficKey, encodeRecordHeader, openRecord, parseRecordHeader, rekey, sealRecord } from './core/record-format.js';
export { type RatchetOptions, type RecordChannel, type Role, createRecordChannel } from './core/record-channel.js';
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
  DEFAULT_ADMIN_TIMEOUT_MS,
  type ModeBAdminCallOptions,
  type ModeBAdminClient,
  type ModeBAdminClientOptions,
  type ModeBInitiateRequest,
  type ModeBInitiateResult,
  type ModeBRespondRequest,
  type ModeBRespondResult,
  createModeBAdminClient,
} from './initiator/admin-client.js';
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
export { aeadBackend, aeadBackendAsync, wipe } from './core/primitives.js';
