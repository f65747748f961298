/**
 * The seed store contract (`helpers/store-contract.ts`) for every seed store: memory, file, and the
 * Redis store on Redis and on Valkey.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createFileSeedStore } from '../src/node.js';
import { createRedisSeedStore } from '../src/redis.js';
import { createMemorySeedStore } from '../src/responder/seed-store.js';
import { testPrefix, useRedis, useValkey } from './helpers/redis.js';
import { describeSeedStoreContract } from './helpers/store-contract.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describeSeedStoreContract('memory', () => createMemorySeedStore());

describeSeedStoreContract('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'zeq-keyex-contract-seeds-'));
  dirs.push(dir);
  return createFileSeedStore(join(dir, 'seeds'));
});

const redis = useRedis();
describeSeedStoreContract('Redis', () =>
  createRedisSeedStore(redis(), { keyPrefix: testPrefix() }),
);

const valkey = useValkey();
describeSeedStoreContract('Valkey', () =>
  createRedisSeedStore(valkey(), { keyPrefix: testPrefix() }),
);
