/**
 * The responder's storage interfaces and their in-memory implementations: a key store for each
 * machine's key pair (spec §2.1, §5) and a session store for live first-contact sessions with
 * replay protection (spec §2.3).
 *
 * Security caveats:
 * - Only the sealed form of a secret key (spec §5) ever reaches a {@link KeyStore}; a stored key is
 *   plain JSON-able data that is safe to back up, though useless without the field key.
 * - {@link KeyStore.putIfAbsent} is what makes lazy key generation safe across processes: whoever
 *   writes first wins, and every other writer adopts the stored key. A store that cannot do that
 *   atomically breaks the "one key pair per machine" guarantee.
 * - A session holds its 32-byte record key; the memory store wipes it when the session is deleted,
 *   evicted or purged. Replayed ciphertexts are refused at least while the session derived from
 *   them can be live (spec §2.3); the responder's replay memory (`replay-memory.ts`) keeps each
 *   tag until that session's expiry, whatever becomes of the session. Time limits on stores given
 *   in the options are in `store-timeouts.ts`.
 * @module
 */
import { ZeqKeyExError } from '../core/errors.js';
import { hasStringFields, isJsonObject } from '../core/json.js';
import { assertPositiveInteger } from '../core/limits.js';
import { lp } from '../core/encoding.js';
import { constantTimeEqual, sha256, wipe } from '../core/primitives.js';
import { type IdentityStore, createMemoryIdentityStore } from './identity-store.js';
import { OrderedMap } from './ordered-map.js';

/** A machine's key pair as stored: public data plus the sealed seed (spec §5). */
export interface StoredKey {
  /** The KEM algorithm, `"ML-KEM-768"` or `"X-Wing"` (spec §9). */
  readonly alg: string;
  /** The slug the key belongs to (bound into the seal's AAD). */
  readonly slug: string;
  /** The machine id the key belongs to (bound into the seal's AAD). */
  readonly machineId: string;
  /** The public key, canonical base64. */
  readonly publicKey: string;
  /** `base64(nonce ‖ AES-256-GCM(seal_key, seed))`, spec §5. */
  readonly sealedSecretKey: string;
  /** When the key was generated, RFC 3339 UTC. */
  readonly createdAt: string;
}

/** Where machine keys live. Implementations must make {@link KeyStore.putIfAbsent} atomic. */
export interface KeyStore {
  /**
   * Reads a machine's stored key.
   * @param slug - the machine's slug.
   * @returns the stored key, or `undefined` when the machine has none yet.
   */
  get(slug: string): Promise<StoredKey | undefined>;
  /**
   * Stores a key unless one is already stored for its slug, atomically.
   * @param key - the new key.
   * @returns the key that ends up stored: `key`, or the existing one if another writer won.
   */
  putIfAbsent(key: StoredKey): Promise<StoredKey>;
  /**
   * Key rotation (spec §8.3), optional: replaces the slug's key `previous` with `next`, atomically,
   * and keeps `previous` as the slug's retired key until `retiredUntil` (replacing any retired key
   * it had). A store without it cannot rotate (`Responder.rotateKey` fails with `store_error`).
   * @param previous - the key the caller believes is stored.
   * @param next - the new key, for the same slug.
   * @param retiredUntil - when the retired key's grace period ends, ms since the Unix epoch.
   * @returns `true` when `next` is now stored; `false` when the slug's stored key was not
   *   `previous` (another writer rotated first; nothing was changed).
   */
  replace?(previous: StoredKey, next: StoredKey, retiredUntil: number): Promise<boolean>;
  /**
   * The slug's retired key and the end of its grace period, if it has one (optional, with `replace`).
   * @param slug - the machine's slug.
   * @returns the retired key, or `undefined`.
   */
  getRetired?(slug: string): Promise<RetiredKey | undefined>;
  /**
   * Deletes the slug's retired key if it is the one with that public key (optional, with `replace`).
   * @param slug - the machine's slug.
   * @param publicKey - the retired key's public key, canonical base64.
   */
  deleteRetired?(slug: string, publicKey: string): Promise<void>;
}

/** A key replaced by a rotation (spec §8.3), kept for handshakes that name it until `until`. */
export interface RetiredKey {
  /** The replaced key, as it was stored. */
  readonly key: StoredKey;
  /** The end of its grace period, in milliseconds since the Unix epoch. */
  readonly until: number;
}

/**
 * Whether a value has the shape of a {@link RetiredKey}.
 * @param value - anything read from storage.
 * @returns whether it is shaped like a retired key.
 */
