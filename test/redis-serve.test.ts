/**
 * `zeq-keyex serve --redis URL` (and `ZEQ_REDIS_URL`): two processes on one Redis act as one
 * responder — one key pair for 100 concurrent first requests split across both, a handshake
 * through one and a hundred records alternating through both, one process killed and the other
 * going on — plus `/healthz` and `/readyz`, and Redis down at start and back again.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { kemEncapsulate } from '../src/core/kem.js';
import { createClient } from '../src/initiator/client.js';
import { sessionRecords } from '../src/initiator/records.js';
import { useCliProcesses } from './helpers/cli-process.js';
import { text, utf8 } from './helpers/records.js';
import { type RedisServer, startRedisServer } from './helpers/redis-server.js';
import { FIELD_KEY } from './helpers/responder.js';

const MACHINE = ['--machine', 'edge-01=machine:edge-01', '--echo', '--no-rate-limits'];
const TOKEN = 'rotation-admin-token-0123456789';
const { startServe, stop, run, scratch } = useCliProcesses('redis-serve');

async function fingerprint(origin: string): Promise<string> {
  const response = await fetch(`${origin}/api/keyex/edge-01/pubkey`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { fingerprint: string }).fingerprint;
}

/** A Redis database of its own for each test (the run's server has 16). */
let database = 0;
const freshRedis = (): string => `${inject('redisUrl')}/${++database}`;

