/**
 * A {@link KeyStore} in Redis or Valkey: one string per machine, `{prefix}key:{slug}`, holding the
 * stored key as JSON (public key and the §5 sealed secret key: never a secret in the clear), with
 * no expiry.
 *
 * `putIfAbsent` is one `SET … NX GET` (Redis ≥ 7.0, Valkey): atomic across every instance on the
 * same Redis, so the first key pair written for a machine is the one every instance serves and
 * the others adopt it (single-flight generation across instances).
 *
 * Caveats: a value that is not a stored key is a `store_error` and is never overwritten (it may be
 * the only copy of a key pinned in the field). Keys must survive a Redis restart: run Redis with
 * persistence (docs/deploying.md), or a restarted Redis makes new key pairs that break every pin.
 * @module
 */
import { ZeqKeyExError } from '../core/errors.js';
import { assertSlug } from '../core/identifiers.js';
import { type KeyStore, type StoredKey, copyStoredKey, isStoredKey } from '../responder/stores.js';
import {
  type RedisCommands,
  checkRedisOptions,
  command,
  parseStored,
  scanKeys,
} from './commands.js';

/** Options of {@link createRedisKeyStore}. */
export interface RedisKeyStoreOptions {
  /**
   * The prefix of every key written.
   * @defaultValue `'zeq-keyex:'`
   */
  keyPrefix?: string;
}

/** A {@link KeyStore} in Redis, which can also list the slugs it holds a key for. */
export interface RedisKeyStore extends KeyStore {
  /**
   * The slugs with a key under the prefix (`SCAN`; the values are not read).
   * @returns the slugs, sorted.
   * @throws {ZeqKeyExError} `store_error` when Redis fails.
   */
  slugs(): Promise<string[]>;
}

function parseKey(text: unknown, slug: string): StoredKey {
  const value = parseStored(text, `the key of ${slug}`);
  if (!isStoredKey(value) || value.slug !== slug)
    throw new ZeqKeyExError('store_error', `the key of ${slug} in Redis is not its stored key`);
  return copyStoredKey(value);
}

/**
 * Creates a key store in Redis.
 * @param client - a connected client (`createRedisConnection`, or node-redis' `createClient()`).
 * @param options - the key prefix.
 * @returns the store.
 * @throws {TypeError} when the client or the prefix is malformed.
 * @example
 * ```ts
 * const redis = createRedisConnection(process.env.ZEQ_REDIS_URL!);
 * const responder = createResponder({ fieldKey, machines, keyStore: createRedisKeyStore(redis) });
 * ```
 */
export function createRedisKeyStore(
  client: RedisCommands,
  options: RedisKeyStoreOptions = {},
): RedisKeyStore {
  const prefix = checkRedisOptions(client, options.keyPrefix);
  const keyOf = (slug: string): string => `${prefix}key:${slug}`;
  return {
    async get(slug: string): Promise<StoredKey | undefined> {
      assertSlug(slug);
      const text = await command(client, ['GET', keyOf(slug)], 'the key store failed to read');
      return text === null ? undefined : parseKey(text, slug);
    },
    async putIfAbsent(key: StoredKey): Promise<StoredKey> {
      if (!isStoredKey(key))
        throw new TypeError('putIfAbsent expects a StoredKey of string fields');
      assertSlug(key.slug);
      const record = copyStoredKey(key);
      const previous = await command(
        client,
        ['SET', keyOf(record.slug), JSON.stringify(record), 'NX', 'GET'],
        'the key store failed to write',
      );
      // `null`: nothing was stored, so ours is now; otherwise another writer won.
      return previous === null ? record : parseKey(previous, record.slug);
    },
    async slugs(): Promise<string[]> {
      const names = await scanKeys(client, `${prefix}key:`, 'the key store failed to list');
      return names.map((name) => name.slice(prefix.length + 'key:'.length)).sort();
    },
  };
}
