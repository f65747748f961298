/**
 * The initiator's trust decision (spec §2.1 check 3, §6): whether a responder's key document may
 * be used, and how the session it leads to is authenticated. Three choices, in order of
 * precedence, each made per slug:
 * 1. a pin (or a set of pins during a rotation): the fingerprint must be one of them
 *    (`fingerprint_mismatch`);
 * 2. a trust-on-first-use store: the first fingerprint seen per origin and slug is remembered, and a
 *    later one must equal it (`tofu_key_changed`);
 * 3. an explicit unauthenticated mode (`insecureUnpinned`), whose sessions say so.
 * With none of them nothing is sent (`pin_required`). Identity pins (§8) are one more branch of
 * {@link TrustPolicy.check}, ahead of the KEM-key pins.
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
 * @module
 */
import { ZeqKeyExError, callStore } from '../core/errors.js';
import { assertFingerprintPinned, parsePins } from '../core/fingerprint.js';
import { assertSlug, isFingerprint } from '../core/identifiers.js';
import type { TrustMode } from './session.js';

/** The trust options of a client (part of `ClientOptions`). */
export interface TrustOptions {
  /** Pins per slug: one fingerprint, or several during a key rotation. */
  pins?: Readonly<Record<string, string | readonly string[]>>;
  /** Trust on first use for slugs without a pin: remembers the first fingerprint seen. */
  tofu?: TrustStore;
  /**
   * Accept an unauthenticated first contact for slugs with neither a pin nor a TOFU store.
   * Sessions made this way say `authenticated: false`. Stops a passive recorder only.
   * @defaultValue false
   */
  insecureUnpinned?: boolean;
}

/** The trust a key document earned, and what remains to be done once the handshake is confirmed. */
export interface TrustDecision {
  /** How the session will be authenticated. */
  readonly mode: TrustMode;
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
   * §2.1 check 3 for a key document that passed checks 1 and 2.
   * @param origin - the client's normalised origin (part of the TOFU key).
   * @param slug - the machine's slug.
   * @param document - the validated key document (its fingerprint).
   * @returns the decision.
   * @throws {ZeqKeyExError} `pin_required`, `fingerprint_mismatch`, `tofu_key_changed` (each with
   *   `expectedFingerprint` and `actualFingerprint`), `store_error`.
   */
  check(
    origin: string,
    slug: string,
    document: { readonly fingerprint: string },
  ): Promise<TrustDecision>;
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
  const pins = new Map<string, readonly string[]>();
  for (const [slug, value] of Object.entries(options.pins ?? {})) {
    assertSlug(slug);
    pins.set(slug, parsePins(value));
  }
  const { tofu } = options;
  if (
    tofu !== undefined &&
    (typeof tofu.get !== 'function' || typeof tofu.putIfAbsent !== 'function')
  ) {
    throw new TypeError('tofu must be a TrustStore');
  }
  const insecureUnpinned = options.insecureUnpinned === true;

  function assertChoice(slug: string): void {
    if (!pins.has(slug) && tofu === undefined && !insecureUnpinned)
      throw new ZeqKeyExError('pin_required', `no pin or TOFU store for ${slug}`);
  }

  async function check(
    origin: string,
    slug: string,
    document: { readonly fingerprint: string },
  ): Promise<TrustDecision> {
    // The branches in order of precedence; a slug's pin overrides the TOFU store.
    const pinned = pins.get(slug);
    if (pinned !== undefined) {
      assertFingerprintPinned(document.fingerprint, pinned);
      return SETTLED.pinned;
    }
    if (tofu !== undefined) return checkTofu(tofu, tofuKey(origin, slug), document.fingerprint);
    assertChoice(slug);
    return SETTLED.unauthenticated;
  }

  return Object.freeze({ assertChoice, check });
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

/** A store of remembered fingerprints, keyed by `origin + " " + slug`. */
export interface TrustStore {
  /** The remembered fingerprint, if any. */
  get(key: string): Promise<string | undefined>;
  /**
   * Remembers `fingerprint` unless a fingerprint is already stored for `key`.
   * @returns the fingerprint stored once the call returns (the earlier one, if there was one).
   */
  putIfAbsent(key: string, fingerprint: string): Promise<string>;
}

/**
 * A trust store in memory: remembers fingerprints for the life of the process or page.
 * @returns the store.
 */
export function createMemoryTrustStore(): TrustStore {
  const map = new Map<string, string>();
  return {
    get: async (key) => map.get(key),
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
  return {
    async get(key) {
      return storage.getItem(prefix + key) ?? undefined;
    },
    async putIfAbsent(key, fingerprint) {
      const existing = storage.getItem(prefix + key);
      if (existing !== null) return existing;
      storage.setItem(prefix + key, fingerprint);
      return fingerprint;
    },
  };
}
