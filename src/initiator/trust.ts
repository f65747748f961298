/**
 * The initiator's trust decision (spec §2.1 check 3, §6): whether a responder's key document may
 * be used, and how the session it leads to is authenticated. Three choices, in order of
 * precedence, each made per slug:
 * 1. a pin (or a set of pins during a rotation): the fingerprint must be one of them
 *    (`fingerprint_mismatch`);
 * 2. a trust-on-first-use store: the first fingerprint seen per origin and slug is remembered, and a
 *    later one must equal it (`tofu_key_changed`);
 * 3. an explicit unauthenticated mode (`insecureUnpinned`), whose sessions say so.
 * With none of them nothing is sent (`pin_required`). Identity pins (§8) come first of all: a
 * slug's own identity pins, else the origin's fleet identity pins; the key document must then carry
 * an attestation by one of those identities that passes every check of §8.2, in order
 * (`core/attestation.ts`, loaded with a dynamic `import()` only when a client has identity pins, so
 * that other apps do not ship ML-DSA), and whose `serial` is not lower than the highest one already
 * accepted for (origin, slug, identity) (`attestation_rollback`; the serials are kept by the
 * `serialStore`, by default in memory for the client's life).
 *
 * Mode-B (§4.1) takes a pin only, as part of the protocol core's input (`expected_fingerprint`):
 * `core/modeb.ts` runs the same pin check, `assertFingerprintPinned` of `core/fingerprint.ts`, that
 * the pin branch here runs, so a pin means the same thing to both.
 *
 * Also here: the TOFU stores (memory and Web Storage; a file store is in `zeq-keyex/node`).
 *
 * Security caveats:
 * - Every check runs before anything is encapsulated or sent; pins are compared in constant time
 *   over the whole set (`core/fingerprint.ts`).
 * - TOFU authenticates every contact but the first. The first handshake with a responder is only
 *   as trustworthy as the network it crossed; a pin held in code has no such window. A first use is
 *   remembered only after the key confirmation succeeded, and two racing first contacts must agree
 *   on the one fingerprint the store keeps.
 * - A store's failure, or a stored value that is not a fingerprint (a file edited by hand), is
 *   `store_error`: never a silent re-trust.
 * - An identity pin trusts whatever the identity signs, for every slug it covers: see
 *   docs/identity.md for what that protects and what it does not. A serial is remembered as soon
 *   as its document passed the checks (it is signed by the identity), before anything is sent.
 * @module
 */
import { MAX_CLOCK_SKEW_S } from '../core/constants.js';
import type { KeyDocument } from '../core/document.js';
import { ZeqKeyExError, callStore } from '../core/errors.js';
import { assertFingerprintPinned, parsePins } from '../core/fingerprint.js';
import { assertSlug, isFingerprint } from '../core/identifiers.js';
import type { TrustMode } from './session.js';

/** §8.2: the clock skew allowed around an attestation's validity by default, in milliseconds. */
export const DEFAULT_CLOCK_SKEW_MS = 60_000;

/** The trust options of a client (part of `ClientOptions`). */
export interface TrustOptions {
  /** Pins per slug: one fingerprint, or several during a key rotation. */
  pins?: Readonly<Record<string, string | readonly string[]>>;
  /**
   * Identity pins per slug (spec §8): `hex(SHA-256(identity_key))`, one or several. The slug's
   * key document must be signed by one of these identities; its KEM key may rotate freely.
   * Takes precedence over every other choice for the slug.
   */
  identityPins?: Readonly<Record<string, string | readonly string[]>>;
  /**
   * Identity pins for every slug of the origin (a fleet identity, spec §8), for slugs without
   * identity pins of their own. Takes precedence over `pins`, `tofu` and `insecureUnpinned`.
   */
  fleetIdentityPins?: string | readonly string[];
  /**
   * The clock skew allowed around an attestation's validity, in milliseconds (spec §8.2 check 6).
   * @defaultValue 60000 (at most 300000)
   */
  clockSkewMs?: number;
  /**
   * The wall clock the validity of attestations is judged by, in Unix milliseconds.
   * @defaultValue `Date.now`
   */
  wallClock?: () => number;
  /**
   * Where the highest accepted attestation `serial` per (origin, slug, identity) is kept (spec §8.2
   * check 7): any store with `raiseSerial` (the memory, `localStorage` and file stores have it).
   * @defaultValue a memory store of this client
   */
  serialStore?: TrustStore;
  /** Trust on first use for slugs without a pin: remembers the first fingerprint seen. */
  tofu?: TrustStore;
  /**
   * Accept an unauthenticated first contact for slugs with neither a pin nor a TOFU store.
   * Sessions made this way say `authenticated: false`. Stops a passive recorder only.
   * @defaultValue false
   */
  insecureUnpinned?: boolean;
}

