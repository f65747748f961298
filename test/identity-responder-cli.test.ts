/**
 * The responder side's identity and rotation commands in process (`runCli`): `zeq-keyex identity --store DIR
 * [--create] [--json]`, `serve --identity` (refusing to start without an identity that opens),
 * and `zeq-keyex rotate` against a running `serve` on loopback while identity-pinned and
 * KEM-pinned clients handshake in loops.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { identityTrust } from '../src/identity.js';
import { isZeqKeyExError } from '../src/core/errors.js';
import { createClient } from '../src/initiator/client.js';
import { type CliIo, runCli } from '../src/node/cli/index.js';
import { FIELD_KEY, OTHER_FIELD_KEY } from './helpers/responder.js';

const SLUG = 'edge-01';
const MACHINE = 'machine:edge-01';
const TOKEN = 'rotate-cli-token-0123456789abcdef';

interface CliRun {
  code: number;
  stdout: string[];
  stderr: string[];
}

async function cli(
  argv: string[],
  env: Record<string, string | undefined> = { ZEQ_FIELD_KEY: FIELD_KEY },
  options: { onStdout?: (line: string) => void; stop?: Promise<string> } = {},
): Promise<CliRun> {
  const run: CliRun = { code: -1, stdout: [], stderr: [] };
  const io: CliIo = {
    stdout: (line) => {
      run.stdout.push(line);
      options.onStdout?.(line);
    },
    stderr: (line) => run.stderr.push(line),
    env,
    stopSignal: () => options.stop ?? Promise.resolve('SIGTERM'),
  };
  run.code = await runCli(argv, io);
  return run;
}

function jsonLine(run: CliRun): Record<string, unknown> {
  expect(run.stdout).toHaveLength(1);
  return JSON.parse(run.stdout[0] as string) as Record<string, unknown>;
}

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'zeq-identity-cli-'));
  dirs.push(dir);
  return dir;
}

/** `serve` in process: its origin, its stderr so far, and `stop`. */
async function serveInProcess(
  args: string[],
): Promise<{ origin: string; stderr: string[]; stop(): Promise<CliRun> }> {
  let stop: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => {
    stop = resolve;
  });
  let listening: (line: string) => void = () => undefined;
  const ready = new Promise<string>((resolve) => {
    listening = resolve;
  });
  const stderr: string[] = [];
  const running = cli(
    ['serve', '--port', '0', ...args],
    { ZEQ_FIELD_KEY: FIELD_KEY },
    {
      onStdout: listening,
      stop: stopped,
    },
  ).then((run) => {
    stderr.push(...run.stderr);
    return run;
  });
  const line = await Promise.race([
    ready,
    running.then((run) => Promise.reject(new Error(`serve exited: ${run.stderr.join('\n')}`))),
  ]);
  return {
    origin: line.replace('listening on ', ''),
    stderr,
    stop: () => {
      stop('SIGTERM');
      return running;
    },
  };
}

describe('zeq-keyex identity', () => {
  test('without --create and no identity: exit 1, identity_unavailable; --create makes it once', async () => {
    const store = join(await scratch(), 'store');
    const missing = await cli(['identity', '--store', store, '--json']);
    expect(missing.code).toBe(1);
    expect(jsonLine(missing)).toMatchObject({ ok: false, code: 'identity_unavailable' });
    const made = await cli(['identity', '--store', store, '--create', '--json']);
    expect(made.code).toBe(0);
    const out = jsonLine(made);
    expect(out).toMatchObject({ ok: true, created: true });
    expect(out['identity']).toMatch(/^[0-9a-f]{64}$/);
    const again = await cli(['identity', '--store', store, '--create']);
    expect(again.code).toBe(0);
    expect(again.stdout).toEqual([out['identity']]);
    const plain = await cli(['identity', '--store', store, '--json']);
    expect(jsonLine(plain)).toEqual({ ok: true, identity: out['identity'], created: false });
    // Another field key: an error, never a new identity.
    const wrong = await cli(['identity', '--store', store, '--create', '--json'], {
      ZEQ_FIELD_KEY: OTHER_FIELD_KEY,
    });
    expect(wrong.code).toBe(1);
    expect(jsonLine(wrong)).toMatchObject({ ok: false, code: 'identity_unavailable' });
    expect((await cli(['identity', '--store', store])).stdout).toEqual([out['identity']]);
  });

  test('usage errors: no --store, no ZEQ_FIELD_KEY (exit 2)', async () => {
    expect((await cli(['identity'])).code).toBe(2);
    const store = join(await scratch(), 'store');
    expect((await cli(['identity', '--store', store, '--create'], {})).code).toBe(2);
    expect((await cli(['identity', '--help'])).stdout.join('\n')).toContain('--create');
  });
});

