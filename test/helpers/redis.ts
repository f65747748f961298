/**
 * Redis for tests: a connection to this run's Redis or Valkey server (`inject('redisUrl')`,
 * `inject('valkeyUrl')`, started by `helpers/redis-server.ts`) that is up before the first test,
 * and key prefixes no other test uses.
 */
import { afterAll, beforeAll, inject } from 'vitest';
import { type RedisConnection, createRedisConnection } from '../../src/redis.js';
import { unique } from './store-contract.js';

/**
 * Waits until a connection answers PING.
 * @param connection - the connection.
 * @param limitMs - how long to wait.
 */
export async function untilReady(connection: RedisConnection, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await connection.ping())) {
    if (Date.now() > deadline) throw new Error('Redis did not answer');
    await new Promise((wait) => setTimeout(wait, 20));
  }
}

/**
 * A connection to this run's Redis for the tests of one file: opened before them, closed after.
 * @param url - another server's URL.
 * @returns a getter of the connection.
 */
export function useRedis(url?: string): () => RedisConnection {
  let connection: RedisConnection | undefined;
  beforeAll(async () => {
    connection = createRedisConnection(url ?? inject('redisUrl'));
    await untilReady(connection);
  });
  afterAll(async () => {
    await connection?.close();
  });
  return () => {
    if (connection === undefined) throw new Error('Redis is not connected yet');
    return connection;
  };
}

/**
 * A connection to this run's Valkey for the tests of one file, as {@link useRedis}: the stores
 * use only commands Redis 7 and Valkey share, and the suites run on both.
 * @returns a getter of the connection.
 */
export function useValkey(): () => RedisConnection {
  return useRedis(inject('valkeyUrl'));
}

/** A key prefix no other test uses, so tests sharing the server keep apart. */
export function testPrefix(): string {
  return `${unique('test')}:`;
}
