/**
 * ML-DSA-65 signature verification (spec §8.2 check 5): the runtime's native implementation where
 * one passes a probe against noble (`node:crypto` on Node ≥ 24.7, WebCrypto where a browser has
 * `ML-DSA-65`), and noble's otherwise. The probe runs once per process, on the first identity check.
 *
 * This module reaches noble's ML-DSA (through `core/attestation.ts`): the initiator loads it with a
 * dynamic `import()` only when a client has identity pins, so other apps never bundle it.
 *
 * Security caveat: a native verifier is trusted only after it accepted a signature noble made and
 * refused the same signature over another message and a signature with a bit flipped; any failure
 * or exception of the probe keeps noble.
 * @module
 */
import { type SignatureVerifier, identityKeygen, nobleVerify } from '../core/attestation.js';
import { utf8 } from '../core/encoding.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { dsaVerifiers } from './platform.js';

/** Which implementation verifies ML-DSA-65 signatures. */
export type DsaBackendName = 'noble' | 'node' | 'webcrypto';

/** A native ML-DSA-65 verifier, before the probe. */
export interface DsaVerifierDriver {
  /** Which implementation it is. */
  readonly name: Exclude<DsaBackendName, 'noble'>;
  /** Verifies with an empty context; `false` (or a throw) for anything that does not verify. */
  verify(signature: Uint8Array, message: Uint8Array, identityKey: Uint8Array): Promise<boolean>;
}

/** A platform's native verifier, or `undefined` where it has none. */
export type DsaVerifierProbe = () => Promise<DsaVerifierDriver | undefined>;

/** The verifier in use and its name. */
export interface DsaVerifier {
  /** Which implementation verifies. */
  readonly backend: DsaBackendName;
  /** The verifier: `false` for any signature that does not verify, never a throw. */
  readonly verify: SignatureVerifier;
}

const NOBLE: DsaVerifier = Object.freeze({ backend: 'noble', verify: nobleVerify });

/**
 * Whether a native verifier agrees with noble: it accepts noble's signature, and refuses it over
 * another message and with one bit flipped.
 * @param driver - the native verifier.
 * @returns whether it may be used.
 */
export async function dsaAgreesWithNoble(driver: DsaVerifierDriver): Promise<boolean> {
  try {
    const { publicKey, secretKey } = identityKeygen(new Uint8Array(32).fill(0x5a));
    const message = utf8('zeq-keyex ML-DSA-65 probe');
    const signature = ml_dsa65.sign(message, secretKey, { extraEntropy: false });
    secretKey.fill(0);
    const flipped = signature.slice();
    flipped[100] = (flipped[100] as number) ^ 1;
    return (
      (await driver.verify(signature, message, publicKey)) &&
      !(await driver.verify(signature, utf8('zeq-keyex ML-DSA-65 probf'), publicKey)) &&
      !(await driver.verify(flipped, message, publicKey).catch(() => false))
    );
  } catch {
    return false;
  }
}

let selected: Promise<DsaVerifier> | undefined;

/**
 * The ML-DSA-65 verifier of this runtime: the first native one that passes the probe, else noble.
 * Memoised for the process.
 * @returns the verifier.
 */
export function loadSignatureVerifier(): Promise<DsaVerifier> {
  selected ??= (async () => {
    for (const probe of dsaVerifiers) {
      const driver = await probe().catch(() => undefined);
      if (driver !== undefined && (await dsaAgreesWithNoble(driver)))
        return Object.freeze({
          backend: driver.name,
          verify: (signature: Uint8Array, message: Uint8Array, identityKey: Uint8Array) =>
            driver.verify(signature, message, identityKey).catch(() => false),
        });
    }
    return NOBLE;
  })();
  return selected;
}
