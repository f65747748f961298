/**
 * `zeq-keyex/responder`: the server side of ZeqKeyEx first contact (spec keyex-v1 §2, §5, §7) as a
 * standard fetch handler, with its store interfaces and in-memory stores.
 *
 * A persistent key store for Node ships in `zeq-keyex/node`.
 * @module
 */
export {
  DEFAULT_SESSION_TTL_MS,
  type KeyDocumentBody,
  type MachineResolver,
  type Responder,
  type ResponderOptions,
  createResponder,
} from './handler.js';
export {
  DEFAULT_MAX_SESSIONS,
  type KeyStore,
  type MemorySessionStoreOptions,
  type ReplayTag,
  type SessionCreateResult,
  type SessionStore,
  type StoredKey,
  type StoredSession,
  createMemoryKeyStore,
  createMemorySessionStore,
  isStoredKey,
} from './stores.js';
export { type LogFields, type Logger } from './logger.js';
export { WIRE_ERRORS, type WireErrorCode } from './http.js';
export { ERROR_CODES, type ErrorCode, ZeqKeyExError, type ZeqKeyExErrorOptions, isZeqKeyExError } from './errors.js';
