/**
 * The responder's identity key and its signed key documents (spec §8.1, §8.3): the identity is
 * read from its store and opened once (its seed sealed under the field key, §5); each machine's
 * key document is signed once per validity period and slug and served as cached JSON text.
 *
 * A document is valid for `validitySeconds` (7 days by default, at most 30) from its signing time,
 * and signed again once less than half of that remains, or at once when the machine's key changed
 * (a rotation, §8.3). Its `serial` is the signing time in seconds, but never lower than the
 * highest serial the store kept for that slug and identity: it is raised in the store before the
 * document is served, so that a restarted responder, or another one sharing the store, never
 * serves a lower serial than one already served. Concurrent requests for a slug whose document is
 * due share one signing.
 *
 * Security caveats:
 * - An identity that is configured but missing, or that does not open (wrong field key, tampered
 *   record, a seed that does not derive the stored public key), stops signing: key documents are
 *   refused (`identity_unavailable`, a `500 internal` on the wire, logged), never served unsigned
 *   and never signed by a new identity. The failure is kept: fixing the store needs a restart.
 * - The identity's expanded secret key lives in memory from the first signing to `close()`, which
 *   wipes it; the seed is wiped as soon as the key is derived.
 * - Signing is hedged (noble's default); documents are public.
 *
 * ML-DSA (`core/attestation.ts`, noble) is loaded by a dynamic `import()` when the identity is
 * first opened, so that a responder without an identity does not ship it.
 * @module
 */
import type { AttestationFields, AttestationJson } from '../core/attestation.js';
import { MAX_ATTESTATION_VALIDITY_S, SIG_ALG, SIG_SIZES } from '../core/constants.js';
import { base64Decode, base64Encode } from '../core/encoding.js';
import { ZeqKeyExError, callStore, isZeqKeyExError } from '../core/errors.js';
import { constantTimeEqual, randomBytes, wipe } from '../core/primitives.js';
import {
  deriveSealKey,
  parseFieldKey,
  sealIdentitySeed,
  unsealIdentitySeed,
} from '../core/sealing.js';
import { type IdentityStore, isIdentityStore, isStoredIdentity } from './identity-store.js';
import type { KeyDocumentJson, MachineKey } from './key-manager.js';
import type { Logger } from './logger.js';

/** The ML-DSA-65 layer, loaded on first use. */
type AttestationModule = typeof import('../core/attestation.js');
const loadAttestation = (): Promise<AttestationModule> => import('../core/attestation.js');

/** Default validity of a signed key document: seven days, in seconds. */
export const DEFAULT_DOCUMENT_VALIDITY_S = 604_800;

/** The responder's `identity` option: sign every key document with the deployment's identity. */
export interface IdentityOptions {
  /**
   * Where the identity key is kept, sealed, and the serials signed (the memory and file key
   * stores are identity stores too). The identity must exist: it is never made here (make it with
   * `createIdentity`, or `zeq-keyex identity --create`).
   */
  store: IdentityStore;
  /**
   * How long each signed document is valid, in seconds (`not_after − not_before`); it is signed
   * again once less than half remains. At most 30 days (spec §8.1).
   * @defaultValue 604_800 (seven days)
   */
  validitySeconds?: number;
}

/** The identity configuration, checked. */
export interface IdentityConfig {
  readonly store: IdentityStore;
  readonly validitySeconds: number;
}

/**
 * Checks the `identity` option.
 * @param options - the option as given.
 * @returns the checked configuration, or `undefined` when no identity is configured.
 * @throws {TypeError} for a store without the identity methods.
 * @throws {RangeError} for a validity that is not an integer number of seconds in [2, 30 days].
 */
export function resolveIdentityOptions(
  options: IdentityOptions | undefined,
): IdentityConfig | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || !isIdentityStore(options.store))
    throw new TypeError(
      'identity must be { store } with getIdentity, putIdentityIfAbsent, getSerial and raiseSerial',
    );
  const validitySeconds = options.validitySeconds ?? DEFAULT_DOCUMENT_VALIDITY_S;
  if (
    !Number.isSafeInteger(validitySeconds) ||
    validitySeconds < 2 ||
    validitySeconds > MAX_ATTESTATION_VALIDITY_S
  )
    throw new RangeError(
      `identity.validitySeconds must be an integer in [2, ${MAX_ATTESTATION_VALIDITY_S}] (30 days)`,
    );
  return { store: options.store, validitySeconds };
}

/** The signing function; a test seam (counting signers), noble's `signAttestation` otherwise. */
export type AttestationSigner = (
  secretKey: Uint8Array,
  publicKey: Uint8Array,
  fields: AttestationFields,
) => AttestationJson;

/** What {@link createIdentitySigner} needs. */
export interface IdentitySignerOptions extends IdentityConfig {
  /** The §5 seal key (the responder's; not copied, not wiped here). */
  readonly sealKey: Uint8Array;
  readonly logger: Logger;
  /** The clock, in milliseconds since the Unix epoch. */
  readonly now: () => number;
  /** @defaultValue `signAttestation` */
  readonly sign?: AttestationSigner;
}

