/**
 * A {@link SharedRecordState} in Redis or Valkey (spec §3): the record state of each session in
 * one hash, `{prefix}records:{session_id}`, changed only by two Lua scripts, each atomic:
 * - `nextSend` allocates the responder → initiator `(epoch, seq)` and ratchets the epoch when it
 *   is older than the rekey interval or full (fields `se`, `sq`, `st`);
 * - `admit` applies the receiver's rules to an initiator → responder record that opened: the
 *   current epoch and the previous one's grace window (`re`, `ru`), the 1024-record replay window
 *   of each (`wt:{epoch}` its top, `wb:{epoch}` its 128-byte bitmap), then the commit.
 * No key is stored: instances derive the traffic keys from the session's record key. The hash is
 * created with the session (by the Redis session store, same prefix) and expires with it (plus the
 * session store's grace). Both scripts refuse a session whose hash is missing (`session_closed`)
 * rather than start its state again at seq 0, which would reuse nonces; a Redis that may lose
 * acknowledged writes (see docs/deploying.md) defeats that check.
 * @module
 */
import {
  MAX_EPOCH,
  MAX_EPOCH_SKIP,
  MAX_RECORDS_PER_EPOCH,
  REPLAY_WINDOW,
} from '../core/constants.js';
import { ZeqKeyExError } from '../core/errors.js';
import type { SharedAdmission, SharedRecordState } from '../responder/shared-records.js';
import { type RedisCommands, checkRedisOptions, command } from './commands.js';
import { DEFAULT_EXPIRED_GRACE_MS } from './session-store.js';

/** Options of {@link createRedisRecordState}. */
export interface RedisRecordStateOptions {
  /**
   * The prefix of every key written.
   * @defaultValue `'zeq-keyex:'`
   */
  keyPrefix?: string;
}

// KEYS[1] the hash; ARGV: at, interval, ttl, records per epoch, last epoch.
const NEXT_SEND_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'lost', 0} end
local at, interval = tonumber(ARGV[1]), tonumber(ARGV[2])
local se = tonumber(redis.call('HGET', KEYS[1], 'se'))
local sq, st
if se == nil then
  se, sq, st = 0, 0, at
else
  sq = tonumber(redis.call('HGET', KEYS[1], 'sq'))
  st = tonumber(redis.call('HGET', KEYS[1], 'st'))
end
if sq >= tonumber(ARGV[4]) or at - st > interval then
  if se >= tonumber(ARGV[5]) then return {'exhausted', 0} end
  se, sq, st = se + 1, 0, at
end
redis.call('HSET', KEYS[1], 'se', se, 'sq', sq + 1, 'st', st)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {se, sq}`;

// KEYS[1] the hash; ARGV: epoch, seq, at, interval, ttl, window, max skip.
const ADMIT_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'lost', 0} end
local e, s, at = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local interval, W, skip = tonumber(ARGV[4]), tonumber(ARGV[6]), tonumber(ARGV[7])
local k = KEYS[1]
local cur = tonumber(redis.call('HGET', k, 're')) or 0
local untilAt = tonumber(redis.call('HGET', k, 'ru')) or 0
if e < cur then
  if e ~= cur - 1 or at - untilAt > 0 then return {'too_old', cur} end
elseif e > cur + skip then
  return {'too_far_ahead', cur}
end
if e > cur then
  local keep = (e - 1 == cur)
  if not keep then redis.call('HDEL', k, 'wt:' .. cur, 'wb:' .. cur) end
  redis.call('HDEL', k, 'wt:' .. (cur - 1), 'wb:' .. (cur - 1))
  redis.call('HSET', k, 're', e, 'ru', at + interval)
  cur = e
end
local top = tonumber(redis.call('HGET', k, 'wt:' .. e)) or -1
local raw = redis.call('HGET', k, 'wb:' .. e)
local bytes = {}
for i = 1, W / 8 do
  bytes[i] = (raw and string.byte(raw, i)) or 0
end
local function isSet(q)
  local slot = q % W
  local b = bytes[math.floor(slot / 8) + 1]
  return math.floor(b / 2 ^ (slot % 8)) % 2 == 1
end
local function setBit(q, on)
  local slot = q % W
  local i = math.floor(slot / 8) + 1
  local bit = 2 ^ (slot % 8)
  local has = math.floor(bytes[i] / bit) % 2 == 1
  if on and not has then bytes[i] = bytes[i] + bit end
  if (not on) and has then bytes[i] = bytes[i] - bit end
end
if top >= 0 and s <= top then
  if s + W <= top then return {'too_old', cur} end
  if isSet(s) then return {'replayed', cur} end
end
if s > top then
  if top < 0 or s - top >= W then
    for i = 1, W / 8 do bytes[i] = 0 end
  else
    for q = top + 1, s do setBit(q, false) end
  end
  top = s
end
setBit(s, true)
redis.call('HSET', k, 'wt:' .. e, top, 'wb:' .. e, string.char(unpack(bytes)))
redis.call('PEXPIRE', k, ARGV[5])
return {'accepted', cur}`;