export function isRetiredKey(value: unknown): value is RetiredKey {
  return (
    isJsonObject(value) &&
    isStoredKey(value['key']) &&
    typeof value['until'] === 'number' &&
    Number.isSafeInteger(value['until'])
  );
}

/** A live first-contact session, as compact as it can be. */
export interface StoredSession {
  /** The session id the responder chose (16 random bytes, base64url). */
  readonly sessionId: string;
  /** The slug of the machine the session was made with. */
  readonly slug: string;
  /** That machine's id. */
  readonly machineId: string;
  /** The 32-byte §2.2 record key. It belongs to the store: do not keep or modify it. */
  readonly recordKey: Uint8Array;
  /** Expiry, in milliseconds since the Unix epoch. */
  readonly expiresAt: number;
}

/** What identifies a handshake for replay protection: the key pair and the ciphertext. */
export interface ReplayTag {
  /** The fingerprint of the key pair the ciphertext was decapsulated with. */
  readonly fingerprint: string;
  /** SHA-256 of the ciphertext (32 bytes). */
  readonly cipherTextHash: Uint8Array;
}

/** The outcome of {@link SessionStore.create}. */
export type SessionCreateResult = 'created' | 'replayed';

/** Where live sessions live. */
export interface SessionStore {
  /**
   * Stores a new session unless its replay tag was seen, atomically. The store keeps its own copy
   * of the record key; the caller wipes its copy afterwards. Nothing is stored on `'replayed'`.
   * @param session - the session.
   * @param replay - the key pair's fingerprint and the SHA-256 of the ciphertext.
   * @returns `'created'`, or `'replayed'` when that ciphertext was already accepted for that key pair.
   */
  create(session: StoredSession, replay: ReplayTag): Promise<SessionCreateResult>;
  /**
   * Reads a session. A session past its `expiresAt` may still be returned until it is purged, so
   * that callers can tell an expired session from an unknown one: check `expiresAt`.
   * @param sessionId - the session id.
   * @returns the session, or `undefined`.
   */
  get(sessionId: string): Promise<StoredSession | undefined>;
  /**
   * Deletes a session and wipes its record key. Its replay tag stays refused until its expiry.
   * @param sessionId - the session id.
   */
  delete(sessionId: string): Promise<void>;
}

const STORED_KEY_FIELDS = [
  'alg',
  'slug',
  'machineId',
  'publicKey',
  'sealedSecretKey',
  'createdAt',
] as const;

/**
 * Whether a value has the shape of a {@link StoredKey}: an object with each field a string.
 * Content (lengths, encodings, the seal) is checked by the key manager, not here.
 * @param value - anything read from storage.
 * @returns whether it is shaped like a stored key.
 */
export function isStoredKey(value: unknown): value is StoredKey {
  return isJsonObject(value) && hasStringFields(value, STORED_KEY_FIELDS);
}

/**
 * Copies the fields of a stored key into a fresh frozen plain object (dropping anything else).
 * @param key - a stored key.
 * @returns the copy.
 */
export function copyStoredKey(key: StoredKey): StoredKey {
  return Object.freeze({
    alg: key.alg,
    slug: key.slug,
    machineId: key.machineId,
    publicKey: key.publicKey,
    sealedSecretKey: key.sealedSecretKey,
    createdAt: key.createdAt,
  });
}

/**
 * A key store in process memory: keys are lost when the process exits, so every restart makes new
 * key pairs (and breaks every pin). Use it for tests and demos; use a persistent store in service.
 * @returns an empty key store.
 */
export function createMemoryKeyStore(): KeyStore &
  Required<Pick<KeyStore, 'replace' | 'getRetired' | 'deleteRetired'>> &
  IdentityStore {
  const keys = new Map<string, StoredKey>();
  const retired = new Map<string, RetiredKey>();
  return {
    ...createMemoryIdentityStore(),
    replace(previous: StoredKey, next: StoredKey, retiredUntil: number): Promise<boolean> {
      if (!isStoredKey(next) || !isStoredKey(previous) || next.slug !== previous.slug)
        return Promise.reject(new TypeError('replace expects two StoredKeys of one slug'));
      const existing = keys.get(next.slug);
      if (existing?.publicKey !== previous.publicKey) return Promise.resolve(false);
      keys.set(next.slug, copyStoredKey(next));
      retired.set(next.slug, Object.freeze({ key: existing, until: retiredUntil }));
      return Promise.resolve(true);
    },
    getRetired(slug: string): Promise<RetiredKey | undefined> {
      return Promise.resolve(retired.get(slug));
    },
    deleteRetired(slug: string, publicKey: string): Promise<void> {
      if (retired.get(slug)?.key.publicKey === publicKey) retired.delete(slug);
      return Promise.resolve();
    },
    get(slug: string): Promise<StoredKey | undefined> {
      return Promise.resolve(keys.get(slug));
    },
    putIfAbsent(key: StoredKey): Promise<StoredKey> {
      if (!isStoredKey(key))
        return Promise.reject(new TypeError('putIfAbsent expects a StoredKey of string fields'));
      const existing = keys.get(key.slug);
      if (existing !== undefined) return Promise.resolve(existing);
      const copy = copyStoredKey(key);
      keys.set(copy.slug, copy);
      return Promise.resolve(copy);
    },
  };
}

