/**
 * The seams tests use to look inside the cryptography: known-answer inputs, caches, backends side
 * by side. No public entry reaches this module, so none of it ships in an app.
 *
 * What is defined here is code for tests only. A few seams are re-exported from the module that
 * must define them, each for the reason given beside it; tests import every seam from here, so a
 * seam can move without the tests changing.
 *
 * Caveat: never for production use — derandomized encapsulation with a repeated `m` gives away the
 * shared secret.
 * @module
 */
import { type AeadBackend, nobleOpen, nobleSeal } from '../backends/aead-backend.js';
import { writeU32be } from '../core/encoding.js';
import { kemEncapsulateDerandomized, preparedKeys } from '../core/kem.js';
import { type ModeBInitiation, type ModeBInitiatorInput, initiateModeB } from '../core/modeb.js';
import { xwingEncapsulateDerandomized } from '../core/xwing.js';

// Defined in `core/kem.ts` beside `kemEncapsulate`, over the same expanded keys: the vectors run
// through the path the SDK uses.
export { kemEncapsulateDerandomized } from '../core/kem.js';
// Defined beside the noble key it reads (a WeakMap of `backends/kem-backend.ts`).
export { nobleSecretKeyBytes } from '../backends/kem-backend.js';
// Defined in `core/xwing.ts` beside `xwingEncapsulate`, through the same checks.
export { xwingEncapsulateDerandomized } from '../core/xwing.js';

/** AES-256-GCM from `@noble/ciphers` as one backend object, to compare other backends against. */
export const nobleAead: AeadBackend = { name: 'noble', seal: nobleSeal, open: nobleOpen };

/**
 * Whether `publicKey` is among the public keys the noble layer keeps expanded (`core/kem.ts`).
 * @param publicKey - the key's bytes.
 * @returns whether it is kept.
 */
export function isPreparedKey(publicKey: Uint8Array): boolean {
  return preparedKeys.has(publicKey);
}

/**
 * `uint32_be(n)` as a fresh array (spec §1), to spell out expected `LP()` framing.
 * @param n - an integer in [0, 2^32).
 * @returns 4 bytes.
 */
export function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4);
  writeU32be(out, 0, n);
  return out;
}

/**
 * Mode-B as the initiator with a fixed encapsulation randomness (noble), for the known-answer
 * vectors: the same checks and derivation as `deriveModeBSeedAsInitiator`.
 * @param input - the peer's document, the local machine_id and the expected fingerprint(s).
 * @param m - the encapsulation randomness of the vector: ML-KEM's 32-byte `m`, or X-Wing's
 *   64-byte `eseed` for a peer whose `alg` is X-Wing.
 * @returns the initiation.
 */
export function deriveModeBSeedAsInitiatorDerandomized(
  input: ModeBInitiatorInput,
  m: Uint8Array,
): Promise<ModeBInitiation> {
  const alg = input.peer.alg;
  return initiateModeB(input, {
    alg,
    backend: 'noble',
    encapsulate: (publicKey) =>
      Promise.resolve(
        alg === 'X-Wing'
          ? xwingEncapsulateDerandomized(publicKey, m)
          : kemEncapsulateDerandomized(publicKey, m),
      ),
  });
}
