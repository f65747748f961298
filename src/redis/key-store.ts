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
import {
  type IdentityStore,
  type StoredIdentity,
  copyStoredIdentity,
  isSerial,
  isStoredIdentity,
} from '../responder/identity-store.js';
import {
  type KeyStore,
  type RetiredKey,
  type StoredKey,
  copyStoredKey,
  isRetiredKey,
  isStoredKey,
} from '../responder/stores.js';
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

/**
 * A {@link KeyStore} in Redis that can also rotate keys (§8.3), keep the identity key and its
 * serials (§8) and list the slugs it holds a key for.
 */
export interface RedisKeyStore extends Required<KeyStore>, IdentityStore {
  /**
   * The slugs with a key under the prefix (`SCAN`; the values are not read).
   * @returns the slugs, sorted.
   * @throws {ZeqKeyExError} `store_error` when Redis fails.
   */
  slugs(): Promise<string[]>;
}

// KEYS[1] the serials hash; ARGV: the field (identity/slug), the serial. Answers the highest kept.
const RAISE_SERIAL_SCRIPT = `
local kept = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if kept ~= nil and kept >= tonumber(ARGV[2]) then return redis.call('HGET', KEYS[1], ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return ARGV[2]`;

// KEYS[1] the key, KEYS[2] the retired key; ARGV: the previous public key, the next key's JSON,
// the retired key's JSON, the end of its grace (ms since the epoch, when Redis drops it whatever
// the instances do). Both keys change together, or neither does (another rotation won).
const REPLACE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, stored = pcall(cjson.decode, current)
if not ok or type(stored) ~= 'table' or stored.publicKey ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'PXAT', ARGV[4])
redis.call('SET', KEYS[1], ARGV[2])
return 1`;

// KEYS[1] the retired key; ARGV[1] its public key. Deleted only if it is still that key.
const DELETE_RETIRED_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, retired = pcall(cjson.decode, current)
if not ok or type(retired) ~= 'table' or type(retired.key) ~= 'table' then return 0 end
if retired.key.publicKey ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`;

function parseIdentity(text: unknown): StoredIdentity {
  const value = parseStored(text, 'the identity');
  if (!isStoredIdentity(value))
    throw new ZeqKeyExError('store_error', 'the identity in Redis is not a stored identity');
  return copyStoredIdentity(value);
}

function parseRetired(text: unknown, slug: string): RetiredKey {
  const value = parseStored(text, `the retired key of ${slug}`);
  if (!isRetiredKey(value) || value.key.slug !== slug)
    throw new ZeqKeyExError('store_error', `the retired key of ${slug} in Redis is not one`);
  return Object.freeze({ key: copyStoredKey(value.key), until: value.until });
}

function parseKey(text: unknown, slug: string): StoredKey {
  const value = parseStored(text, `the key of ${slug}`);
  if (!isStoredKey(value) || value.slug !== slug)
    throw new ZeqKeyExError('store_error', `the key of ${slug} in Redis is not its stored key`);
  return copyStoredKey(value);
}

function parseSerial(text: unknown): number {
  const serial = typeof text === 'string' && /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!isSerial(serial))
    throw new ZeqKeyExError('store_error', 'a serial in Redis is not an integer in [0, 2^53 - 1]');
  return serial;
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
  const retiredOf = (slug: string): string => `${prefix}retired:${slug}`;
  const identityKey = `${prefix}identity`;
  const serialsKey = `${prefix}serials`;
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
    async replace(previous: StoredKey, next: StoredKey, retiredUntil: number): Promise<boolean> {
      if (!isStoredKey(previous) || !isStoredKey(next) || previous.slug !== next.slug)
        throw new TypeError('replace expects two StoredKeys of one slug');
      if (!Number.isSafeInteger(retiredUntil))
        throw new TypeError('retiredUntil must be an integer of milliseconds');
      assertSlug(next.slug);
      const retired = { key: copyStoredKey(previous), until: retiredUntil };
      const reply = await command(
        client,
        [
          'EVAL',
          REPLACE_SCRIPT,
          '2',
          keyOf(next.slug),
          retiredOf(next.slug),
          previous.publicKey,
          JSON.stringify(copyStoredKey(next)),
          JSON.stringify(retired),
          String(Math.max(1, retiredUntil)),
        ],
        'the key store failed to write',
      );
      return reply === 1;
    },
    async getRetired(slug: string): Promise<RetiredKey | undefined> {
      assertSlug(slug);
      const text = await command(client, ['GET', retiredOf(slug)], 'the key store failed to read');
      return text === null ? undefined : parseRetired(text, slug);
    },
    async deleteRetired(slug: string, publicKey: string): Promise<void> {
      assertSlug(slug);
      if (typeof publicKey !== 'string') throw new TypeError('publicKey must be a string');
      await command(
        client,
        ['EVAL', DELETE_RETIRED_SCRIPT, '1', retiredOf(slug), publicKey],
        'the key store failed to delete a retired key',
      );
    },
    async getIdentity(): Promise<StoredIdentity | undefined> {
      const text = await command(client, ['GET', identityKey], 'the identity store failed to read');
      return text === null ? undefined : parseIdentity(text);
    },
    async putIdentityIfAbsent(identity: StoredIdentity): Promise<StoredIdentity> {
      if (!isStoredIdentity(identity))
        throw new TypeError('putIdentityIfAbsent expects a StoredIdentity');
      const record = copyStoredIdentity(identity);
      const previous = await command(
        client,
        ['SET', identityKey, JSON.stringify(record), 'NX', 'GET'],
        'the identity store failed to write',
      );
      return previous === null ? record : parseIdentity(previous);
    },
    async getSerial(slug: string, identity: string): Promise<number | undefined> {
      assertSlug(slug);
      const text = await command(
        client,
        ['HGET', serialsKey, `${identity}/${slug}`],
        'the identity store failed to read',
      );
      return text === null ? undefined : parseSerial(text);
    },
    async raiseSerial(slug: string, identity: string, serial: number): Promise<number> {
      if (!isSerial(serial)) throw new TypeError('a serial is an integer in [0, 2^53 - 1]');
      assertSlug(slug);
      const reply = await command(
        client,
        ['EVAL', RAISE_SERIAL_SCRIPT, '1', serialsKey, `${identity}/${slug}`, String(serial)],
        'the identity store failed to write',
      );
      return parseSerial(reply);
    },
    async slugs(): Promise<string[]> {
      const names = await scanKeys(client, `${prefix}key:`, 'the key store failed to list');
      return names.map((name) => name.slice(prefix.length + 'key:'.length)).sort();
    },
  };
}
