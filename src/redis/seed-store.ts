/**
 * A {@link SeedStore} in Redis or Valkey: one string per `(local machine, peer machine)` pair,
 * `{prefix}seed:{hex(SHA-256(LP(local_machine_id) ‖ LP(peer_machine_id)))}`, holding the stored
 * seed as JSON (the seed sealed under the field key, spec §5: never in the clear), with no expiry.
 * `put` is one `SET`: a reader sees the old record or the new one, never a mix.
 *
 * Caveat: the Mode-B endpoints serialise their `seed_conflict` check and the write of one pair
 * within one process; two instances running `initiate` for the same pair at the same moment may
 * each pass the check before either writes (the last write wins). Send a pair's Mode-B calls to one
 * instance.
 * @module
 */
import { hexEncode, lp } from '../core/encoding.js';
import { ZeqKeyExError } from '../core/errors.js';
import { assertMachineId } from '../core/identifiers.js';
import { sha256 } from '../core/primitives.js';
import {
  type SeedStore,
  type StoredSeed,
  copyStoredSeed,
  isStoredSeed,
} from '../responder/seed-store.js';
import {
  type RedisCommands,
  checkRedisOptions,
  command,
  parseStored,
  scanKeys,
} from './commands.js';

/** Options of {@link createRedisSeedStore}. */
export interface RedisSeedStoreOptions {
  /**
   * The prefix of every key written.
   * @defaultValue `'zeq-keyex:'`
   */
  keyPrefix?: string;
}

/**
 * Creates a seed store in Redis.
 * @param client - a connected client.
 * @param options - the key prefix.
 * @returns the store.
 * @throws {TypeError} when the client or the prefix is malformed.
 */
export function createRedisSeedStore(
  client: RedisCommands,
  options: RedisSeedStoreOptions = {},
): SeedStore {
  const prefix = checkRedisOptions(client, options.keyPrefix);
  const keyOf = (local: string, peer: string): string =>
    `${prefix}seed:${hexEncode(sha256(lp(local, peer)))}`;
  return {
    async get(localMachineId: string, peerMachineId: string): Promise<StoredSeed | undefined> {
      assertMachineId(localMachineId);
      assertMachineId(peerMachineId);
      const text = await command(
        client,
        ['GET', keyOf(localMachineId, peerMachineId)],
        'the seed store failed to read',
      );
      if (text === null) return undefined;
      const value = parseStored(text, 'a seed');
      if (
        !isStoredSeed(value) ||
        value.localMachineId !== localMachineId ||
        value.peerMachineId !== peerMachineId
      )
        throw new ZeqKeyExError(
          'store_error',
          'a seed in Redis is not the stored seed of its pair',
        );
      return copyStoredSeed(value);
    },
    async put(seed: StoredSeed): Promise<void> {
      if (!isStoredSeed(seed)) throw new TypeError('put expects a StoredSeed');
      const record = copyStoredSeed(seed);
      await command(
        client,
        ['SET', keyOf(record.localMachineId, record.peerMachineId), JSON.stringify(record)],
        'the seed store failed to write',
      );
    },
    async list(): Promise<readonly StoredSeed[]> {
      const seeds: StoredSeed[] = [];
      for (const name of (
        await scanKeys(client, `${prefix}seed:`, 'the seed store failed to list')
      ).sort()) {
        const text = await command(client, ['GET', name], 'the seed store failed to read');
        if (text === null) continue; // removed meanwhile
        const value = parseStored(text, 'a seed');
        if (!isStoredSeed(value) || keyOf(value.localMachineId, value.peerMachineId) !== name)
          throw new ZeqKeyExError(
            'store_error',
            'a seed in Redis is not the stored seed of its pair',
          );
        seeds.push(copyStoredSeed(value));
      }
      return seeds;
    },
  };
}
