/**
 * `zeq-keyex`: post-quantum first contact over ML-KEM-768 (spec keyex-v1), for app developers.
 *
 * What an app needs on the initiator side: a client that pins the responder's key (§2.1),
 * performs first contact and checks the responder's key confirmation (§2.2, §2.3), a record
 * channel over the confirmed session (§3), trust stores for trust on first use, and the SDK's one
 * error class with its stable codes.
 *
 * Security caveat: a session is authenticated only by a pin or by trust on first use; the
 * client refuses to send anything without one unless `insecureUnpinned` is set.
 *
 * The other audiences have their own entries: `zeq-keyex/protocol` (the pure protocol core, for
 * carrying it over another transport), `zeq-keyex/mode-b` (the Mode-B admin client),
 * `zeq-keyex/responder`, `zeq-keyex/node` and `zeq-keyex/msw`.
 * @module
 */
export {
  type CallOptions,
  type Client,
  type ClientOptions,
  createClient,
} from './initiator/client.js';
export { type ClientSession, type TrustMode } from './initiator/session.js';
export {
  type RecordRequestOptions,
  type SessionRecords,
  sessionRecords,
} from './initiator/records.js';
export type { RecordChannel } from './core/record-channel.js';
export {
  type RecoveringRecords,
  type RecoveringRecordsOptions,
  recoveringRecords,
} from './initiator/recovering-records.js';
export {
  type IdentityTrust,
  type StorageLike,
  type TrustDecision,
  type TrustedDocument,
  type TrustOptions,
  type TrustStore,
  createLocalStorageTrustStore,
  createMemoryTrustStore,
} from './initiator/trust.js';
export type { FetchFunction, TransportHooks, TransportOptions } from './initiator/transport.js';
export type { KeyDocument } from './core/document.js';
export { ALG, type Alg, DEFAULT_REKEY_INTERVAL_MS } from './core/constants.js';
export type { KemBackendName, KemChoice } from './backends/kem-backend.js';
export {
  ERROR_CODES,
  type ErrorCode,
  ZeqKeyExError,
  type ZeqKeyExErrorOptions,
  isZeqKeyExError,
} from './core/errors.js';
