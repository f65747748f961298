/**
 * `zeq-keyex/responder`: the server side of ZeqKeyEx first contact (spec keyex-v1 §2, §5, §7) and,
 * optionally, of its records endpoint (§3.1), as a standard fetch handler, with its store
 * interfaces and in-memory stores.
 *
 * The ZeqSSL Mode-B admin endpoints (§4.1, §4.2) are part of it, behind the deployment's admin
 * check (`admin` option; none configured means every call is refused).
 *
 * With an `identity`, every key document is signed by the deployment's ML-DSA-65 identity key
 * (§8); `rotateKey` replaces a machine's KEM key while serving (§8.3).
 *
 * Persistent key and seed stores for Node ship in `zeq-keyex/node`.
 * @module
 */
export { type Responder, createResponder } from './responder/responder.js';
export {
  DEFAULT_SESSION_TTL_MS,
  type ResponderErrorContext,
  type ResponderOptions,
} from './responder/options.js';
export { type CorsOptions, DEFAULT_CORS_MAX_AGE_SECONDS } from './responder/cors.js';
export type { MachineResolver } from './responder/machines.js';
export {
  type AdmissionKind,
  type AdmissionObserver,
  DEFAULT_MAX_IN_FLIGHT_DECAPSULATIONS,
  DEFAULT_MAX_TRACKED_CLIENTS,
  DEFAULT_RATE_LIMITS,
  type RateLimits,
  type TokenBucketLimit,
  clientAddressOf,
  setClientAddress,
} from './responder/admission.js';
export {
  type MemoryRateLimitStoreOptions,
  type RateLimitStore,
  type RateLimitTake,
  createMemoryRateLimitStore,
} from './responder/rate-limit-store.js';
export type { KeyDocumentAttestation, KeyDocumentJson } from './responder/key-manager.js';
export {
  type CreateIdentityOptions,
  DEFAULT_DOCUMENT_VALIDITY_S,
  type IdentityInfo,
  type IdentityOptions,
  createIdentity,
} from './responder/identity.js';
export {
  type IdentityStore,
  type StoredIdentity,
  createMemoryIdentityStore,
  isStoredIdentity,
} from './responder/identity-store.js';
export type { KeyRotationResult } from './responder/key-rotation.js';
export { type RecordContext, type RecordHandler } from './responder/records-route.js';
export { type ResponderSession } from './responder/record-sessions.js';
export type { RecordChannel } from './core/record-channel.js';
export {
  DEFAULT_MAX_SESSIONS,
  type KeyStore,
  type MemorySessionStore,
  type MemorySessionStoreOptions,
  type ReplayTag,
  type RetiredKey,
  type SessionCreateResult,
  type SessionStore,
  type StoredKey,
  type StoredSession,
  createMemoryKeyStore,
  createMemorySessionStore,
  isStoredKey,
} from './responder/stores.js';
export {
  DEFAULT_MAX_REPLAY_TAGS,
  type MemoryReplayMemoryOptions,
  type ReplayMemory,
  type ReplayRememberResult,
  createMemoryReplayMemory,
} from './responder/replay-memory.js';
export { DEFAULT_STORE_TIMEOUT_MS } from './responder/store-timeouts.js';
export type {
  SharedAdmission,
  SharedAllocation,
  SharedRecordState,
} from './responder/shared-records.js';
export {
  type AdminDecision,
  type AdminOptions,
  createBearerTokenAuthorizer,
} from './responder/admin.js';
export { MIN_ADMIN_TOKEN_LENGTH, assertAdminToken } from './core/admin-token.js';
export { DEFAULT_PEER_TIMEOUT_MS, type ModeBOptions } from './responder/modeb-peer.js';
export type { FetchFunction } from './initiator/transport.js';
export {
  type SeedStore,
  type StoredSeed,
  copyStoredSeed,
  createMemorySeedStore,
  isStoredSeed,
  unsealStoredSeed,
} from './responder/seed-store.js';
export { ALG, type Alg, type Role } from './core/constants.js';
export { type KemBackendName, type KemChoice } from './backends/kem-backend.js';
export { type LogFields, type Logger } from './responder/logger.js';
export { WIRE_ERRORS, type WireErrorCode } from './responder/http.js';
export {
  ERROR_CODES,
  type ErrorCode,
  ZeqKeyExError,
  type ZeqKeyExErrorOptions,
  isZeqKeyExError,
} from './core/errors.js';
