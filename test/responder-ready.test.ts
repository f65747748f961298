/**
 * Loud at start: `Responder.ready()` opens every stored machine key under the field key and
 * refuses, naming the machine, when one does not open; `zeq-keyex serve` runs it and exits 1
 * before its listening line. And `serve`'s log: one JSON line per refused request, `--log-level`.
 */
import { mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { isZeqKeyExError } from '../src/core/errors.js';
import { createFileKeyStore, createFileSeedStore } from '../src/node.js';
import { deriveSealKey, parseFieldKey, sealSeed } from '../src/core/sealing.js';
import { type StoredSeed, createMemorySeedStore } from '../src/responder/seed-store.js';
import { type CliIo, runCli } from '../src/node/cli/index.js';
import { createResponder } from '../src/responder.js';
import { createMemoryKeyStore } from '../src/responder/stores.js';
import { FIELD_KEY, OTHER_FIELD_KEY } from './helpers/responder.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'zeq-keyex-ready-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A Mode-B seed record sealed under `fieldKey` (§5), as the Mode-B endpoints store them. */
function storedSeed(fieldKey: string, localMachineId: string, peerMachineId: string): StoredSeed {
  const sealKey = deriveSealKey(parseFieldKey(fieldKey));
  const seedCommitment = 'c3'.repeat(32);
  const sealedSeed = sealSeed(
    sealKey,
    { localMachineId, peerMachineId, seedCommitment },
    new Uint8Array(32).fill(9),
  );
  return {
    alg: 'ML-KEM-768',
    role: 'initiator',
    localSlug: localMachineId.slice('machine:'.length),
    localMachineId,
    peerMachineId,
    fingerprint: 'ab'.repeat(32),
    seedCommitment,
    sealedSeed,
    createdAt: '2026-12-07T10:00:00.000Z',
  };
}

/** Keys made under FIELD_KEY for edge-01 (and edge-02 when asked) in a file store. */
async function storeWithKeys(slugs: readonly string[]): Promise<string> {
  const dir = join(root, 'keys');
  const machines = Object.fromEntries(slugs.map((slug) => [slug, `machine:${slug}`]));
  const maker = createResponder({
    fieldKey: FIELD_KEY,
    machines,
    keyStore: createFileKeyStore(dir),
  });
  for (const slug of slugs) await maker.keyDocument(slug);
  maker.close();
  return dir;
}

describe('Responder.ready()', () => {
  test('resolves when every stored key opens, generating none', async () => {
    const keyStore = createMemoryKeyStore();
    const writes: string[] = [];
    const observed = {
      get: (slug: string) => keyStore.get(slug),
      putIfAbsent: (key: Parameters<typeof keyStore.putIfAbsent>[0]) => {
        writes.push(key.slug);
        return keyStore.putIfAbsent(key);
      },
    };
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: { 'edge-01': 'machine:edge-01', 'edge-02': 'machine:edge-02' },
      keyStore: observed,
    });
    await responder.keyDocument('edge-01');
    await responder.ready();
    expect(writes).toEqual(['edge-01']);
    responder.close();
  });

  test('a wrong field key: machine_unavailable naming the machine, from the machines table', async () => {
    const dir = await storeWithKeys(['edge-01']);
    const responder = createResponder({
      fieldKey: OTHER_FIELD_KEY,
      machines: { 'edge-01': 'machine:edge-01' },
      keyStore: createFileKeyStore(dir),
    });
    const error = await responder.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isZeqKeyExError(error, 'machine_unavailable')).toBe(true);
    expect((error as Error).message).toContain('edge-01');
    responder.close();
  });

  test('Mode-B seeds the seed store lists are opened too; one sealed under another key names its machines', async () => {
    const seeds = createFileSeedStore(join(root, 'seeds'));
    await seeds.put(storedSeed(FIELD_KEY, 'machine:edge-01', 'machine:core-02'));
    const good = createResponder({
      fieldKey: FIELD_KEY,
      machines: { 'edge-01': 'machine:edge-01' },
      seedStore: seeds,
    });
    await good.ready();
    good.close();
    const wrong = createResponder({
      fieldKey: OTHER_FIELD_KEY,
      machines: { 'edge-01': 'machine:edge-01' },
      seedStore: seeds,
    });
    const error = await wrong.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isZeqKeyExError(error, 'machine_unavailable')).toBe(true);
    expect((error as Error).message).toContain('machine:edge-01');
    expect((error as Error).message).toContain('machine:core-02');
    wrong.close();
  });

  test("the seed stores' list: every seed, copies; a file naming another pair is store_error", async () => {
    const memory = createMemorySeedStore();
    const seed = storedSeed(FIELD_KEY, 'machine:a', 'machine:b');
    await memory.put(seed);
    const listed = (await memory.list?.()) ?? [];
    expect(listed).toEqual([seed]);
    expect(listed[0]).not.toBe(seed);
    const dir = join(root, 'seeds');
    const files = createFileSeedStore(dir);
    expect(await files.list?.()).toEqual([]); // no directory yet
    await files.put(seed);
    await files.put(storedSeed(FIELD_KEY, 'machine:a', 'machine:c'));
    await writeFile(join(dir, 'notes.txt'), 'not a seed');
    expect((await files.list?.())?.map((s) => s.peerMachineId).sort()).toEqual([
      'machine:b',
      'machine:c',
    ]);
    // A seed file renamed to another pair's name is refused, not read as that pair.
    const [first] = (await readdir(dir)).filter((n) => n.endsWith('.json'));
    await rename(join(dir, first as string), join(dir, `${'0'.repeat(64)}.json`));
    const error = await files.list?.().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isZeqKeyExError(error, 'store_error')).toBe(true);
  });

  test('with a resolver, the keys the store lists are checked', async () => {
    const dir = await storeWithKeys(['edge-01', 'edge-02']);
    const responder = createResponder({
      fieldKey: OTHER_FIELD_KEY,
      machines: (slug) => `machine:${slug}`,
      keyStore: createFileKeyStore(dir),
    });
    const error = await responder.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isZeqKeyExError(error, 'machine_unavailable')).toBe(true);
    responder.close();
    // A slug no longer served is skipped: its key is never used.
    const served = createResponder({
      fieldKey: OTHER_FIELD_KEY,
      machines: { 'edge-03': 'machine:edge-03' },
      keyStore: createFileKeyStore(dir),
    });
    await served.ready();
    served.close();
  });
});