const ADMISSIONS = new Set(['accepted', 'replayed', 'too_old', 'too_far_ahead']);

/**
 * Creates the shared record state of a responder's sessions in Redis.
 * @param client - a connected client.
 * @param options - the key prefix.
 * @returns the shared state, to give `createResponder` as `recordState`.
 * @throws {TypeError} when the client or the prefix is malformed.
 */
export function createRedisRecordState(
  client: RedisCommands,
  options: RedisRecordStateOptions = {},
): SharedRecordState {
  const prefix = checkRedisOptions(client, options.keyPrefix);
  const keyOf = (sessionId: string): string => `${prefix}records:${sessionId}`;
  const ttl = (expiresAt: number, at: number): string =>
    String(Math.max(1, Math.ceil(expiresAt - at)) + DEFAULT_EXPIRED_GRACE_MS);

  // A session whose record state is missing (evicted, or lost by a Redis that restarted without
  // it) is never started again at seq 0: that would reuse nonces. It is refused as closed.
  const lost = (): ZeqKeyExError =>
    new ZeqKeyExError('session_closed', 'the record state of this session is gone');

  function pair(reply: unknown): [unknown, number] {
    if (!Array.isArray(reply) || reply.length !== 2 || !Number.isSafeInteger(reply[1]))
      throw new ZeqKeyExError('store_error', 'Redis answered a record script with something else');
    return [reply[0], reply[1] as number];
  }

  return {
    async nextSend(sessionId, at, intervalMs, expiresAt) {
      const [first, second] = pair(
        await command(
          client,
          [
            'EVAL',
            NEXT_SEND_SCRIPT,
            '1',
            keyOf(sessionId),
            String(at),
            String(intervalMs),
            ttl(expiresAt, at),
            String(MAX_RECORDS_PER_EPOCH),
            String(MAX_EPOCH),
          ],
          'the record state failed to allocate',
        ),
      );
      if (first === 'exhausted') return 'exhausted';
      if (first === 'lost') throw lost();
      if (!Number.isSafeInteger(first) || (first as number) < 0 || (first as number) > MAX_EPOCH)
        throw new ZeqKeyExError('store_error', 'Redis allocated an epoch out of range');
      return { epoch: first as number, seq: second };
    },
    async admit(sessionId, epoch, seq, at, intervalMs, expiresAt): Promise<SharedAdmission> {
      const [status, current] = pair(
        await command(
          client,
          [
            'EVAL',
            ADMIT_SCRIPT,
            '1',
            keyOf(sessionId),
            String(epoch),
            String(seq),
            String(at),
            String(intervalMs),
            ttl(expiresAt, at),
            String(REPLAY_WINDOW),
            String(MAX_EPOCH_SKIP),
          ],
          'the record state failed to admit',
        ),
      );
      if (status === 'lost') throw lost();
      if (typeof status !== 'string' || !ADMISSIONS.has(status))
        throw new ZeqKeyExError(
          'store_error',
          'Redis answered the admit script with something else',
        );
      return { status: status as SharedAdmission['status'], current };
    },
    async currentEpoch(sessionId) {
      const reply = await command(
        client,
        ['HGET', keyOf(sessionId), 're'],
        'the record state failed to read',
      );
      const epoch = reply === null ? 0 : Number(reply);
      if (!Number.isSafeInteger(epoch) || epoch < 0)
        throw new ZeqKeyExError('store_error', 'the record state in Redis is malformed');
      return epoch;
    },
    async forget(sessionId) {
      await command(client, ['DEL', keyOf(sessionId)], 'the record state failed to write');
    },
  };
}