/**
 * What the trust decision reads of a key document: its fingerprint, and for the identity branch
 * the whole document (alg, key, machine_id and the raw `attestation`).
 */
export type TrustedDocument = Pick<KeyDocument, 'fingerprint'> &
  Partial<Pick<KeyDocument, 'alg' | 'publicKey' | 'machineId' | 'attestation'>>;

/** The trust a key document earned, and what remains to be done once the handshake is confirmed. */
export interface TrustDecision {
  /** How the session will be authenticated. */
  readonly mode: TrustMode;
  /** The identity that signed the key document (mode `identity`). */
  readonly identity?: string;
  /** The attestation's serial (mode `identity`). */
  readonly serial?: number;
  /** The end of the attestation's validity, Unix milliseconds (mode `identity`). */
  readonly notAfterMs?: number;
  /**
   * Call once the key confirmation succeeded: remembers a TOFU first use (and checks that a racing
   * first contact did not store another fingerprint); does nothing for the other modes.
   * @throws {ZeqKeyExError} `store_error`, `tofu_key_changed`.
   */
  confirmed(): Promise<void>;
}

/** The initiator's trust decision, made the same way for every handshake of a client. */
export interface TrustPolicy {
  /**
   * Checks, before anything is sent, that `slug` has a trust choice at all.
   * @param slug - a valid slug.
   * @throws {ZeqKeyExError} `pin_required`.
   */
  assertChoice(slug: string): void;
  /**
   * §2.1 check 3 for a key document that passed checks 1 and 2 — or, for a slug with identity
   * pins, the checks of §8.2 in its place.
   * @param origin - the client's normalised origin (part of the TOFU and serial keys).
   * @param slug - the machine's slug.
   * @param document - the validated key document.
   * @returns the decision.
   * @throws {ZeqKeyExError} `pin_required`, `fingerprint_mismatch`, `tofu_key_changed` (each with
   *   `expectedFingerprint` and `actualFingerprint`), `attestation_required`,
   *   `attestation_invalid`, `identity_mismatch`, `attestation_expired`, `attestation_rollback`,
   *   `store_error`.
   */
  check(origin: string, slug: string, document: TrustedDocument): Promise<TrustDecision>;
  /**
   * Whether a cached document of `slug`, trusted by `decision`, may still be used now: an
   * identity decision until its `not_after`, a pin decision while the pins still hold its key.
   * @param slug - the machine's slug.
   * @param decision - the decision the document earned when it was fetched.
   * @param fingerprint - the document's fingerprint.
   * @returns whether it may be used without fetching it again.
   */
  stillTrusted(slug: string, decision: TrustDecision, fingerprint: string): boolean;
}

/** Decisions with nothing left to do after the confirmation. */
const SETTLED: Readonly<Record<'pinned' | 'tofu-match' | 'unauthenticated', TrustDecision>> =
  Object.freeze({
    pinned: Object.freeze({ mode: 'pinned', confirmed: async () => undefined }),
    'tofu-match': Object.freeze({ mode: 'tofu-match', confirmed: async () => undefined }),
    unauthenticated: Object.freeze({ mode: 'unauthenticated', confirmed: async () => undefined }),
  });

/**
 * Validates a client's trust options (programmer input) and creates its policy.
 * @param options - pins, TOFU store, unauthenticated opt-in.
 * @returns the policy.
 * @throws {TypeError} for a malformed slug or pin in `pins`, an empty pin set, or a `tofu` that is
 *   not a {@link TrustStore}.
 */
export function createTrustPolicy(options: TrustOptions): TrustPolicy {
  const pins = slugPins(options.pins);
  const identityPins = slugPins(options.identityPins);
  const fleetIdentityPins =
    options.fleetIdentityPins === undefined ? undefined : parsePins(options.fleetIdentityPins);
  const { tofu } = options;
  if (
    tofu !== undefined &&
    (typeof tofu.get !== 'function' || typeof tofu.putIfAbsent !== 'function')
  ) {
    throw new TypeError('tofu must be a TrustStore');
  }
  const insecureUnpinned = options.insecureUnpinned === true;
  const identity = identityOptions(options);

  function identitiesOf(slug: string): readonly string[] | undefined {
    return identityPins.get(slug) ?? fleetIdentityPins;
  }

  function assertChoice(slug: string): void {
    if (
      identitiesOf(slug) === undefined &&
      !pins.has(slug) &&
      tofu === undefined &&
      !insecureUnpinned
    )
      throw new ZeqKeyExError('pin_required', `no pin or TOFU store for ${slug}`);
  }

  async function check(
    origin: string,
    slug: string,
    document: TrustedDocument,
  ): Promise<TrustDecision> {
    // The branches in order of precedence: identity pins (the slug's, else the fleet's), then a
    // slug's pin, then the TOFU store.
    const identities = identitiesOf(slug);
    if (identities !== undefined)
      return checkIdentity(identity, { origin, slug, document, identities });
    const pinned = pins.get(slug);
    if (pinned !== undefined) {
      assertFingerprintPinned(document.fingerprint, pinned);
      return SETTLED.pinned;
    }
    if (tofu !== undefined) return checkTofu(tofu, tofuKey(origin, slug), document.fingerprint);
    assertChoice(slug);
    return SETTLED.unauthenticated;
  }

  function stillTrusted(slug: string, decision: TrustDecision, fingerprint: string): boolean {
    if (decision.mode === 'identity')
      return decision.notAfterMs !== undefined && identity.wallClock() <= decision.notAfterMs;
    const pinned = pins.get(slug);
    return (
      decision.mode === 'pinned' &&
      pinned !== undefined &&
      identitiesOf(slug) === undefined &&
      pinned.includes(fingerprint)
    );
  }

  return Object.freeze({ assertChoice, check, stillTrusted });
}

