/**
 * `zeq-keyex/node`: the parts of the SDK that need Node.js (`node:*` modules), kept out of the
 * other entries so they run in browsers and edge runtimes: file-backed stores and an HTTP server
 * adapter for a responder.
 * @module
 */
export { createFileKeyStore } from './node/file-key-store.js';
export { createFileSeedStore } from './node/file-seed-store.js';
export { createFileTrustStore } from './node/file-trust-store.js';
export { type FetchHandler, type RunningServer, type ServeOptions, serve } from './node/server.js';