/** The identity, opened. */
interface OpenedIdentity {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  /** `hex(SHA-256(publicKey))`, what initiators pin. */
  readonly identity: string;
}

/** A signed document, cached per slug. */
interface SignedDocument {
  /** The fingerprint of the machine key it was signed for. */
  readonly fingerprint: string;
  readonly notBefore: number;
  readonly document: KeyDocumentJson;
  /** The document as JSON text, served as is. */
  readonly json: string;
}

/** Signs key documents with the deployment's identity. */
export interface IdentitySigner {
  /**
   * The identity initiators pin: `hex(SHA-256(identity_key))`.
   * @returns 64 lowercase hex characters.
   * @throws {ZeqKeyExError} `identity_unavailable`, `store_error`.
   */
  identity(): Promise<string>;
  /**
   * A machine key's signed document, from the cache while more than half its validity remains.
   * @param key - the machine's current key.
   * @returns the document with its `attestation`, as an object and as JSON text.
   * @throws {ZeqKeyExError} `identity_unavailable`, `store_error`.
   */
  document(key: MachineKey): Promise<{ document: KeyDocumentJson; json: string }>;
  /** Wipes the identity's secret key; later calls fail with `identity_unavailable`. */
  close(): void;
}

/**
 * Creates the signer of a responder with an identity.
 * @param options - the identity store, validity, seal key, logger and clock.
 * @returns the signer; the identity is opened on first use.
 */
export function createIdentitySigner(options: IdentitySignerOptions): IdentitySigner {
  const { store, validitySeconds, sealKey, logger, now } = options;
  let sign = options.sign;
  let opening: Promise<OpenedIdentity> | undefined;
  let opened: OpenedIdentity | undefined;
  /** A lasting failure: the identity is missing or does not open. */
  let failed: ZeqKeyExError | undefined;
  let closed = false;
  const cache = new Map<string, SignedDocument>();
  const signing = new Map<string, Promise<SignedDocument>>();

  function unavailable(reason: string): ZeqKeyExError {
    logger.error('identity unavailable; key documents are not served', {
      code: 'identity_unavailable',
      reason,
    });
    return new ZeqKeyExError('identity_unavailable');
  }

  async function open(): Promise<OpenedIdentity> {
    const { identityKeygen, identityOf, signAttestation } = await loadAttestation();
    sign ??= signAttestation;
    const stored = await callStore(() => store.getIdentity(), 'the identity store failed to read');
    if (stored === undefined) throw unavailable('missing');
    if (!isStoredIdentity(stored) || stored.sigAlg !== SIG_ALG)
      throw unavailable('malformed_record');
    let publicKey: Uint8Array;
    try {
      publicKey = base64Decode(stored.identityKey, SIG_SIZES.identityKey, 'identityKey');
    } catch {
      throw unavailable('invalid_identity_key');
    }
    let seed: Uint8Array;
    try {
      seed = unsealIdentitySeed(sealKey, publicKey, stored.sealedSeed);
    } catch {
      throw unavailable('unseal_failed');
    }
    let pair;
    try {
      pair = identityKeygen(seed);
    } finally {
      wipe(seed);
    }
    if (!constantTimeEqual(pair.publicKey, publicKey)) {
      wipe(pair.secretKey);
      throw unavailable('public_key_mismatch');
    }
    return { publicKey, secretKey: pair.secretKey, identity: identityOf(publicKey) };
  }

  function assertOpen(): void {
    if (closed) throw new ZeqKeyExError('identity_unavailable', 'the responder is closed');
    if (failed !== undefined) throw failed;
  }

  async function openedIdentity(): Promise<OpenedIdentity> {
    assertOpen();
    if (opened !== undefined) return opened;
    opening ??= open().then(
      (identity) => {
        if (closed) {
          wipe(identity.secretKey);
          throw new ZeqKeyExError('identity_unavailable', 'the responder is closed');
        }
        opened = identity;
        return identity;
      },
      (error: unknown) => {
        opening = undefined;
        // A store that failed may answer later; an identity that is missing or does not open stays so.
        if (isZeqKeyExError(error, 'identity_unavailable')) failed = error;
        throw error;
      },
    );
    return opening;
  }

  /** Whether a cached document still serves: same key, and at least half its validity left. */
  function fresh(entry: SignedDocument | undefined, key: MachineKey): entry is SignedDocument {
    if (entry === undefined || entry.fingerprint !== key.fingerprint) return false;
    const seconds = Math.floor(now() / 1_000);
    return seconds >= entry.notBefore && seconds - entry.notBefore < validitySeconds / 2;
  }

  async function signFor(key: MachineKey): Promise<SignedDocument> {
    const identity = await openedIdentity();
    const notBefore = Math.floor(now() / 1_000);
    // Raised before the document exists, so that no served document has a serial the store lacks;
    // the store answers the highest it keeps, which is the serial when it is above the time.
    const kept = await callStore(
      () => store.raiseSerial(key.slug, identity.identity, notBefore),
      'the identity store failed to write',
    );
    if (!Number.isSafeInteger(kept) || kept < notBefore)
      throw new ZeqKeyExError('store_error', 'the identity store answered a lower serial');
    const serial = kept;
    assertOpen();
    if (sign === undefined) throw new ZeqKeyExError('identity_unavailable');
    const attestation = sign(identity.secretKey, identity.publicKey, {
      alg: key.alg,
      slug: key.slug,
      machineId: key.machineId,
      publicKey: key.publicKey,
      serial,
      notBefore,
      notAfter: notBefore + validitySeconds,
    });
    const document: KeyDocumentJson = {
      ...(JSON.parse(key.documentJson) as KeyDocumentJson),
      attestation,
    };
    return { fingerprint: key.fingerprint, notBefore, document, json: JSON.stringify(document) };
  }

  return {
    async identity(): Promise<string> {
      return (await openedIdentity()).identity;
    },
    async document(key: MachineKey): Promise<{ document: KeyDocumentJson; json: string }> {
      assertOpen();
      const cached = cache.get(key.slug);
      if (fresh(cached, key)) return cached;
      let pending = signing.get(key.slug);
      if (pending === undefined) {
        pending = signFor(key).finally(() => signing.delete(key.slug));
        signing.set(key.slug, pending);
      }
      const signed = await pending;
      // A request for a key rotated meanwhile signs again (next call), never serves the old key.
      if (signed.fingerprint !== key.fingerprint) return this.document(key);
      if (!closed) cache.set(key.slug, signed);
      return signed;
    },
    close(): void {
      closed = true;
      if (opened !== undefined) wipe(opened.secretKey);
      opened = undefined;
      cache.clear();
    },
  };
}

