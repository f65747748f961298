/**
 * `zeq-keyex/mode-b`: the admin client of ZeqSSL Mode-B seeding (spec §4.1, §4.2), for operators'
 * tools that ask two responders to derive a shared seed: machine L `initiate`s with its peer,
 * machine P `respond`s, and equal `seedCommitment`s show that both hold the same seed.
 *
 * Security caveats: the admin token is sent only to the client's origin and redirects are not
 * followed. No answer ever carries a seed, only its commitment: the seed stays sealed in the
 * responder's seed store, and is opened where the responder runs, with its field key
 * (`unsealStoredSeed` of `zeq-keyex/responder`), not by this client. The seed derivation itself,
 * for apps that carry Mode-B over their own transport, is in `zeq-keyex/protocol`.
 *
 * The same client rotates a machine's KEM key on a responder that serves its admin endpoint
 * (`rotateKey`, spec §8.3).
 * @module
 */
export {
  DEFAULT_ADMIN_TIMEOUT_MS,
  type KeyRotateRequest,
  type KeyRotateResult,
  type ModeBAdminCallOptions,
  type ModeBAdminClient,
  type ModeBAdminClientOptions,
  type ModeBInitiateRequest,
  type ModeBInitiateResult,
  type ModeBRespondRequest,
  type ModeBRespondResult,
  createModeBAdminClient,
} from './initiator/admin-client.js';
export { ALG, type Alg } from './core/constants.js';
export type { FetchFunction } from './initiator/transport.js';
export {
  ERROR_CODES,
  type ErrorCode,
  ZeqKeyExError,
  type ZeqKeyExErrorOptions,
  isZeqKeyExError,
} from './core/errors.js';
