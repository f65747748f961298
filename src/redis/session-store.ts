/**
 * A {@link SessionStore} in Redis or Valkey, shared by every instance on the same Redis: a
 * session made through one instance is found by all.
 *
 * A session is one string, `{prefix}session:{session_id}`, holding its slug, machine id, expiry
 * and its record key sealed under the field key (`sealed-session.ts`): Redis never holds a record
 * key in the clear. Its replay tag is `{prefix}session-tag:{hex}`. `create` sets both in one Lua
 * script (the tag is checked and both written atomically), with the session's empty record state
 * (`{prefix}records:{session_id}`, see `record-state.ts`), each with a time to live: the tag until
 * the session's expiry, the session a grace period longer so that an expired session is told from
 * an unknown one for a while, as the memory store does.
 *
 * Caveats:
 * - A session read is opened once per instance and kept (bounded by `maxOpenSessions`) while
 *   Redis holds the same sealed value; its record key belongs to the store and is wiped when the
 *   session is deleted, expires, is evicted from that bound, or the store is closed.
 * - A Redis that lost its data (restart without persistence, eviction) loses sessions, which
 *   clients then redo; replay tags lost with it are safe by spec §2.3 revision 2.
 * - One Redis (or a Sentinel-managed primary): the script touches two keys, which Redis Cluster
 *   accepts only when both hash to one slot.
 * @module
 */
import { ZeqKeyExError } from '../core/errors.js';
import { hasStringFields, isJsonObject } from '../core/json.js';
import { assertDurationMs, assertPositiveInteger } from '../core/limits.js';
import { wipe } from '../core/primitives.js';
import { deriveSealKey, parseFieldKey } from '../core/sealing.js';
import {
  DEFAULT_MAX_SESSIONS,
  type ReplayTag,
  type SessionCreateResult,
  type SessionStore,
  type StoredSession,
  replayIdFor,
} from '../responder/stores.js';
import { type RedisCommands, checkRedisOptions, command, parseStored } from './commands.js';
import { OrderedMap } from '../responder/ordered-map.js';
import { sealRecordKey, unsealRecordKey } from './sealed-session.js';

/** Options of {@link createRedisSessionStore}. */
export interface RedisSessionStoreOptions {
  /** The deployment's field key (spec §5), which seals record keys: 64 hex characters or 32 bytes (copied). */
  fieldKey: string | Uint8Array;
  /**
   * The prefix of every key written.
   * @defaultValue `'zeq-keyex:'`
   */
  keyPrefix?: string;
  /**
   * How long after its expiry a session is still kept (sealed), so that it is told as expired
   * rather than unknown.
   * @defaultValue 60_000
   */
  expiredGraceMs?: number;
  /**
   * The most sessions this instance keeps opened (record key unsealed) between reads.
   * @defaultValue 10_000
   */
  maxOpenSessions?: number;
  /**
   * The clock, in milliseconds since the Unix epoch.
   * @defaultValue `Date.now`
   */
  now?: () => number;
}

/** A {@link SessionStore} in Redis, which can be closed. */
export interface RedisSessionStore extends SessionStore {
  /** Wipes the seal key and every opened record key; later calls fail (`store_error`) or find none. */
  close(): void;
}

/** Default grace during which an expired session is still kept: one minute. */
export const DEFAULT_EXPIRED_GRACE_MS = 60_000;

