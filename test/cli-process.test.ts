/**
 * The built `zeq-keyex` executable as real processes (test/helpers/cli-process.ts): `demo`, `serve`
 * on a loopback socket with `fingerprint` and `handshake` against it, clean exits on SIGINT/SIGTERM,
 * and a restart of `serve --store` (same fingerprint; a wrong field key stops `serve` before it
 * listens, naming the machine, and leaves its key file byte for byte as it was).
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ALG } from '../src/core/constants.js';
import { isSessionId } from '../src/core/identifiers.js';
import { cliEnv, jsonLine, useCliProcesses } from './helpers/cli-process.js';
import { FIELD_KEY, OTHER_FIELD_KEY } from './helpers/responder.js';

const SLUG = 'edge-01';
const MACHINE_ID = 'm-1';

const { run, startServe, stop, fingerprintOf, scratch } = useCliProcesses('cli-process');

describe('zeq-keyex (built)', () => {
  test('demo: exits 0, prints the fingerprint and "demo ok"', async () => {
    const exit = await run(['demo']);
    expect(exit.code, exit.stderr).toBe(0);
    const lines = exit.stdout.split('\n').map((line) => line.trim());
    expect(lines.some((line) => /^fingerprint [0-9a-f]{64}$/.test(line))).toBe(true);
    expect(lines).toContain('demo ok');
  });

  test('--help and field-key work from the executable', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout.length).toBeGreaterThan(0);
    const key = await run(['field-key']);
    expect(key.code).toBe(0);
    expect(key.stdout).toMatch(/^[0-9a-f]{64}\n$/);
  });

  test('serve --port 0: one listening line with the real port; fingerprint and pinned handshake over it; SIGINT stops it', async () => {
    const server = await startServe(['--machine', `${SLUG}=${MACHINE_ID}`], FIELD_KEY);
    const fingerprint = await fingerprintOf(server.origin, SLUG);
    const exit = await run(['handshake', server.origin, SLUG, '--pin', fingerprint, '--json']);
    expect(exit.code, exit.stderr).toBe(0);
    const out = jsonLine(exit);
    expect(Object.keys(out)).toEqual([
      'ok',
      'session_id',
      'machine_id',
      'fingerprint',
      'alg',
      'authenticated',
    ]);
    expect(out).toEqual({
      ok: true,
      session_id: out['session_id'],
      machine_id: MACHINE_ID,
      fingerprint,
      alg: ALG,
      authenticated: true,
    });
    expect(isSessionId(out['session_id'])).toBe(true);

    const stopped = await stop(server, 'SIGINT');
    expect(stopped.stderr).not.toContain(FIELD_KEY);
  });

  test('SIGTERM stops serve promptly, even with a keep-alive connection open', async () => {
    const server = await startServe(['--machine', `${SLUG}=${MACHINE_ID}`], FIELD_KEY);
    // This process's fetch keeps its connection alive after the response.
    const response = await fetch(`${server.origin}/api/keyex/${SLUG}/pubkey`);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    await stop(server, 'SIGTERM');
  });

  test('serve without ZEQ_FIELD_KEY exits 2 without listening', async () => {
    const exit = await run(
      ['serve', '--port', '0', '--machine', `${SLUG}=${MACHINE_ID}`],
      cliEnv(),
    );
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr.length).toBeGreaterThan(0);
  });

  test('serve --store: same fingerprint after a restart; a wrong field key stops serve at start and leaves the key file alone', async () => {
    const store = join(scratch(), 'keys');
    const machine = ['--store', store, '--machine', `${SLUG}=${MACHINE_ID}`];

    const first = await startServe(machine, FIELD_KEY);
    const fingerprint = await fingerprintOf(first.origin, SLUG);
    await stop(first, 'SIGTERM');
    const files = await readdir(store);
    expect(files).toHaveLength(1);
    const keyFile = join(store, files[0] as string);
    const bytes = await readFile(keyFile);

    const again = await startServe(machine, FIELD_KEY);
    expect(await fingerprintOf(again.origin, SLUG)).toBe(fingerprint);
    const handshake = await run(['handshake', again.origin, SLUG, '--pin', fingerprint, '--json']);
    expect(handshake.code, handshake.stderr).toBe(0);
    expect(jsonLine(handshake)).toMatchObject({
      ok: true,
      fingerprint,
      machine_id: MACHINE_ID,
      authenticated: true,
    });
    await stop(again, 'SIGTERM');
    expect(await readFile(keyFile)).toEqual(bytes);

    // Loud at start: a wrong field key stops serve before it listens, naming the machine.
    const wrong = await run(
      ['serve', '--port', '0', ...machine],
      cliEnv({ ZEQ_FIELD_KEY: OTHER_FIELD_KEY }),
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).not.toContain('listening');
    expect(wrong.stderr).toContain('machine_unavailable');
    expect(wrong.stderr).toContain(SLUG);
    expect(wrong.stderr).not.toContain(OTHER_FIELD_KEY);
    expect(wrong.stderr).not.toContain(FIELD_KEY);

    expect(await readdir(store)).toEqual(files);
    expect(await readFile(keyFile)).toEqual(bytes);

    // And the right key still opens it afterwards.
    const restored = await startServe(machine, FIELD_KEY);
    expect(await fingerprintOf(restored.origin, SLUG)).toBe(fingerprint);
    await stop(restored, 'SIGINT');
  });
});