/** Pins per slug from configuration, each slug and pin checked. */
function slugPins(
  table: Readonly<Record<string, string | readonly string[]>> | undefined,
): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const [slug, value] of Object.entries(table ?? {})) {
    assertSlug(slug);
    out.set(slug, parsePins(value));
  }
  return out;
}

/** What the identity branch needs, validated once. */
interface IdentitySettings {
  readonly skewMs: number;
  readonly wallClock: () => number;
  readonly serials: TrustStore & Required<Pick<TrustStore, 'raiseSerial'>>;
}

function identityOptions(options: TrustOptions): IdentitySettings {
  const skewMs = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  if (typeof skewMs !== 'number' || !Number.isFinite(skewMs) || skewMs < 0)
    throw new RangeError('clockSkewMs must be a number of milliseconds >= 0');
  if (skewMs > MAX_CLOCK_SKEW_S * 1000)
    throw new RangeError(`clockSkewMs must be at most ${MAX_CLOCK_SKEW_S * 1000} (spec §8.2)`);
  const wallClock = options.wallClock ?? Date.now;
  if (typeof wallClock !== 'function') throw new TypeError('wallClock must be a function');
  const serials = options.serialStore ?? createMemoryTrustStore();
  if (typeof serials.raiseSerial !== 'function')
    throw new TypeError('serialStore must be a TrustStore with raiseSerial');
  return { skewMs, wallClock, serials: serials as IdentitySettings['serials'] };
}

/** The identity branch: checks 1–6 of §8.2 (`core/attestation.ts`), then check 7 (rollback). */
async function checkIdentity(
  settings: IdentitySettings,
  request: {
    origin: string;
    slug: string;
    document: TrustedDocument;
    identities: readonly string[];
  },
): Promise<TrustDecision> {
  const { origin, slug, document } = request;
  const { alg, publicKey, machineId } = document;
  if (alg === undefined || publicKey === undefined || machineId === undefined)
    throw new TypeError('an identity check needs the whole key document');
  // Loaded only here: an app with no identity pin never loads (nor bundles) ML-DSA.
  const [{ checkAttestation }, { loadSignatureVerifier }] = await Promise.all([
    import('../core/attestation.js'),
    import('../backends/dsa-backend.js'),
  ]);
  const { verify } = await loadSignatureVerifier();
  const attestation = await checkAttestation(document.attestation, {
    document: { alg, publicKey, machineId, slug },
    identityPins: request.identities,
    nowSeconds: settings.wallClock() / 1000,
    skewSeconds: settings.skewMs / 1000,
    verify,
  });
  // 7. not lower than the highest serial accepted for (origin, slug, identity); remembered now.
  const key = serialKey(origin, slug, attestation.identity);
  const highest = await callStore(() => settings.serials.raiseSerial(key, attestation.serial));
  if (!isSerial(highest))
    throw new ZeqKeyExError('store_error', 'malformed serial in the serial store');
  if (highest > attestation.serial) throw new ZeqKeyExError('attestation_rollback');
  return Object.freeze({
    mode: 'identity',
    identity: attestation.identity,
    serial: attestation.serial,
    notAfterMs: attestation.notAfter * 1000,
    confirmed: async () => undefined,
  });
}