describe('zeq-keyex serve at start', () => {
  interface Run {
    code: number;
    out: string[];
    err: string[];
  }

  function io(
    run: Run,
    env: Record<string, string>,
    onStdout: (line: string) => void,
    stop: Promise<string>,
  ): CliIo {
    return {
      stdout: (line) => {
        run.out.push(line);
        onStdout(line);
      },
      stderr: (line) => run.err.push(line),
      env,
      stopSignal: () => stop,
    };
  }

  test('with the wrong ZEQ_FIELD_KEY: exit 1 naming the machine, no listening line', async () => {
    const dir = await storeWithKeys(['edge-01']);
    const run: Run = { code: -1, out: [], err: [] };
    run.code = await runCli(
      ['serve', '--port', '0', '--store', dir, '--machine', 'edge-01=machine:edge-01'],
      io(run, { ZEQ_FIELD_KEY: OTHER_FIELD_KEY }, () => undefined, Promise.resolve('SIGTERM')),
    );
    expect(run.code).toBe(1);
    expect(run.out).toEqual([]);
    const said = run.err.join('\n');
    expect(said).toContain('machine_unavailable');
    expect(said).toContain('edge-01');
    expect(said).not.toContain(OTHER_FIELD_KEY);
  });

  test('with --auto-provision, the stored keys are checked too', async () => {
    const dir = await storeWithKeys(['edge-01']);
    const run: Run = { code: -1, out: [], err: [] };
    run.code = await runCli(
      ['serve', '--port', '0', '--store', dir, '--auto-provision', '5'],
      io(run, { ZEQ_FIELD_KEY: OTHER_FIELD_KEY }, () => undefined, Promise.resolve('SIGTERM')),
    );
    expect(run.code).toBe(1);
    expect(run.out).toEqual([]);
  });

  async function serving(args: string[]): Promise<{ url: string; stop: () => Promise<Run> }> {
    const run: Run = { code: -1, out: [], err: [] };
    let stop: (signal: string) => void = () => undefined;
    const stopped = new Promise<string>((resolve) => (stop = resolve));
    let listening: (line: string) => void = () => undefined;
    const ready = new Promise<string>((resolve) => (listening = resolve));
    const running = runCli(
      ['serve', '--port', '0', '--machine', 'edge-01=machine:edge-01', ...args],
      io(run, { ZEQ_FIELD_KEY: FIELD_KEY }, listening, stopped),
    ).then((code) => {
      run.code = code;
      return run;
    });
    const line = await Promise.race([
      ready,
      running.then(() => Promise.reject(new Error(run.err.join('\n')))),
    ]);
    return {
      url: line.replace('listening on ', ''),
      stop: () => {
        stop('SIGTERM');
        return running;
      },
    };
  }

  test('logs one JSON line per refused request by default, none with --log-level error', async () => {
    const loud = await serving([]);
    const refused = await fetch(`${loud.url}/api/keyex/nobody/pubkey?token=s3cret`);
    expect(refused.status).toBe(404);
    await refused.body?.cancel();
    const ok = await fetch(`${loud.url}/api/keyex/edge-01/pubkey`);
    await ok.body?.cancel();
    const run = await loud.stop();
    const lines = run.err
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual([
      {
        level: 'warn',
        message: 'request refused',
        status: 404,
        code: 'unknown_machine',
        method: 'GET',
        path: '/api/keyex/nobody/pubkey',
      },
    ]);
    expect(run.err.join('\n')).not.toContain('s3cret');

    const quiet = await serving(['--log-level', 'error']);
    const again = await fetch(`${quiet.url}/api/keyex/nobody/pubkey`);
    await again.body?.cancel();
    expect((await quiet.stop()).err.filter((line) => line.startsWith('{'))).toEqual([]);
  });

  test("a refused record's log line names the route, not the session id in its path", async () => {
    const server = await serving([]);
    const sessionId = 'AAAAAAAAAAAAAAAAAAAAAA';
    const refused = await fetch(`${server.url}/api/keyex/edge-01/sessions/${sessionId}/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array(64),
    });
    expect(refused.status).toBe(404);
    await refused.body?.cancel();
    const run = await server.stop();
    const refusals = run.err
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line['message'] === 'request refused');
    expect(refusals).toEqual([
      expect.objectContaining({
        status: 404,
        method: 'POST',
        path: '/api/keyex/edge-01/sessions/{session_id}/records',
      }),
    ]);
    expect(run.err.join('\n')).not.toContain(sessionId);
  });

  test('--log-level takes warn, error or silent only', async () => {
    const run: Run = { code: -1, out: [], err: [] };
    run.code = await runCli(
      ['serve', '--port', '0', '--machine', 'edge-01=m-1', '--log-level', 'debug'],
      io(run, { ZEQ_FIELD_KEY: FIELD_KEY }, () => undefined, Promise.resolve('SIGTERM')),
    );
    expect(run.code).toBe(2);
  });
});