/** Options of {@link createMemorySessionStore}. */
export interface MemorySessionStoreOptions {
  /**
   * The most live sessions kept; creating one more evicts the oldest.
   * @defaultValue 10_000
   */
  maxSessions?: number;
  /**
   * The most replay tags kept for sessions that were deleted or evicted before their expiry.
   * Tags of live sessions are always kept; these are kept on top, oldest dropped first.
   * @defaultValue `maxSessions`
   */
  maxRetiredReplays?: number;
  /**
   * The clock, in milliseconds since the Unix epoch.
   * @defaultValue `Date.now`
   */
  now?: () => number;
}

/** Default bound of live sessions. */
export const DEFAULT_MAX_SESSIONS = 10_000;

/** A stored session plus its replay id, in one object (no wrapper) to keep idle sessions small. */
class MemorySession implements StoredSession {
  readonly sessionId: string;
  readonly slug: string;
  readonly machineId: string;
  readonly recordKey: Uint8Array;
  readonly expiresAt: number;
  readonly #replayId: string;

  constructor(session: StoredSession, replayId: string) {
    this.sessionId = session.sessionId;
    this.slug = session.slug;
    this.machineId = session.machineId;
    this.recordKey = Uint8Array.from(session.recordKey);
    this.expiresAt = session.expiresAt;
    this.#replayId = replayId;
    Object.freeze(this);
  }

  /** The replay id a session was created with (kept private so `get()` callers never see it). */
  static replayIdOf(session: MemorySession): string {
    return session.#replayId;
  }
}

/** A replay id kept after its session was deleted or evicted, until the session's expiry. */
interface RetiredReplay {
  readonly replayId: string;
  readonly expiresAt: number;
}

/** A tag's id as last computed, with the fields it was computed from. */
interface KnownReplayId {
  readonly fingerprint: string;
  readonly cipherTextHash: Uint8Array;
  readonly id: string;
}

/**
 * Ids already computed, by tag object: a handshake hands the same tag to the replay memory and then
 * to the session store, and the second call need not hash again. The fields are compared before an
 * id is reused, so a tag changed in between gets its own id.
 */
const knownReplayIds = new WeakMap<ReplayTag, KnownReplayId>();

/**
 * The id a tag is kept under: SHA-256 of both fields, length-prefixed, as a 32-character string.
 * @param replay - the tag.
 * @returns its id; the same for equal tags.
 * @throws {TypeError} for a tag that is not a fingerprint and a 32-byte hash.
 */
export function replayIdFor(replay: ReplayTag): string {
  if (
    typeof replay?.fingerprint !== 'string' ||
    !(replay.cipherTextHash instanceof Uint8Array) ||
    replay.cipherTextHash.length !== 32
  ) {
    throw new TypeError('a replay tag is a fingerprint and a 32-byte ciphertext hash');
  }
  const known = knownReplayIds.get(replay);
  if (
    known !== undefined &&
    known.fingerprint === replay.fingerprint &&
    constantTimeEqual(known.cipherTextHash, replay.cipherTextHash)
  )
    return known.id;
  // One 32-character string per tag (a byte per character): SHA-256 over both fields, length-prefixed.
  // `apply` with the digest itself: the same string as spreading it, without first making an
  // array of it (0.13 µs instead of 0.8 on Node 24, on every handshake).
  const id = String.fromCharCode.apply(
    null,
    sha256(lp(replay.fingerprint, replay.cipherTextHash)) as unknown as number[],
  );
  knownReplayIds.set(replay, {
    fingerprint: replay.fingerprint,
    cipherTextHash: Uint8Array.from(replay.cipherTextHash),
    id,
  });
  return id;
}