/** Options of {@link createIdentity}. */
export interface CreateIdentityOptions {
  /** Where the identity is kept (a memory or file key store, or your own). */
  store: IdentityStore;
  /** The deployment's field key (spec §5): 64 hex characters, or 32 bytes (copied, not kept). */
  fieldKey: string | Uint8Array;
  /**
   * Make the identity when the store has none (a fresh random seed, sealed). Without it, a store
   * with no identity is an error.
   * @defaultValue true
   */
  create?: boolean;
}

/** What {@link createIdentity} found or made. */
export interface IdentityInfo {
  /** `hex(SHA-256(identity_key))`: the identity initiators pin. */
  readonly identity: string;
  /** Whether it was made by this call. */
  readonly created: boolean;
}

/**
 * Makes the deployment's identity key (spec §8) unless its store has one, and checks that the
 * stored one opens under the field key: what `zeq-keyex identity --create` does. An identity is
 * never replaced: when another writer stored one first, that one is kept.
 * @param options - store, field key, and whether to create.
 * @returns the identity to pin and whether it was created.
 * @throws {ZeqKeyExError} `invalid_field_key`; `identity_unavailable` when there is none (and
 *   `create` is false) or it does not open under this field key; `store_error`.
 * @example
 * ```ts
 * const { identity } = await createIdentity({ store: createFileKeyStore(dir), fieldKey });
 * // give `identity` to the apps that pin it; serve with createResponder({ ..., identity: { store } })
 * ```
 */
export async function createIdentity(options: CreateIdentityOptions): Promise<IdentityInfo> {
  if (typeof options !== 'object' || options === null || !isIdentityStore(options.store))
    throw new TypeError('createIdentity expects { store, fieldKey } with an identity store');
  const fieldKey =
    options.fieldKey instanceof Uint8Array
      ? Uint8Array.from(options.fieldKey)
      : parseFieldKey(options.fieldKey);
  let sealKey: Uint8Array | undefined;
  try {
    sealKey = deriveSealKey(fieldKey);
    const { store } = options;
    let created = false;
    const existing = await callStore(
      () => store.getIdentity(),
      'the identity store failed to read',
    );
    if (existing === undefined && options.create !== false) {
      const { identityKeygen } = await loadAttestation();
      const seed = randomBytes(SIG_SIZES.seed);
      try {
        const pair = identityKeygen(seed);
        wipe(pair.secretKey);
        const record = {
          sigAlg: SIG_ALG,
          identityKey: base64Encode(pair.publicKey),
          sealedSeed: sealIdentitySeed(sealKey, pair.publicKey, seed),
          createdAt: new Date().toISOString(),
        };
        const stored = await callStore(
          () => store.putIdentityIfAbsent(record),
          'the identity store failed to write',
        );
        created = stored.identityKey === record.identityKey;
      } finally {
        wipe(seed);
      }
    }
    // Opened as the responder opens it, so a wrong field key is found now, not when serving.
    const signer = createIdentitySigner({
      store,
      validitySeconds: DEFAULT_DOCUMENT_VALIDITY_S,
      sealKey,
      logger: { warn: () => undefined, error: () => undefined },
      now: Date.now,
    });
    try {
      return { identity: await signer.identity(), created };
    } finally {
      signer.close();
    }
  } finally {
    wipe(fieldKey, sealKey);
  }
}