describe('two serve processes on one Redis', () => {
  test('100 concurrent first key requests split across both: one key pair', async () => {
    const url = freshRedis();
    const a = await startServe([...MACHINE, '--redis', url], FIELD_KEY);
    const b = await startServe(MACHINE, FIELD_KEY, { env: { ZEQ_REDIS_URL: url } });
    const prints = await Promise.all(
      Array.from({ length: 100 }, (_, i) => fingerprint((i % 2 === 0 ? a : b).origin)),
    );
    expect(new Set(prints).size).toBe(1);
    await stop(a);
    await stop(b);
  });

  test('a handshake through one, a hundred records alternating through both; one killed, the other goes on', async () => {
    const url = freshRedis();
    const a = await startServe([...MACHINE, '--redis', url], FIELD_KEY);
    const b = await startServe([...MACHINE, '--redis', url], FIELD_KEY);
    let turn = 0;
    const client = createClient({
      origin: a.origin,
      retry: 0,
      timeoutMs: 5_000,
      insecureUnpinned: true,
      // Every other request to the other process: same path, the other origin.
      fetch: (request: Request) =>
        fetch(
          new Request(
            request.url.replace(a.origin, turn++ % 2 === 0 ? a.origin : b.origin),
            request,
          ),
        ),
    });
    const session = await client.handshake('edge-01');
    const records = sessionRecords(session);
    for (let i = 0; i < 100; i++)
      expect(text(await records.request(utf8(`record ${i}`)))).toBe(`record ${i}`);
    // One process killed: the other goes on, with new sessions as with this one.
    a.child.kill('SIGKILL');
    await a.exited();
    const onlyB = createClient({
      origin: a.origin,
      retry: 0,
      timeoutMs: 5_000,
      insecureUnpinned: true,
      fetch: (request: Request) =>
        fetch(new Request(request.url.replace(a.origin, b.origin), request)),
    });
    const again = await onlyB.handshake('edge-01');
    expect(again.fingerprint).toBe(session.fingerprint);
    for (let i = 0; i < 5; i++)
      expect(text(await sessionRecords(again).request(utf8(`b${i}`)))).toBe(`b${i}`);
    await stop(b);
  });

  test('rate limits hold across both: the sixth new key from one address through either is 429', async () => {
    const url = freshRedis();
    // Key generation is limited to 5, then one a minute, per client: here, the loopback address.
    const args = ['--auto-provision', '10', '--redis', url];
    const a = await startServe(args, FIELD_KEY);
    const b = await startServe(args, FIELD_KEY);
    const pubkey = (i: number): Promise<Response> =>
      fetch(`${(i % 2 === 0 ? a : b).origin}/api/keyex/edge-${i}/pubkey`);
    for (let i = 0; i < 5; i++) expect((await pubkey(i)).status).toBe(200);
    const refused = await pubkey(5);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: string }).error).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await pubkey(6)).status).toBe(429);
    await stop(a);
    await stop(b);
  });

  test('identity --redis --create makes one identity; two serve --redis --identity sign with it', async () => {
    const url = freshRedis();
    const env = { PATH: process.env['PATH'] ?? '', ZEQ_FIELD_KEY: FIELD_KEY };
    const missing = await run(['identity', '--redis', url], env);
    expect(missing.code).toBe(1);
    const made = await Promise.all([
      run(['identity', '--redis', url, '--create', '--json'], env),
      run(['identity', '--redis', url, '--create', '--json'], env),
    ]);
    const answers = made.map(
      (exit) => JSON.parse(exit.stdout) as { identity: string; created: boolean },
    );
    expect(answers[0]?.identity).toBe(answers[1]?.identity);
    expect(answers.filter((answer) => answer.created)).toHaveLength(1);
    const identity = answers[0]?.identity as string;
    const a = await startServe([...MACHINE, '--redis', url, '--identity'], FIELD_KEY);
    const b = await startServe([...MACHINE, '--redis', url, '--identity'], FIELD_KEY);
    expect(a.stderr()).toContain(`identity ${identity}`);
    expect(b.stderr()).toContain(`identity ${identity}`);
    const docs = await Promise.all(
      [a, b].map(async (s) => {
        const response = await fetch(`${s.origin}/api/keyex/edge-01/pubkey`);
        return (await response.json()) as { attestation?: { identity_key: string } };
      }),
    );
    expect(docs[0]?.attestation?.identity_key).toBeDefined();
    expect(docs[1]?.attestation?.identity_key).toBe(docs[0]?.attestation?.identity_key);
    await stop(a);
    await stop(b);
  });

  test('rotate through one serve --redis: the other serves the new key, and both the old one in its grace', async () => {
    const url = freshRedis();
    const tokenFile = join(scratch(), 'admin.token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const args = [...MACHINE, '--redis', url, '--admin-token-file', tokenFile];
    const a = await startServe(args, FIELD_KEY);
    const b = await startServe(args, FIELD_KEY);
    const pubkey = async (origin: string): Promise<{ public_key: string; fingerprint: string }> =>
      (await (await fetch(`${origin}/api/keyex/edge-01/pubkey`)).json()) as {
        public_key: string;
        fingerprint: string;
      };
    const old = await pubkey(a.origin);
    expect((await pubkey(b.origin)).fingerprint).toBe(old.fingerprint);
    const env = { PATH: process.env['PATH'] ?? '', ZEQ_ADMIN_TOKEN: TOKEN };
    const rotation = await run(
      ['rotate', a.origin, 'edge-01', '--grace-seconds', '600', '--json'],
      env,
    );
    expect(rotation.code, rotation.stderr).toBe(0);
    const rotated = JSON.parse(rotation.stdout) as { fingerprint: string };
    // B compares its cached key with Redis once a second.
    const deadline = Date.now() + 10_000;
    while ((await pubkey(b.origin)).fingerprint !== rotated.fingerprint) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const origin of [a.origin, b.origin]) {
      const { cipherText } = kemEncapsulate(Buffer.from(old.public_key, 'base64'));
      const response = await fetch(`${origin}/api/keyex/edge-01/handshake`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          cipher_text: Buffer.from(cipherText).toString('base64'),
          fingerprint: old.fingerprint,
        }),
      });
      expect(response.status).toBe(200);
    }
    await stop(a);
    await stop(b);
  });

  test('/healthz and /readyz answer 200 while Redis answers; settings that can lose data are warned about', async () => {
    const a = await startServe([...MACHINE, '--redis', freshRedis()], FIELD_KEY);
    const live = await fetch(`${a.origin}/healthz`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${a.origin}/readyz`);
    expect(ready.status).toBe(200);
    // This run's Redis keeps nothing on disk: serve says so.
    const deadline = Date.now() + 10_000;
    while (!a.stderr().includes('appendfsync')) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((wait) => setTimeout(wait, 50));
    }
    expect(a.stderr()).toMatch(/warning: redis: appendonly is "no"/);
    // Redis answered at start, so the stored keys were checked then: no warning that it did not.
    expect(a.stderr()).not.toContain('does not answer');
    await stop(a);
  });

  test('--store and --redis together, or a URL that is not redis://, are usage errors', async () => {
    const both = await run(['serve', ...MACHINE, '--store', scratch(), '--redis', freshRedis()], {
      PATH: process.env['PATH'] ?? '',
      ZEQ_FIELD_KEY: FIELD_KEY,
    });
    expect(both.code).toBe(2);
    const bad = await run(['serve', ...MACHINE, '--redis', 'http://127.0.0.1:1'], {
      PATH: process.env['PATH'] ?? '',
      ZEQ_FIELD_KEY: FIELD_KEY,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).not.toContain('127.0.0.1:1');
  });
});

describe('a Redis that is down', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer({ persistent: true });
  });
  afterAll(async () => {
    await server.dispose();
  });

  test('serve starts anyway, answers 503 and not ready, then serves when Redis returns', async () => {
    const first = await startServe([...MACHINE, '--redis', server.url], FIELD_KEY);
    const before = await fingerprint(first.origin);
    await stop(first);
    await server.stop();
    const a = await startServe([...MACHINE, '--redis', server.url], FIELD_KEY);
    const refused = await fetch(`${a.origin}/api/keyex/edge-01/pubkey`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await fetch(`${a.origin}/readyz`)).status).toBe(503);
    expect((await fetch(`${a.origin}/healthz`)).status).toBe(200);
    await server.restart();
    const deadline = Date.now() + 10_000;
    while ((await fetch(`${a.origin}/readyz`)).status !== 200) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((wait) => setTimeout(wait, 50));
    }
    expect(await fingerprint(a.origin)).toBe(before);
    expect(a.stderr()).not.toContain(server.url);
    await stop(a);
  });
});
