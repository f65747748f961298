/**
 * `zeq-keyex`: post-quantum first contact over ML-KEM-768 (spec keyex-v1).
 *
 * This entry holds what an app needs on the initiator side, plus the pure protocol core for apps
 * that carry the protocol over their own transport.
 * @module
 */
export { type CallOptions, type Client, type ClientOptions, createClient } from './client.js';
export { type ClientSession, type TrustMode } from './session.js';
export { type RecordRequestOptions, type SessionRecords, sessionRecords } from './session-records.js';
export { type StorageLike, type TrustStore, createLocalStorageTrustStore, createMemoryTrustStore } from './trust.js';
export { type KeyDocument, parseKeyDocument } from './document.js';
export type { RequestOptions, TransportOptions } from './transport.js';
export { ALG, type Alg, DEFAULT_REKEY_INTERVAL_MS } from './constants.js';
export { ERROR_CODES, type ErrorCode, ZeqKeyExError, type ZeqKeyExErrorOptions, isZeqKeyExError } from './errors.js';
export { base64Decode, base64Encode, hexDecode, hexEncode, lp } from './encoding.js';
export { computeFingerprint, fingerprintMatches, parsePin, parsePins } from './fingerprint.js';
export { isFingerprint, isMachineId, isSessionId, isSlug } from './identifiers.js';
export { type Encapsulation, type KemKeyPair, assertPublicKey, kemDecapsulate, kemDecapsulateSeed, kemEncapsulate, kemKeygen } from './kem.js';
export { type Kem, type KemBackendName, type KemChoice, type KemSecretKey, loadKem } from './kem-backend.js';
export { type AeadBackendName, type AsyncAeadBackendName } from './aead.js';
export { type TranscriptInput, deriveRecordKey, firstContactTranscript } from './transcript.js';
export { openKeyConfirmation, sealKeyConfirmation } from './confirmation.js';
export { type Direction, type RecordHeader, deriveTrafficKey, encodeRecordHeader, openRecord, parseRecordHeader, rekey, sealRecord } from './records.js';
export { type RatchetOptions, type RecordChannel, type Role, createRecordChannel } from './ratchet.js';
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
} from './modeb.js';
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
} from './admin-client.js';
export {
  type SecretKeyContext,
  type SeedContext,
  deriveSealKey,
  parseFieldKey,
  sealSecretKey,
  sealSeed,
  unsealSecretKey,
  unsealSeed,
} from './sealing.js';
export { aeadBackend, aeadBackendAsync, wipe } from './primitives.js';
