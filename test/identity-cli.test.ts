/**
 * The CLI's identity forms (spec §8), in process through `runCli`, against a real loopback server
 * whose key documents a stub signs: `handshake … --identity PIN [--json]`, `fingerprint … --json`
 * with the attestation, and `ssl initiate … --identity PIN` (the admin client sends
 * `expected_identity` in place of `expected_fingerprint`).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createModeBAdminClient } from '../src/initiator/admin-client.js';
import { type CliIo, runCli } from '../src/node/cli/index.js';
import { type RunningServer, serve } from '../src/node/server.js';
import { type Responder, createResponder } from '../src/responder.js';
import { identityKeygen, identityOf } from '../src/core/attestation.js';
import { FIELD_KEY } from './helpers/responder.js';
import { type Signing, TEST_IDENTITY_PIN, signing } from './helpers/identity.js';
import { expectCodeAsync } from './helpers/errors.js';

const SLUG = 'edge-01';
const STRANGER_PIN = identityOf(identityKeygen(new Uint8Array(32).fill(2)).publicKey);

let responder: Responder;
let server: RunningServer;
let origin: string;
let sign: Signing = {};
const requests = { GET: 0, POST: 0 };

beforeAll(async () => {
  responder = createResponder({ fieldKey: FIELD_KEY, machines: { [SLUG]: 'm-1', plain: 'm-2' } });
  const signed = signing(
    (request) => responder.fetch(request),
    () => sign,
    Math.floor(Date.now() / 1000),
  );
  server = await serve(
    (request) => {
      if (request.method === 'GET') requests.GET++;
      if (request.method === 'POST') requests.POST++;
      return request.url.includes('/plain/') ? responder.fetch(request) : signed(request);
    },
    { port: 0 },
  );
  origin = server.url;
});

afterAll(async () => {
  await server.close();
  responder.close();
});

beforeEach(() => {
  sign = {};
  requests.GET = 0;
  requests.POST = 0;
});

function jsonOf(run: { stdout: string[] }): Record<string, unknown> {
  return JSON.parse(run.stdout[0] as string) as Record<string, unknown>;
}

async function cli(argv: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const run = { code: -1, stdout: [] as string[], stderr: [] as string[] };
  const io: CliIo = {
    stdout: (line) => run.stdout.push(line),
    stderr: (line) => run.stderr.push(line),
    env: {},
    stopSignal: () => Promise.resolve('SIGTERM'),
  };
  run.code = await runCli(argv, io);
  return run;
}

describe('zeq-keyex handshake --identity', () => {
  test('--json adds the identity and serial', async () => {
    const run = await cli(['handshake', origin, SLUG, '--identity', TEST_IDENTITY_PIN, '--json']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout[0] as string) as Record<string, unknown>;
    expect(out).toMatchObject({ ok: true, authenticated: true, identity: TEST_IDENTITY_PIN });
    expect(Number.isSafeInteger(out['serial'])).toBe(true);
  });

  test('the plain output names the identity and serial', async () => {
    const run = await cli(['handshake', origin, SLUG, '--identity', TEST_IDENTITY_PIN]);
    expect(run.code).toBe(0);
    expect(run.stdout.some((line) => line.startsWith(`identity ${TEST_IDENTITY_PIN}`))).toBe(true);
  });

  test.each([
    ['another identity', SLUG, STRANGER_PIN, 'identity_mismatch'],
    ['no attestation', 'plain', TEST_IDENTITY_PIN, 'attestation_required'],
  ])('%s: exit 1 with its code, nothing posted', async (_, slug, pin, code) => {
    const run = await cli(['handshake', origin, slug, '--identity', pin, '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout[0] as string)).toMatchObject({ ok: false, code });
    expect(requests.POST).toBe(0);
  });

  test.each([
    ['--identity with --pin', ['--identity', TEST_IDENTITY_PIN, '--pin', TEST_IDENTITY_PIN]],
    [
      '--identity with --insecure-unpinned',
      ['--identity', TEST_IDENTITY_PIN, '--insecure-unpinned'],
    ],
    ['a malformed --identity', ['--identity', 'abc']],
  ])('usage error: %s (exit 2, nothing sent)', async (_, extra) => {
    const run = await cli(['handshake', origin, SLUG, ...extra]);
    expect(run.code).toBe(2);
    expect(requests).toEqual({ GET: 0, POST: 0 });
  });
});

describe('zeq-keyex fingerprint --json', () => {
  test('shows the attestation when the document has one', async () => {
    const run = await cli(['fingerprint', origin, SLUG, '--json']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout[0] as string) as Record<string, unknown>;
    const attestation = out['attestation'] as Record<string, unknown>;
    expect(attestation).toMatchObject({ identity: TEST_IDENTITY_PIN, verified: true });
    expect((attestation['not_after'] as number) - (attestation['not_before'] as number)).toBe(
      7 * 24 * 3600,
    );
    expect(attestation['serial']).toBe(attestation['not_before']);
  });

  test('an attestation signed for another slug is shown as not verified', async () => {
    sign = { slug: 'edge-02' };
    const out = jsonOf(await cli(['fingerprint', origin, SLUG, '--json']));
    expect(out['attestation']).toMatchObject({ identity: TEST_IDENTITY_PIN, verified: false });
  });

  test('no attestation field without one; the plain output is the fingerprint alone', async () => {
    const json = jsonOf(await cli(['fingerprint', origin, 'plain', '--json']));
    expect(json).not.toHaveProperty('attestation');
    const plain = await cli(['fingerprint', origin, SLUG]);
    expect(plain.stdout).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
  });
});

describe('ssl initiate --identity', () => {
  test('the admin client sends expected_identity in place of expected_fingerprint', async () => {
    const bodies: unknown[] = [];
    const client = createModeBAdminClient({
      origin: 'https://edge.test',
      token: 'a'.repeat(32),
      fetch: async (request: Request) => {
        bodies.push(await request.json());
        return new Response(JSON.stringify({ error: 'identity_mismatch', message: 'no' }), {
          status: 409,
          headers: { 'content-type': 'application/json' },
        });
      },
    });
    const request = {
      localMachine: SLUG,
      peerOrigin: 'https://peer.test',
      peerMachine: 'core-01',
      expectedIdentity: TEST_IDENTITY_PIN.toUpperCase(),
    };
    await expectCodeAsync(client.initiate(request), 'identity_mismatch');
    expect(bodies).toEqual([
      {
        local_machine: SLUG,
        peer_origin: 'https://peer.test',
        peer_machine: 'core-01',
        expected_identity: TEST_IDENTITY_PIN,
      },
    ]);
    await expect(
      client.initiate({ ...request, expectedFingerprint: TEST_IDENTITY_PIN }),
    ).rejects.toThrow(TypeError);
    const neither = { ...request } as Partial<typeof request>;
    delete neither.expectedIdentity;
    await expect(client.initiate(neither as typeof request)).rejects.toThrow(TypeError);
  });

  test('--pin and --identity together are a usage error', async () => {
    const run = await cli([
      'ssl',
      'initiate',
      origin,
      '--token',
      'a'.repeat(32),
      '--local',
      SLUG,
      '--peer-origin',
      'https://peer.test',
      '--peer',
      'core-01',
      '--pin',
      TEST_IDENTITY_PIN,
      '--identity',
      TEST_IDENTITY_PIN,
    ]);
    expect(run.code).toBe(2);
    expect(requests).toEqual({ GET: 0, POST: 0 });
  });
});