// KEYS[1] session, KEYS[2] its replay tag, KEYS[3] its record state; ARGV[1] the value, ARGV[2]
// its TTL, ARGV[3] the tag's TTL. The record state is born with the session (record-state.ts
// refuses a session whose record state is missing rather than start it again at seq 0).
const CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'replayed' end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'in-use' end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'v', '1')
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return 'created'`;

const SESSION_FIELDS = ['slug', 'machineId', 'sealedRecordKey'] as const;

/** A session as stored in Redis: its record key sealed. */
interface StoredValue {
  readonly slug: string;
  readonly machineId: string;
  readonly expiresAt: number;
  readonly sealedRecordKey: string;
}

function parseValue(text: unknown): StoredValue {
  const value = parseStored(text, 'a session');
  if (
    !isJsonObject(value) ||
    !hasStringFields(value, SESSION_FIELDS) ||
    !Number.isSafeInteger(value['expiresAt'])
  )
    throw new ZeqKeyExError('store_error', 'a session in Redis is not a stored session');
  return value as unknown as StoredValue;
}

/** A replay id (32 bytes, one per character) as hex, for a key name. */
function hexOfReplayId(replayId: string): string {
  let out = '';
  for (let i = 0; i < replayId.length; i++)
    out += replayId.charCodeAt(i).toString(16).padStart(2, '0');
  return out;
}

/**
 * Creates a session store in Redis.
 * @param client - a connected client.
 * @param options - the field key, prefix, bounds and clock.
 * @returns the store.
 * @throws {TypeError} for a malformed client, prefix or clock; {RangeError} for a bound out of
 *   range; {ZeqKeyExError} `invalid_field_key`.
 */
export function createRedisSessionStore(
  client: RedisCommands,
  options: RedisSessionStoreOptions,
): RedisSessionStore {
  const prefix = checkRedisOptions(client, options.keyPrefix);
  const graceMs = assertDurationMs(
    options.expiredGraceMs ?? DEFAULT_EXPIRED_GRACE_MS,
    'expiredGraceMs',
  );
  const maxOpen = assertPositiveInteger(
    options.maxOpenSessions ?? DEFAULT_MAX_SESSIONS,
    'maxOpenSessions',
  );
  const now = options.now ?? Date.now;
  if (typeof now !== 'function')
    throw new TypeError('now must be a function returning milliseconds');
  const fieldKey =
    options.fieldKey instanceof Uint8Array
      ? Uint8Array.from(options.fieldKey)
      : parseFieldKey(options.fieldKey);
  let sealKey: Uint8Array;
  try {
    sealKey = deriveSealKey(fieldKey);
  } finally {
    wipe(fieldKey);
  }
  /**
   * Sessions opened by this instance, oldest first: the id, the sealed string it was opened from,
   * and the session. An `OrderedMap`, not a `Map`: `keep` looks at the oldest on every call, and
   * finding a `Map`'s first entry walks every slot deleted since its last rehash.
   */
  const opened = new OrderedMap<
    string,
    { readonly id: string; readonly sealed: string; readonly session: StoredSession }
  >((entry) => entry.id);
  let closed = false;

  const sessionKey = (sessionId: string): string => `${prefix}session:${sessionId}`;
  const recordsKey = (sessionId: string): string => `${prefix}records:${sessionId}`;

  function drop(sessionId: string): void {
    const entry = opened.get(sessionId);
    if (entry === undefined) return;
    opened.delete(sessionId);
    wipe(entry.session.recordKey);
  }

  function keep(sessionId: string, sealed: string, session: StoredSession): void {
    drop(sessionId);
    opened.add({ id: sessionId, sealed, session });
    const at = now();
    for (let oldest = opened.oldest(); oldest !== undefined; oldest = opened.oldest()) {
      if (opened.size <= maxOpen && oldest.session.expiresAt + graceMs > at) break;
      drop(oldest.id);
    }
  }

  return {
    async create(session: StoredSession, replay: ReplayTag): Promise<SessionCreateResult> {
      const replayId = replayIdFor(replay);
      if (!(session.recordKey instanceof Uint8Array) || session.recordKey.length !== 32)
        throw new TypeError('a session record key is 32 bytes');
      if (typeof session.sessionId !== 'string' || !Number.isSafeInteger(session.expiresAt))
        throw new TypeError('a session has a string id and an integer expiry');
      if (closed) throw new ZeqKeyExError('store_error', 'the session store is closed');
      const { sessionId, slug, machineId, expiresAt } = session;
      const value: StoredValue = {
        slug,
        machineId,
        expiresAt,
        sealedRecordKey: sealRecordKey(sealKey, session, session.recordKey),
      };
      const ttl = Math.max(1, expiresAt - now());
      const reply = await command(
        client,
        [
          'EVAL',
          CREATE_SCRIPT,
          '3',
          sessionKey(sessionId),
          `${prefix}session-tag:${hexOfReplayId(replayId)}`,
          recordsKey(sessionId),
          JSON.stringify(value),
          String(ttl + graceMs),
          String(ttl),
        ],
        'the session store failed to write',
      );
      if (reply === 'created' || reply === 'replayed') return reply;
      if (reply === 'in-use') throw new ZeqKeyExError('store_error', 'session id already in use');
      throw new ZeqKeyExError(
        'store_error',
        'Redis answered the session script with something else',
      );
    },
    async get(sessionId: string): Promise<StoredSession | undefined> {
      if (closed) return undefined;
      const text = await command(
        client,
        ['GET', sessionKey(sessionId)],
        'the session store failed to read',
      );
      if (text === null) {
        drop(sessionId);
        return undefined;
      }
      const value = parseValue(text);
      const entry = opened.get(sessionId);
      if (entry?.sealed === value.sealedRecordKey) return entry.session;
      const context = {
        sessionId,
        slug: value.slug,
        machineId: value.machineId,
        expiresAt: value.expiresAt,
      };
      let recordKey: Uint8Array;
      try {
        recordKey = unsealRecordKey(sealKey, context, value.sealedRecordKey);
      } catch (cause) {
        throw new ZeqKeyExError('store_error', 'a session in Redis does not open', { cause });
      }
      const session: StoredSession = Object.freeze({ ...context, recordKey });
      keep(sessionId, value.sealedRecordKey, session);
      return session;
    },
    async delete(sessionId: string): Promise<void> {
      drop(sessionId);
      if (closed) return;
      await command(
        client,
        ['DEL', sessionKey(sessionId), recordsKey(sessionId)],
        'the session store failed to write',
      );
    },
    close(): void {
      closed = true;
      for (const entry of opened.values()) drop(entry.id);
      wipe(sealKey);
    },
  };
}