/** A {@link SessionStore} in memory, which can be emptied. */
export interface MemorySessionStore extends SessionStore {
  /** Forgets every session and wipes every record key it holds; later calls find none. */
  close(): void;
}

/**
 * A session store in process memory, bounded in size. Sessions are kept in insertion order; an
 * expired one is purged when the store is next written, and a new one beyond `maxSessions` evicts
 * the oldest. An idle session costs its id, its 32-byte record key, its expiry and its replay tag
 * (slug and machine id strings are shared with the configuration).
 *
 * Replay protection: a replay tag is refused while its session is in the store, and after the
 * session was deleted or evicted until its expiry (a bounded list of `maxRetiredReplays`).
 * @param options - bounds and clock.
 * @returns an empty session store.
 * @throws {RangeError} when a bound is not a positive integer.
 * @throws {TypeError} when `now` is not a function.
 */
export function createMemorySessionStore(
  options: MemorySessionStoreOptions = {},
): MemorySessionStore {
  // Long only as a closure over three collections that must change together (sessions, live and
  // retired replay ids); `drop` and `purge` are the steps they share.
  const maxSessions = assertPositiveInteger(
    options.maxSessions ?? DEFAULT_MAX_SESSIONS,
    'maxSessions',
  );
  const maxRetired = assertPositiveInteger(
    options.maxRetiredReplays ?? maxSessions,
    'maxRetiredReplays',
  );
  const now = options.now ?? Date.now;
  if (typeof now !== 'function')
    throw new TypeError('now must be a function returning milliseconds');

  // Ordered maps, not `Map`s: both are swept and evicted from their oldest end on every write,
  // which a `Map` makes cost more the more it deleted (`ordered-map.ts`).
  const sessions = new OrderedMap<string, MemorySession>((session) => session.sessionId);
  /** Replay ids of sessions in `sessions`. */
  const live = new Set<string>();
  /** Replay ids of sessions deleted or evicted before their expiry, with that expiry. */
  const retired = new OrderedMap<string, RetiredReplay>((entry) => entry.replayId);

  function drop(session: MemorySession, at: number): void {
    const replayId = MemorySession.replayIdOf(session);
    sessions.delete(session.sessionId);
    live.delete(replayId);
    wipe(session.recordKey);
    if (session.expiresAt > at) {
      retired.add({ replayId, expiresAt: session.expiresAt });
      while (retired.size > maxRetired) {
        const oldest = retired.oldest();
        if (oldest === undefined) break;
        retired.delete(oldest.replayId);
      }
    }
  }

  function purge(at: number): void {
    // Insertion order is expiry order while every session has the same lifetime, so sweeping
    // from the oldest end until a live one is amortised O(1); stragglers go by eviction.
    for (let oldest = sessions.oldest(); oldest !== undefined; oldest = sessions.oldest()) {
      if (oldest.expiresAt > at) break;
      drop(oldest, at); // expired, so its replay id is not kept as retired
    }
    for (let oldest = retired.oldest(); oldest !== undefined; oldest = retired.oldest()) {
      if (oldest.expiresAt > at) break;
      retired.delete(oldest.replayId);
    }
  }

  return {
    create(session: StoredSession, replay: ReplayTag): Promise<SessionCreateResult> {
      try {
        const replayId = replayIdFor(replay);
        if (!(session.recordKey instanceof Uint8Array) || session.recordKey.length !== 32) {
          throw new TypeError('a session record key is 32 bytes');
        }
        const at = now();
        purge(at);
        const retiredUntil = retired.get(replayId)?.expiresAt;
        if (live.has(replayId) || (retiredUntil !== undefined && retiredUntil > at))
          return Promise.resolve('replayed');
        if (sessions.has(session.sessionId))
          throw new ZeqKeyExError('store_error', 'session id already in use');
        const stored = new MemorySession(session, replayId);
        retired.delete(replayId);
        sessions.add(stored);
        live.add(replayId);
        while (sessions.size > maxSessions) {
          const oldest = sessions.oldest();
          if (oldest === undefined) break;
          drop(oldest, at);
        }
        return Promise.resolve('created');
      } catch (error) {
        return Promise.reject(error);
      }
    },
    get(sessionId: string): Promise<StoredSession | undefined> {
      return Promise.resolve(sessions.get(sessionId));
    },
    delete(sessionId: string): Promise<void> {
      const session = sessions.get(sessionId);
      if (session !== undefined) drop(session, now());
      return Promise.resolve();
    },
    close(): void {
      const at = now();
      for (const session of sessions.values()) drop(session, at);
    },
  };
}
