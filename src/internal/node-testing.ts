/**
 * The test seams that need the Node build's platform (`node:crypto`), kept apart from
 * `testing.ts` so that the tests the browser suite shares with Node (the protocol vectors) load
 * no `node:*` module. No public entry reaches this module.
 * @module
 */
import type { AeadBackend } from '../backends/aead-backend.js';
import { aeadOpen, aeadSeal } from '../backends/platform.node.js';

// Defined beside the cache it counts (a WeakMap of `backends/platform.node.ts`).
export { heldAesKeyCount } from '../backends/platform.node.js';

/** The Node build's AES-256-GCM (`node:crypto`) as one backend object, to run beside noble's. */
export const nodeAead: AeadBackend = { name: 'node', seal: aeadSeal, open: aeadOpen };