describe('serve --identity and rotate', () => {
  test('serve --identity refuses to start without a store, an identity, or one that opens', async () => {
    const store = join(await scratch(), 'store');
    const args = ['serve', '--port', '0', '--machine', `${SLUG}=${MACHINE}`, '--identity'];
    expect((await cli(args)).code).toBe(2);
    const unsigned = ['serve', '--port', '0', '--machine', `${SLUG}=${MACHINE}`, '--store', store];
    expect((await cli([...unsigned, '--validity-seconds', '60'])).code).toBe(2);
    expect((await cli([...args, '--store', store, '--validity-seconds', '1'])).code).toBe(2);
    const none = await cli([...args, '--store', store]);
    expect(none.code).toBe(1);
    expect(none.stderr.join('\n')).toContain('identity_unavailable');
    await cli(['identity', '--store', store, '--create']);
    const wrong = await cli([...args, '--store', store], { ZEQ_FIELD_KEY: OTHER_FIELD_KEY });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.join('\n')).toContain('identity_unavailable');
  });

  test('rotation over loopback while clients handshake in loops', async () => {
    const dir = await scratch();
    const store = join(dir, 'store');
    const tokenFile = join(dir, 'admin.token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const identity = jsonLine(await cli(['identity', '--store', store, '--create', '--json']))[
      'identity'
    ] as string;
    const server = await serveInProcess([
      '--machine',
      `${SLUG}=${MACHINE}`,
      '--store',
      store,
      '--identity',
      '--validity-seconds',
      '86400',
      '--admin-token-file',
      tokenFile,
      '--no-rate-limits',
    ]);
    try {
      expect(server.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const before = jsonLine(await cli(['fingerprint', server.origin, SLUG, '--json']));
      const pin = before['fingerprint'] as string;
      const signed = (await (await fetch(`${server.origin}/api/keyex/${SLUG}/pubkey`)).json()) as {
        attestation: { not_before: number; not_after: number };
      };
      expect(signed.attestation.not_after - signed.attestation.not_before).toBe(86_400);
      const byIdentity = createClient({
        origin: server.origin,
        retry: 0,
        identity: identityTrust({ pins: { [SLUG]: identity } }),
      });
      const byPinFresh = createClient({
        origin: server.origin,
        retry: 0,
        pins: { [SLUG]: pin },
        cacheKeyDocuments: false,
      });
      const byPinCached = createClient({ origin: server.origin, retry: 0, pins: { [SLUG]: pin } });
      await byPinCached.handshake(SLUG);

      let rotated = false;
      let done = false;
      const outcomes = { identityOk: 0, identityAfter: 0, identityFailed: [] as string[] };
      const pinned = { ok: 0, okAfter: 0, mismatchAfter: 0, other: [] as string[] };
      const identityLoop = (async () => {
        while (!done) {
          try {
            const session = await byIdentity.handshake(SLUG);
            expect(session.trust).toBe('identity');
            outcomes.identityOk++;
            if (rotated) outcomes.identityAfter++;
          } catch (error) {
            outcomes.identityFailed.push(isZeqKeyExError(error) ? error.code : String(error));
          }
        }
      })();
      const pinLoop = (async () => {
        while (!done) {
          const after = rotated;
          try {
            await byPinFresh.handshake(SLUG);
            if (after) pinned.okAfter++;
            else pinned.ok++;
          } catch (error) {
            if (after && isZeqKeyExError(error, 'fingerprint_mismatch')) pinned.mismatchAfter++;
            else if (!rotated || !isZeqKeyExError(error, 'fingerprint_mismatch'))
              pinned.other.push(isZeqKeyExError(error) ? error.code : String(error));
          }
        }
      })();
      while (outcomes.identityOk < 3 || pinned.ok < 3) await new Promise((r) => setTimeout(r, 5));

      const rotation = await cli(
        ['rotate', server.origin, SLUG, '--grace-seconds', '3600', '--json'],
        { ZEQ_ADMIN_TOKEN: TOKEN },
      );
      expect(rotation.code, rotation.stderr.join('\n')).toBe(0);
      const result = jsonLine(rotation);
      expect(result).toMatchObject({
        ok: true,
        slug: SLUG,
        machine_id: MACHINE,
        previous_fingerprint: pin,
      });
      rotated = true;
      while (outcomes.identityAfter < 3 || pinned.mismatchAfter < 3)
        await new Promise((r) => setTimeout(r, 5));
      done = true;
      await Promise.all([identityLoop, pinLoop]);

      expect(outcomes.identityFailed).toEqual([]);
      expect(pinned.other).toEqual([]);
      expect(pinned.okAfter).toBeLessThanOrEqual(1); // at most one handshake already past its GET
      // A KEM-pinned client holding the old document: within the grace period, still served.
      const cached = await byPinCached.handshake(SLUG);
      expect(cached.documentCached).toBe(true);
      expect(cached.fingerprint).toBe(pin);
      const after = jsonLine(await cli(['fingerprint', server.origin, SLUG, '--json']));
      expect(after['fingerprint']).toBe(result['fingerprint']);

      // The token is required, and a wrong one is refused.
      const refused = await cli(['rotate', server.origin, SLUG, '--json'], {
        ZEQ_ADMIN_TOKEN: `${TOKEN}x`,
      });
      expect(refused.code).toBe(1);
      expect(jsonLine(refused)).toMatchObject({ code: 'http_error', status: 403 });
      expect((await cli(['rotate', server.origin, SLUG], {})).code).toBe(2);
      expect(
        (
          await cli(['rotate', server.origin, SLUG, '--grace-seconds', '-1'], {
            ZEQ_ADMIN_TOKEN: TOKEN,
          })
        ).code,
      ).toBe(2);
    } finally {
      const stopped = await server.stop();
      expect(stopped.code).toBe(0);
    }
    expect(server.stderr.join('\n')).toContain(`identity ${identity}`);
  });
});
