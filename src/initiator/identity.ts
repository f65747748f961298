/**
 * Identity pins (spec §8.2): `identityTrust()` makes the identity branch of a client's trust
 * decision — pins per slug or for every slug of an origin (a fleet identity), the clock and its
 * skew, and the serials of anti-rollback. For each slug it covers it runs checks 1–6 through
 * `core/attestation.ts` with the runtime's ML-DSA-65 verifier (`backends/dsa-backend.ts`), then
 * check 7 through the serial store.
 *
 * It is reached through its own entry, `zeq-keyex/identity`, and given to `createClient` as the
 * `identity` option: an app without identity pins never imports it, and so never bundles ML-DSA.
 *
 * Security caveats: a serial is remembered as soon as its document passed checks 1–6 (it is
 * signed by a pinned identity), before anything is sent; a lower one for the same (origin, slug,
 * identity) is refused from then on. The default memory store protects one client's life only.
 * What an identity pin protects and what it does not: docs/identity.md.
 * @module
 */
import { checkAttestation } from '../core/attestation.js';
import { MAX_CLOCK_SKEW_S } from '../core/constants.js';
import { ZeqKeyExError, callStore } from '../core/errors.js';
import { parsePins } from '../core/fingerprint.js';
import { assertSlug } from '../core/identifiers.js';
import { loadSignatureVerifier } from '../backends/dsa-backend.js';
import type { IdentityTrust, TrustDecision, TrustStore, TrustedDocument } from './trust.js';
import { isSerial } from './trust.js';

/** §8.2: the clock skew allowed around an attestation's validity by default, in milliseconds. */
export const DEFAULT_CLOCK_SKEW_MS = 60_000;

/** Options of {@link identityTrust}. */
export interface IdentityTrustOptions {
  /**
   * Identity pins per slug: `hex(SHA-256(identity_key))`, one or several (e.g. the current and
   * the next identity).
   */
  pins?: Readonly<Record<string, string | readonly string[]>>;
  /** Identity pins for every slug of the origin (a fleet identity), for slugs without their own. */
  fleet?: string | readonly string[];
  /**
   * The clock skew allowed around an attestation's validity, in milliseconds (check 6).
   * @defaultValue 60000 (at most 300000)
   */
  clockSkewMs?: number;
  /**
   * The wall clock attestations are judged by, in Unix milliseconds.
   * @defaultValue `Date.now`
   */
  wallClock?: () => number;
  /**
   * Where the highest accepted `serial` per (origin, slug, identity) is kept (check 7): any
   * `TrustStore` with `raiseSerial` (the memory, `localStorage` and file stores have it).
   * @defaultValue this object's own memory
   */
  serialStore?: TrustStore;
}

/**
 * The key under which a store keeps the highest attestation serial accepted (spec §8.2 check 7).
 * @param origin - the client's normalised origin.
 * @param slug - the machine's slug.
 * @param identity - the identity that signed.
 * @returns `origin + " " + slug + " " + identity`.
 */
export function serialKey(origin: string, slug: string, identity: string): string {
  return `${origin} ${slug} ${identity}`;
}

/** Serials in memory, when no `serialStore` was given. */
function memorySerials(): Required<Pick<TrustStore, 'raiseSerial'>> {
  const serials = new Map<string, number>();
  return {
    async raiseSerial(key, serial) {
      const highest = Math.max(serials.get(key) ?? serial, serial);
      serials.set(key, highest);
      return highest;
    },
  };
}

/**
 * Makes the identity pins of a client (spec §8): pass the result as `createClient`'s `identity`.
 * @param options - pins per slug and/or a fleet identity, the clock, its skew, the serial store.
 * @returns the identity branch of the trust decision.
 * @throws {TypeError} for a malformed slug or pin, no pin at all, a `wallClock` that is not a
 *   function, or a `serialStore` without `raiseSerial`.
 * @throws {RangeError} for a clock skew that is negative, not a number, or above 300000 ms.
 * @example
 * ```ts
 * import { createClient } from 'zeq-keyex';
 * import { identityTrust } from 'zeq-keyex/identity';
 * const client = createClient({
 *   origin: 'https://edge.example',
 *   identity: identityTrust({ fleet: '347f14a8e4fb1ffd4df5eddb7e7e49298180015c37f79efc07838011937a957b' }),
 * });
 * const session = await client.handshake('edge-01'); // session.trust === 'identity'
 * ```
 */
export function identityTrust(options: IdentityTrustOptions): IdentityTrust {
  const pins = new Map<string, readonly string[]>();
  for (const [slug, value] of Object.entries(options.pins ?? {})) {
    assertSlug(slug);
    pins.set(slug, parsePins(value));
  }
  const fleet = options.fleet === undefined ? undefined : parsePins(options.fleet);
  if (pins.size === 0 && fleet === undefined)
    throw new TypeError('identityTrust needs pins for a slug or a fleet identity');
  const skewMs = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  if (typeof skewMs !== 'number' || !Number.isFinite(skewMs) || skewMs < 0)
    throw new RangeError('clockSkewMs must be a number of milliseconds >= 0');
  if (skewMs > MAX_CLOCK_SKEW_S * 1000)
    throw new RangeError(`clockSkewMs must be at most ${MAX_CLOCK_SKEW_S * 1000} (spec §8.2)`);
  const wallClock = options.wallClock ?? Date.now;
  if (typeof wallClock !== 'function') throw new TypeError('wallClock must be a function');
  const store = options.serialStore;
  if (store !== undefined && typeof store.raiseSerial !== 'function')
    throw new TypeError('serialStore must be a TrustStore with raiseSerial');
  const serials =
    (store as Required<Pick<TrustStore, 'raiseSerial'>> | undefined) ?? memorySerials();
  const identitiesOf = (slug: string): readonly string[] | undefined => pins.get(slug) ?? fleet;

  async function check(
    origin: string,
    slug: string,
    document: TrustedDocument,
  ): Promise<TrustDecision> {
    const identities = identitiesOf(slug);
    const { alg, publicKey, machineId } = document;
    if (identities === undefined) throw new ZeqKeyExError('pin_required');
    if (alg === undefined || publicKey === undefined || machineId === undefined)
      throw new TypeError('an identity check needs the whole key document');
    const { verify } = await loadSignatureVerifier();
    const attestation = await checkAttestation(document.attestation, {
      document: { alg, publicKey, machineId, slug },
      identityPins: identities,
      nowSeconds: wallClock() / 1000,
      skewSeconds: skewMs / 1000,
      verify,
    });
    // 7. not lower than the highest serial accepted for (origin, slug, identity); remembered now.
    const key = serialKey(origin, slug, attestation.identity);
    const highest = await callStore(() => serials.raiseSerial(key, attestation.serial));
    if (!isSerial(highest))
      throw new ZeqKeyExError('store_error', 'malformed serial in the serial store');
    if (highest > attestation.serial) throw new ZeqKeyExError('attestation_rollback');
    return Object.freeze({
      mode: 'identity',
      identity: attestation.identity,
      serial: attestation.serial,
      // A kept document is used until its not_after (without the skew).
      stillValid: () => wallClock() <= attestation.notAfter * 1000,
      confirmed: async () => undefined,
    });
  }

  return Object.freeze({
    covers: (slug: string) => identitiesOf(slug) !== undefined,
    check,
  });
}
