/**
 * `zeq-keyex/identity`: identity pins (spec §8) for the client of `zeq-keyex`. An identity pin
 * accepts any key document signed by that identity (ML-DSA-65), so the responder may rotate its
 * KEM keys without breaking the pin. `identityTrust()` makes the `identity` option of
 * `createClient`; the attestation checks and ML-DSA-65 are in this entry only, so an app without
 * identity pins does not bundle them.
 *
 * Security caveats: an identity key signs for every slug it is pinned for; its compromise lets the
 * holder sign any key document until the pins change. See docs/identity.md.
 * @module
 */
export {
  DEFAULT_CLOCK_SKEW_MS,
  type IdentityTrustOptions,
  identityTrust,
  serialKey,
} from './initiator/identity.js';
export type {
  IdentityTrust,
  TrustDecision,
  TrustStore,
  TrustedDocument,
} from './initiator/trust.js';
export {
  type DsaBackendName,
  type DsaVerifier,
  loadSignatureVerifier,
} from './backends/dsa-backend.js';
export type { SignatureVerifier } from './core/attestation.js';
export {
  ERROR_CODES,
  type ErrorCode,
  ZeqKeyExError,
  type ZeqKeyExErrorOptions,
  isZeqKeyExError,
} from './core/errors.js';