/** An attestation serial as a store may hold it: an integer in [0, 2^53 − 1]. */
function isSerial(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
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

/** The TOFU branch: a remembered fingerprint must match; none yet is a first use, remembered once confirmed. */
async function checkTofu(
  store: TrustStore,
  key: string,
  fingerprint: string,
): Promise<TrustDecision> {
  const known = await storeCall(() => store.get(key));
  if (known !== undefined) {
    assertFingerprintPinned(fingerprint, known, 'tofu_key_changed');
    return SETTLED['tofu-match'];
  }
  return {
    mode: 'tofu-first-use',
    async confirmed() {
      // Two first contacts may race; the store keeps one fingerprint and both must agree on it.
      const stored = await storeCall(() => store.putIfAbsent(key, fingerprint));
      if (stored === undefined)
        throw new ZeqKeyExError('store_error', 'the TOFU store kept no fingerprint');
      assertFingerprintPinned(fingerprint, stored, 'tofu_key_changed');
    },
  };
}

/** A TOFU store call: its failures are `store_error`, and so is a value that is not a fingerprint. */
async function storeCall(call: () => Promise<string | undefined>): Promise<string | undefined> {
  const value = await callStore(call);
  // A store edited by hand must not turn into a TypeError (or a silent re-trust) here.
  if (value !== undefined && !isFingerprint(value))
    throw new ZeqKeyExError('store_error', 'malformed fingerprint in the TOFU store');
  return value;
}

/**
 * The key under which a TOFU store remembers a responder's fingerprint.
 * @param origin - the client's normalised origin.
 * @param slug - the machine's slug.
 * @returns `origin + " " + slug`.
 */
export function tofuKey(origin: string, slug: string): string {
  return `${origin} ${slug}`;
}

/**
 * A store of remembered fingerprints, keyed by `origin + " " + slug`, and optionally of the
 * highest attestation serials accepted, keyed by `origin + " " + slug + " " + identity`.
 */
export interface TrustStore {
  /** The remembered fingerprint, if any. */
  get(key: string): Promise<string | undefined>;
  /**
   * Remembers `fingerprint` unless a fingerprint is already stored for `key`.
   * @returns the fingerprint stored once the call returns (the earlier one, if there was one).
   */
  putIfAbsent(key: string, fingerprint: string): Promise<string>;
  /**
   * Raises the highest serial kept for `key` to `serial`, unless a higher one is kept (spec §8.2
   * check 7); one atomic step. Optional: a store without it cannot be a `serialStore`.
   * @param key - see {@link serialKey}.
   * @param serial - the serial of an attestation that passed every other check.
   * @returns the highest serial kept once the call returns.
   */
  raiseSerial?(key: string, serial: number): Promise<number>;
}

/**
 * A trust store in memory: remembers fingerprints for the life of the process or page.
 * @returns the store.
 */
export function createMemoryTrustStore(): TrustStore {
  const map = new Map<string, string>();
  const serials = new Map<string, number>();
  return {
    get: async (key) => map.get(key),
    async raiseSerial(key, serial) {
      const highest = Math.max(serials.get(key) ?? serial, serial);
      serials.set(key, highest);
      return highest;
    },
    async putIfAbsent(key, fingerprint) {
      const existing = map.get(key);
      if (existing !== undefined) return existing;
      map.set(key, fingerprint);
      return fingerprint;
    },
  };
}

/** The subset of the Web Storage API a {@link createLocalStorageTrustStore} needs. */
export interface StorageLike {
  /**
   * Reads an entry.
   * @param key - the entry's name (the store's prefix, then the responder's origin and slug).
   * @returns the stored fingerprint, or `null` when there is none.
   */
  getItem(key: string): string | null;
  /**
   * Writes an entry.
   * @param key - the entry's name, as for `getItem`.
   * @param value - the fingerprint to remember, 64 lowercase hex characters.
   */
  setItem(key: string, value: string): void;
}

/**
 * A trust store in the browser's `localStorage` (or any Web Storage object).
 * @param options - `storage` (default `globalThis.localStorage`) and a key `prefix`.
 * @returns the store.
 * @throws {TypeError} when no storage is available.
 */
export function createLocalStorageTrustStore(
  options: { storage?: StorageLike; prefix?: string } = {},
): TrustStore {
  const storage = options.storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
  if (storage === undefined)
    throw new TypeError('no localStorage is available; pass options.storage');
  const prefix = options.prefix ?? 'zeq-keyex:tofu:';
  // Serials beside the fingerprints, under a key no fingerprint entry has (those end in a slug).
  const serialPrefix = `${prefix}serial:`;
  return {
    async get(key) {
      return storage.getItem(prefix + key) ?? undefined;
    },
    async raiseSerial(key, serial) {
      const stored = storage.getItem(serialPrefix + key);
      const known = stored === null ? undefined : Number(stored);
      if (stored !== null && (!/^\d{1,16}$/.test(stored) || !isSerial(known)))
        throw new ZeqKeyExError('store_error', 'malformed serial in the trust store');
      if (known !== undefined && known >= serial) return known;
      storage.setItem(serialPrefix + key, String(serial));
      return serial;
    },
    async putIfAbsent(key, fingerprint) {
      const existing = storage.getItem(prefix + key);
      if (existing !== null) return existing;
      storage.setItem(prefix + key, fingerprint);
      return fingerprint;
    },
  };
}
