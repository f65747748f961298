/**
 * What the Redis stores need of a client, and the names of their keys: one method,
 * `sendCommand`, which a node-redis client (`createClient()` of the `redis` package) has, and
 * which a test or another client can provide. Keeping to raw commands keeps the stores free of
 * the client's generics and lets them run on Redis 7 and Valkey alike.
 *
 * Key layout under the prefix (default `zeq-keyex:`): `key:{slug}` (machine keys, no expiry),
 * `session:{session_id}` and `session-tag:{hex}` (sessions and their replay tags),
 * `tag:{hex}` (the replay memory), `seed:{hex}` (Mode-B seeds, no expiry).
 * @module
 */
import { ZeqKeyExError } from '../core/errors.js';

/** The one method the Redis stores call: a raw command, answered as node-redis answers it. */
export interface RedisCommands {
  /**
   * Sends one command.
   * @param args - the command and its arguments, e.g. `['SET', 'k', 'v', 'NX']`.
   * @returns the reply: a string, `null`, a number or an array of them.
   */
  sendCommand(args: string[]): Promise<unknown>;
}

/** The prefix of every key the stores write, when none is given. */
export const DEFAULT_REDIS_KEY_PREFIX = 'zeq-keyex:';

/** A key prefix: printable ASCII without spaces, at most 128 characters (it may be empty). */
const PREFIX_SHAPE = /^[\x21-\x7e]{0,128}$/;

/**
 * Checks a client and a key prefix given by the programmer.
 * @param client - the client.
 * @param keyPrefix - the prefix, or `undefined` for the default.
 * @returns the prefix to use.
 * @throws {TypeError} when the client has no `sendCommand` or the prefix is malformed.
 */
export function checkRedisOptions(client: unknown, keyPrefix: unknown): string {
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof (client as Partial<RedisCommands>).sendCommand !== 'function'
  )
    throw new TypeError('client must be a Redis client (an object with sendCommand)');
  const prefix = keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
  if (typeof prefix !== 'string' || !PREFIX_SHAPE.test(prefix))
    throw new TypeError('keyPrefix must be at most 128 printable ASCII characters, no spaces');
  return prefix;
}

/**
 * Sends a command; a failure (connection, server error) becomes `store_error` with the failure as
 * its cause, as every store failure does.
 * @param client - the client.
 * @param args - the command.
 * @param message - what failed, for people.
 * @returns the reply.
 * @throws {ZeqKeyExError} `store_error`.
 */
export async function command(
  client: RedisCommands,
  args: string[],
  message: string,
): Promise<unknown> {
  try {
    return await client.sendCommand(args);
  } catch (cause) {
    throw new ZeqKeyExError('store_error', message, { cause });
  }
}

/**
 * Reads a JSON value stored by these stores.
 * @param text - the stored string.
 * @param what - what it should be, for the error.
 * @returns the parsed value.
 * @throws {ZeqKeyExError} `store_error` when it is not a string of JSON.
 */
export function parseStored(text: unknown, what: string): unknown {
  if (typeof text !== 'string')
    throw new ZeqKeyExError('store_error', `${what} in Redis is not a string`);
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ZeqKeyExError('store_error', `${what} in Redis is not JSON`, { cause });
  }
}

/**
 * Whether a failure is Redis refusing a write for want of memory (`maxmemory` reached with
 * `maxmemory-policy noeviction`).
 * @param error - a `store_error` from {@link command}.
 * @returns whether its cause is an `OOM` reply.
 */
export function isOutOfMemory(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error && cause.message.startsWith('OOM');
}

/** `SCAN MATCH` treats these as pattern characters; a prefix is matched literally. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Every key that starts with `prefix` (matched literally), by `SCAN` (never `KEYS`, which blocks
 * the server); the values are not read.
 * @param client - the connection.
 * @param prefix - the keys' start, e.g. `zeq-keyex:seed:`.
 * @param failure - the `store_error` message when Redis fails.
 * @returns the keys, each once.
 * @throws {ZeqKeyExError} `store_error`.
 */
export async function scanKeys(
  client: RedisCommands,
  prefix: string,
  failure: string,
): Promise<string[]> {
  const pattern = `${globEscape(prefix)}*`;
  const found = new Set<string>();
  let cursor = '0';
  do {
    const reply = await command(
      client,
      ['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000'],
      failure,
    );
    if (!Array.isArray(reply) || typeof reply[0] !== 'string' || !Array.isArray(reply[1]))
      throw new ZeqKeyExError('store_error', 'Redis answered SCAN with something else');
    cursor = reply[0];
    for (const name of reply[1] as unknown[]) if (typeof name === 'string') found.add(name);
  } while (cursor !== '0');
  return [...found];
}
