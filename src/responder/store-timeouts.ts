/**
 * Time limits on the stores a deployment gives the responder (spec §7 revision 2, `unavailable`):
 * every call to a key store, session store, seed store or replay memory from the options is
 * bounded by `storeTimeoutMs`; a call that throws, rejects or does not settle in time becomes
 * `store_error`, which the responder answers `503 unavailable` with `Retry-After`.
 *
 * Caveat: a call that timed out may still complete later; callers that must not leave partial
 * state (the handshake's session) undo a late write themselves ({@link isStoreTimeout}).
 * @module
 */
import { ZeqKeyExError, callStore, isZeqKeyExError } from '../core/errors.js';
import type { IdentityStore } from './identity-store.js';
import type { ReplayMemory } from './replay-memory.js';
import type { SeedStore } from './seed-store.js';
import type { KeyStore, SessionStore } from './stores.js';

/** Default bound of a store call: five seconds. */
export const DEFAULT_STORE_TIMEOUT_MS = 5_000;

/** The cause of a `store_error` whose call did not settle in time. */
class StoreTimeout extends Error {
  override readonly name = 'StoreTimeout' as const;
}

/**
 * Whether an error is a store call that did not settle within its time limit (its outcome is
 * unknown: it may still complete).
 * @param error - anything caught.
 * @returns whether it is such a timeout.
 */
export function isStoreTimeout(error: unknown): boolean {
  return isZeqKeyExError(error, 'store_error') && error.cause instanceof StoreTimeout;
}

/**
 * Calls a store within a time limit: a throw, a rejection or no answer in time is a
 * `ZeqKeyExError('store_error')` (the first two as `callStore` makes them).
 * @param call - the store call.
 * @param timeoutMs - the time limit.
 * @param message - what failed, for people.
 * @param onLate - told how a call settled after its time limit (to undo what it did).
 * @returns the store's answer.
 * @throws {ZeqKeyExError} `store_error`.
 */
export function callStoreWithin<T>(
  call: () => Promise<T>,
  timeoutMs: number,
  message: string,
  onLate?: (outcome: PromiseSettledResult<T>) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new ZeqKeyExError('store_error', message, { cause: new StoreTimeout(message) }));
    }, timeoutMs);
    callStore(call, message).then(
      (value) => {
        clearTimeout(timer);
        if (!late) resolve(value);
        else onLate?.({ status: 'fulfilled', value });
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!late) reject(error);
        else onLate?.({ status: 'rejected', reason: error });
      },
    );
  });
}

/**
 * A key store whose every call is bounded by a time limit and fails as `store_error`.
 * @param store - the key store.
 * @param timeoutMs - the time limit of each call.
 * @returns the bounded store.
 */
export function boundKeyStore(store: KeyStore, timeoutMs: number): KeyStore {
  return {
    get: (slug) =>
      callStoreWithin(() => store.get(slug), timeoutMs, 'the key store failed to read'),
    putIfAbsent: (key) =>
      callStoreWithin(() => store.putIfAbsent(key), timeoutMs, 'the key store failed to write'),
    ...boundRotation(store, timeoutMs),
  };
}

/** The optional rotation methods of a key store (spec §8.3), bounded like the others. */
function boundRotation(
  store: KeyStore,
  timeoutMs: number,
): Pick<KeyStore, 'replace' | 'getRetired' | 'deleteRetired'> {
  const { replace, getRetired, deleteRetired } = store;
  if (replace === undefined || getRetired === undefined || deleteRetired === undefined) return {};
  const write = 'the key store failed to write';
  return {
    replace: (previous, next, until) =>
      callStoreWithin(() => replace.call(store, previous, next, until), timeoutMs, write),
    getRetired: (slug) =>
      callStoreWithin(
        () => getRetired.call(store, slug),
        timeoutMs,
        'the key store failed to read',
      ),
    deleteRetired: (slug, publicKey) =>
      callStoreWithin(() => deleteRetired.call(store, slug, publicKey), timeoutMs, write),
  };
}

/**
 * An identity store whose every call is bounded by a time limit and fails as `store_error`.
 * @param store - the identity store.
 * @param timeoutMs - the time limit of each call.
 * @returns the bounded store.
 */
export function boundIdentityStore(store: IdentityStore, timeoutMs: number): IdentityStore {
  const read = 'the identity store failed to read';
  const write = 'the identity store failed to write';
  return {
    getIdentity: () => callStoreWithin(() => store.getIdentity(), timeoutMs, read),
    putIdentityIfAbsent: (identity) =>
      callStoreWithin(() => store.putIdentityIfAbsent(identity), timeoutMs, write),
    getSerial: (slug, identity) =>
      callStoreWithin(() => store.getSerial(slug, identity), timeoutMs, read),
    raiseSerial: (slug, identity, serial) =>
      callStoreWithin(() => store.raiseSerial(slug, identity, serial), timeoutMs, write),
  };
}

/**
 * A session store whose `get` and `delete` are bounded by a time limit and fail as `store_error`.
 * `create` is bounded by the handshake route, which undoes a session created too late.
 * @param store - the session store.
 * @param timeoutMs - the time limit of each call.
 * @returns the bounded store.
 */
export function boundSessionStore(store: SessionStore, timeoutMs: number): SessionStore {
  return {
    create: (session, replay) => store.create(session, replay),
    get: (sessionId) =>
      callStoreWithin(() => store.get(sessionId), timeoutMs, 'the session store failed to read'),
    delete: (sessionId) =>
      callStoreWithin(
        () => store.delete(sessionId),
        timeoutMs,
        'the session store failed to write',
      ),
  };
}

/**
 * A replay memory whose every call is bounded by a time limit and fails as `store_error`. A tag
 * remembered after its call timed out stays remembered until its expiry (refusing a ciphertext
 * is the safe side).
 * @param memory - the replay memory.
 * @param timeoutMs - the time limit of each call.
 * @returns the bounded memory.
 */
export function boundReplayMemory(memory: ReplayMemory, timeoutMs: number): ReplayMemory {
  return {
    remember: (replay, expiresAt) =>
      callStoreWithin(
        () => memory.remember(replay, expiresAt),
        timeoutMs,
        'the replay memory failed',
      ),
    forget: (replay) =>
      callStoreWithin(() => memory.forget(replay), timeoutMs, 'the replay memory failed'),
  };
}

/**
 * A seed store given in the options, each call bounded (the Mode-B endpoints check its shape).
 * @param store - the store, or `undefined` for none.
 * @param timeoutMs - the limit of each call.
 * @returns the bounded store (a malformed one unchanged, for the endpoints to refuse).
 */
export function boundSeedStore(
  store: SeedStore | undefined,
  timeoutMs: number,
): SeedStore | undefined {
  if (store === undefined || typeof store.get !== 'function' || typeof store.put !== 'function')
    return store;
  return {
    get: (local, peer) =>
      callStoreWithin(() => store.get(local, peer), timeoutMs, 'the seed store failed to read'),
    put: (seed) =>
      callStoreWithin(() => store.put(seed), timeoutMs, 'the seed store failed to write'),
    ...(typeof store.list === 'function'
      ? {
          list: () =>
            callStoreWithin(
              () => (store.list as NonNullable<SeedStore['list']>).call(store),
              timeoutMs,
              'the seed store failed to list',
            ),
        }
      : {}),
  };
}
