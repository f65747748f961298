/**
 * `zeq-keyex/node`: the parts of the SDK that need Node.js (`node:*` modules), kept out of the
 * other entries so they run in browsers and edge runtimes: file-backed stores and an HTTP server
 * adapter for a responder.
 *
 * The store interfaces these implement are re-exported as types, so that this entry names every
 * type its functions show; they are the same types as those of `zeq-keyex/responder` and
 * `zeq-keyex`.
 *
 * Security caveat: the file stores hold sealed secrets only (spec §5), written atomically with
 * mode 0600; `serve` speaks plain HTTP unless given `tls`, so otherwise put TLS in front of it.
 * @module
 */
export { createFileKeyStore } from './node/file-key-store.js';
export { createFileSeedStore } from './node/file-seed-store.js';
export { createFileTrustStore } from './node/file-trust-store.js';
export {
  type FetchHandler,
  type RunningServer,
  SERVE_DEFAULTS,
  type ServeOptions,
  serve,
} from './node/server.js';
export {
  type NodeListener,
  type NodeListenerOptions,
  type NodeListenerRequest,
  toNodeListener,
} from './node/adapter.js';
export type { KeyStore, RetiredKey, StoredKey } from './responder/stores.js';
export type { IdentityStore, StoredIdentity } from './responder/identity-store.js';
export type { SeedStore, StoredSeed } from './responder/seed-store.js';
export type { Role } from './core/constants.js';
export type { TrustStore } from './initiator/trust.js';
export type { LogFields, Logger } from './responder/logger.js';
