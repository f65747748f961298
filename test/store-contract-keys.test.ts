/**
 * The key store contract (`helpers/store-contract.ts`) for every key store: memory, file, and the
 * Redis store on Redis and on Valkey.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createFileKeyStore } from '../src/node.js';
import { createRedisKeyStore } from '../src/redis.js';
import { createMemoryKeyStore } from '../src/responder/stores.js';
import { testPrefix, useRedis, useValkey } from './helpers/redis.js';
import { describeKeyStoreContract } from './helpers/store-contract.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describeKeyStoreContract('memory', () => createMemoryKeyStore());

describeKeyStoreContract('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'zeq-keyex-contract-keys-'));
  dirs.push(dir);
  return createFileKeyStore(join(dir, 'keys'));
});

const redis = useRedis();
describeKeyStoreContract('Redis', () => createRedisKeyStore(redis(), { keyPrefix: testPrefix() }));

const valkey = useValkey();
describeKeyStoreContract('Valkey', () =>
  createRedisKeyStore(valkey(), { keyPrefix: testPrefix() }),
);
