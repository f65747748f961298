/**
 * Mode-B seeding with the built `zeq-keyex` executable as real processes (test/helpers/cli-process.ts):
 * two `serve` processes on loopback (admin token files, plain http and a private peer allowed for
 * 127.0.0.1, seeds in
 * `--store`), driven by `zeq-keyex ssl initiate` and `ssl respond --json`; equal commitments and
 * equal sealed seeds on disk; a wrong pin, a wrong token, no admin token, a refused http peer and
 * an unreachable peer; `--replace` over a seed_conflict (in process); usage errors (exit 2), among
 * them a token bound for plain http to a host neither loopback nor named; and help.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ALG } from '../src/core/constants.js';
import { runCli } from '../src/node/cli/index.js';
import { type RunningServer, serve } from '../src/node/server.js';
import { createBearerTokenAuthorizer } from '../src/responder/admin.js';
import { createResponder } from '../src/responder/responder.js';
import { base64Decode } from '../src/core/encoding.js';
import { type StoredSeed, unsealStoredSeed } from '../src/responder/seed-store.js';
import { type Exit, cliEnv, jsonLine, useCliProcesses } from './helpers/cli-process.js';
import { FIELD_KEY, OTHER_FIELD_KEY, fetchKeyDoc } from './helpers/responder.js';
import { toHex } from './helpers/vectors.js';

const TOKEN_A = 'cli-token-A-aaaaaaaaaaaaaaaa';
const TOKEN_B = 'cli-token-B-bbbbbbbbbbbbbbbb';

const { run, startServe, fingerprintOf, scratch, tokenFile } = useCliProcesses('modeb-cli');

async function storedSeeds(dir: string): Promise<StoredSeed[]> {
  let names: string[];
  try {
    names = await readdir(join(dir, 'mode-b-seeds'));
  } catch {
    return [];
  }
  return Promise.all(
    names.map(
      async (name) =>
        JSON.parse(await readFile(join(dir, 'mode-b-seeds', name), 'utf8')) as StoredSeed,
    ),
  );
}

describe('two serve processes on loopback', () => {
  test('ssl initiate on A, ssl respond on B: equal commitments; sealed seeds on disk are equal; refusals', async () => {
    const storeA = join(scratch(), 'a');
    const storeB = join(scratch(), 'b');
    const [a, b] = await Promise.all([
      startServe(
        [
          '--machine',
          'edge-01=machine:edge-01',
          '--store',
          storeA,
          '--admin-token-file',
          await tokenFile('a.token', TOKEN_A),
          '--allow-http-peer',
          '127.0.0.1',
          '--allow-private-peer',
          '127.0.0.1',
        ],
        FIELD_KEY,
      ),
      startServe(
        [
          '--machine',
          'core-01=machine:core-01',
          '--store',
          storeB,
          '--admin-token-file',
          await tokenFile('b.token', TOKEN_B),
          '--allow-http-peer',
          '127.0.0.1',
          '--allow-private-peer',
          '127.0.0.1',
        ],
        OTHER_FIELD_KEY,
      ),
    ]);
    const pin = await fingerprintOf(b.origin, 'core-01');

    const initiate = await run([
      'ssl',
      'initiate',
      a.origin,
      '--token',
      TOKEN_A,
      '--local',
      'edge-01',
      '--peer-origin',
      b.origin,
      '--peer',
      'core-01',
      '--pin',
      pin,
      '--json',
    ]);
    expect(initiate.code, initiate.stdout + initiate.stderr).toBe(0);
    const l = jsonLine(initiate);
    expect(Object.keys(l).sort()).toEqual([
      'alg',
      'cipher_text',
      'local_machine_id',
      'ok',
      'peer_fingerprint',
      'peer_machine_id',
      'seed_commitment',
    ]);
    expect(l).toMatchObject({
      ok: true,
      alg: ALG,
      local_machine_id: 'machine:edge-01',
      peer_machine_id: 'machine:core-01',
      peer_fingerprint: pin,
    });
    expect(base64Decode(l['cipher_text'], 1088)).toHaveLength(1088);

    // The token may come from the environment instead of the command line.
    const respond = await run(
      [
        'ssl',
        'respond',
        b.origin,
        '--local',
        'core-01',
        '--peer-id',
        l['local_machine_id'] as string,
        '--cipher-text',
        l['cipher_text'] as string,
        '--json',
      ],
      cliEnv({ ZEQ_ADMIN_TOKEN: TOKEN_B }),
    );
    expect(respond.code, respond.stderr).toBe(0);
    const p = jsonLine(respond);
    expect(Object.keys(p).sort()).toEqual([
      'alg',
      'fingerprint',
      'local_machine_id',
      'ok',
      'seed_commitment',
    ]);
    expect(p).toMatchObject({
      ok: true,
      alg: ALG,
      local_machine_id: 'machine:core-01',
      fingerprint: pin,
      seed_commitment: l['seed_commitment'],
    });

    const [sealedA] = await storedSeeds(storeA);
    const [sealedB] = await storedSeeds(storeB);
    expect(sealedA).toMatchObject({
      role: 'initiator',
      localMachineId: 'machine:edge-01',
      peerMachineId: 'machine:core-01',
      seedCommitment: l['seed_commitment'],
    });
    expect(sealedB).toMatchObject({
      role: 'responder',
      localMachineId: 'machine:core-01',
      peerMachineId: 'machine:edge-01',
      seedCommitment: l['seed_commitment'],
    });
    const seed = toHex(unsealStoredSeed(FIELD_KEY, sealedA as StoredSeed));
    expect(toHex(unsealStoredSeed(OTHER_FIELD_KEY, sealedB as StoredSeed))).toBe(seed);

    // A wrong pin: exit 1, both fingerprints, nothing new stored.
    const wrong = 'ab'.repeat(32);
    const mismatch = await run([
      'ssl',
      'initiate',
      a.origin,
      '--token',
      TOKEN_A,
      '--local',
      'edge-01',
      '--peer-origin',
      b.origin,
      '--peer',
      'core-01',
      '--pin',
      wrong,
      '--json',
    ]);
    expect(mismatch.code).toBe(1);
    expect(jsonLine(mismatch)).toMatchObject({
      ok: false,
      code: 'fingerprint_mismatch',
      expected_fingerprint: wrong,
      actual_fingerprint: pin,
    });
    expect(await storedSeeds(storeA)).toEqual([sealedA]);

    // A wrong token: 403 from A.
    const forbidden = await run([
      'ssl',
      'respond',
      a.origin,
      '--token',
      TOKEN_B,
      '--local',
      'edge-01',
      '--peer-id',
      'm',
      '--cipher-text',
      l['cipher_text'] as string,
      '--json',
    ]);
    expect(forbidden.code).toBe(1);
    expect(jsonLine(forbidden)).toMatchObject({
      ok: false,
      code: 'http_error',
      status: 403,
      response_code: 'forbidden',
    });

    // Without --json: readable lines, the commitment among them, exit 0.
    const human = await run([
      'ssl',
      'respond',
      b.origin,
      '--token',
      TOKEN_B,
      '--local',
      'core-01',
      '--peer-id',
      'machine:edge-01',
      '--cipher-text',
      l['cipher_text'] as string,
    ]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(l['seed_commitment'] as string);

    // The seed never reached any output of any process.
    const everything =
      [initiate, respond, mismatch, forbidden, human].map((e) => e.stdout + e.stderr).join('\n') +
      JSON.stringify([a, b].map((server) => [server.stdout(), server.stderr()]));
    expect(everything).not.toContain(seed);
    expect(everything).not.toContain(Buffer.from(seed, 'hex').toString('base64'));
    // Nor did the admin tokens reach the servers' logs.
    expect(
      JSON.stringify([a, b].map((server) => [server.stdout(), server.stderr()])),
    ).not.toContain(TOKEN_A);
  });

  test('refusals: no admin token file (403), a plain http peer not allowed (400), an unreachable peer (502)', async () => {
    const [closed, strict, open] = await Promise.all([
      startServe(['--machine', 'edge-01=machine:edge-01'], FIELD_KEY),
      startServe(
        [
          '--machine',
          'edge-01=machine:edge-01',
          '--admin-token-file',
          await tokenFile('s.token', TOKEN_A),
        ],
        FIELD_KEY,
      ),
      startServe(
        [
          '--machine',
          'edge-01=machine:edge-01',
          '--admin-token-file',
          await tokenFile('o.token', TOKEN_A),
          '--allow-http-peer',
          '127.0.0.1',
          '--allow-private-peer',
          '127.0.0.1',
        ],
        FIELD_KEY,
      ),
    ]);
    const pin = 'ab'.repeat(32);
    const initiate = (origin: string, peerOrigin: string): Promise<Exit> =>
      run([
        'ssl',
        'initiate',
        origin,
        '--token',
        TOKEN_A,
        '--local',
        'edge-01',
        '--peer-origin',
        peerOrigin,
        '--peer',
        'core-01',
        '--pin',
        pin,
        '--json',
      ]);
    const [noAdmin, httpRefused, unreachable, invalid] = await Promise.all([
      initiate(closed.origin, open.origin),
      initiate(strict.origin, open.origin),
      initiate(open.origin, 'http://127.0.0.1:1'),
      // The peer answers, but its 404 for a machine it does not serve is not a key document.
      initiate(open.origin, strict.origin),
    ]);
    for (const exit of [noAdmin, httpRefused, unreachable, invalid])
      expect(exit.code, exit.stdout + exit.stderr).toBe(1);
    expect(jsonLine(noAdmin)).toMatchObject({
      ok: false,
      code: 'http_error',
      status: 403,
      response_code: 'forbidden',
    });
    expect(jsonLine(httpRefused)).toMatchObject({
      ok: false,
      code: 'http_error',
      status: 400,
      response_code: 'invalid_request',
    });
    expect(jsonLine(unreachable)).toMatchObject({
      ok: false,
      code: 'http_error',
      status: 502,
      response_code: 'peer_unreachable',
    });
    expect(jsonLine(invalid)).toMatchObject({
      ok: false,
      code: 'http_error',
      status: 502,
      response_code: 'peer_invalid_response',
    });
  });
});

describe('seed_conflict through the CLI (in process, loopback servers)', () => {
  test("a pinned peer declaring another's machine_id: exit 1 with both fingerprints; --replace re-seeds", async () => {
    const servers: RunningServer[] = [];
    try {
      const a = createResponder({
        fieldKey: FIELD_KEY,
        machines: { 'edge-01': 'machine:edge-01' },
        admin: createBearerTokenAuthorizer(TOKEN_A),
        modeB: { allowHttpHosts: ['127.0.0.1'], allowPrivatePeerHosts: ['127.0.0.1'] },
      });
      const b = createResponder({
        fieldKey: OTHER_FIELD_KEY,
        machines: { 'core-01': 'machine:core-01' },
      });
      const c = createResponder({
        fieldKey: OTHER_FIELD_KEY,
        machines: { evil: 'machine:core-01' },
      });
      for (const responder of [a, b, c])
        servers.push(await serve(responder.fetch, { host: '127.0.0.1', port: 0 }));
      const [sa, sb, sc] = servers as [RunningServer, RunningServer, RunningServer];
      const pinB = (await fetchKeyDoc(b.fetch, 'core-01')).fingerprint;
      const pinC = (await fetchKeyDoc(c.fetch, 'evil')).fingerprint;
      const initiate = async (
        peerOrigin: string,
        peer: string,
        pin: string,
        extra: string[] = [],
      ): Promise<{ code: number; out: string[] }> => {
        const out: string[] = [];
        const code = await runCli(
          [
            'ssl',
            'initiate',
            sa.url,
            '--token',
            TOKEN_A,
            '--local',
            'edge-01',
            '--peer-origin',
            peerOrigin,
            '--peer',
            peer,
            '--pin',
            pin,
            '--json',
            ...extra,
          ],
          {
            stdout: (line) => out.push(line),
            stderr: () => undefined,
            env: {},
            stopSignal: () => new Promise(() => undefined),
          },
        );
        return { code, out };
      };
      expect((await initiate(sb.url, 'core-01', pinB)).code).toBe(0);
      const conflict = await initiate(sc.url, 'evil', pinC);
      expect(conflict.code).toBe(1);
      expect(JSON.parse(conflict.out[0] as string)).toMatchObject({
        ok: false,
        code: 'http_error',
        status: 409,
        response_code: 'seed_conflict',
        expected_fingerprint: pinB,
        actual_fingerprint: pinC,
      });
      const replaced = await initiate(sc.url, 'evil', pinC, ['--replace']);
      expect(replaced.code).toBe(0);
      expect(JSON.parse(replaced.out[0] as string)).toMatchObject({
        ok: true,
        peer_fingerprint: pinC,
      });
    } finally {
      await Promise.all(servers.map((server) => server.close()));
    }
  });
});

describe('usage', () => {
  const ct = Buffer.alloc(1088).toString('base64');
  const pin = 'ab'.repeat(32);

  test('one usage error through the built executable: exit 2, nothing on stdout', async () => {
    const exit = await run([
      'ssl',
      'initiate',
      'https://x',
      '--token',
      TOKEN_A,
      '--local',
      'a',
      '--peer-origin',
      'https://p',
      '--peer',
      'b',
      '--pin',
      'abc',
    ]);
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).not.toBe('');
  });

  test.each([
    [
      'no ORIGIN',
      [
        'ssl',
        'initiate',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-origin',
        'https://p',
        '--peer',
        'b',
        '--pin',
        pin,
      ],
    ],
    [
      'no token',
      [
        'ssl',
        'initiate',
        'https://x',
        '--local',
        'a',
        '--peer-origin',
        'https://p',
        '--peer',
        'b',
        '--pin',
        pin,
      ],
    ],
    [
      'a short token',
      [
        'ssl',
        'initiate',
        'https://x',
        '--token',
        'short',
        '--local',
        'a',
        '--peer-origin',
        'https://p',
        '--peer',
        'b',
        '--pin',
        pin,
      ],
    ],
    [
      'no --pin',
      [
        'ssl',
        'initiate',
        'https://x',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-origin',
        'https://p',
        '--peer',
        'b',
      ],
    ],
    [
      'a malformed --pin',
      [
        'ssl',
        'initiate',
        'https://x',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-origin',
        'https://p',
        '--peer',
        'b',
        '--pin',
        'abc',
      ],
    ],
    [
      'a bad --local',
      [
        'ssl',
        'initiate',
        'https://x',
        '--token',
        TOKEN_A,
        '--local',
        'a/b',
        '--peer-origin',
        'https://p',
        '--peer',
        'b',
        '--pin',
        pin,
      ],
    ],
    [
      'a bad --peer-origin',
      [
        'ssl',
        'initiate',
        'https://x',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-origin',
        'p.example',
        '--peer',
        'b',
        '--pin',
        pin,
      ],
    ],
    // ORIGIN and --peer-origin follow the one origin grammar: no credentials, query or fragment.
    [
      'credentials in ORIGIN',
      [
        'ssl',
        'initiate',
        'https://u:p@x',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-origin',
        'https://p',
        '--peer',
        'b',
        '--pin',
        pin,
      ],
    ],
    [
      'a query in ORIGIN',
      [
        'ssl',
        'respond',
        'https://x/?q=1',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-id',
        'm',
        '--cipher-text',
        ct,
      ],
    ],
    [
      'a query in --peer-origin',
      [
        'ssl',
        'initiate',
        'https://x',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-origin',
        'https://p/?q=1',
        '--peer',
        'b',
        '--pin',
        pin,
        '--json',
      ],
    ],
    [
      'a fragment in --peer-origin',
      [
        'ssl',
        'initiate',
        'https://x',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-origin',
        'https://p/#x',
        '--peer',
        'b',
        '--pin',
        pin,
      ],
    ],
    [
      'a non-http ORIGIN',
      [
        'ssl',
        'respond',
        'ftp://x',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-id',
        'm',
        '--cipher-text',
        ct,
      ],
    ],
    [
      'an extra argument',
      [
        'ssl',
        'respond',
        'https://x',
        'extra',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-id',
        'm',
        '--cipher-text',
        ct,
      ],
    ],
    [
      'an unknown option',
      [
        'ssl',
        'initiate',
        'https://x',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-origin',
        'https://p',
        '--peer',
        'b',
        '--pin',
        pin,
        '--nope',
      ],
    ],
    [
      'a bad --peer-id',
      [
        'ssl',
        'respond',
        'https://x',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-id',
        'a b',
        '--cipher-text',
        ct,
      ],
    ],
    [
      'a short --cipher-text',
      [
        'ssl',
        'respond',
        'https://x',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-id',
        'm',
        '--cipher-text',
        'AAAA',
      ],
    ],
    [
      'no --cipher-text',
      ['ssl', 'respond', 'https://x', '--token', TOKEN_A, '--local', 'a', '--peer-id', 'm'],
    ],
    ['an unknown ssl command', ['ssl', 'rotate', 'https://x']],
    [
      'initiate: a token over plain http to a host neither loopback nor named',
      [
        'ssl',
        'initiate',
        'http://edge.test:8787',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-origin',
        'https://p',
        '--peer',
        'b',
        '--pin',
        pin,
      ],
    ],
    [
      'respond: a token over plain http to a host named for another',
      [
        'ssl',
        'respond',
        'http://10.0.0.1',
        '--allow-insecure-host',
        '10.0.0.2',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-id',
        'm',
        '--cipher-text',
        ct,
      ],
    ],
    [
      'an --allow-insecure-host with a port',
      [
        'ssl',
        'respond',
        'https://x',
        '--allow-insecure-host',
        'x:80',
        '--token',
        TOKEN_A,
        '--local',
        'a',
        '--peer-id',
        'm',
        '--cipher-text',
        ct,
      ],
    ],
  ])('%s is a usage error (exit 2, nothing on stdout)', async (_, args) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli([...args], {
      stdout: (line) => out.push(line),
      stderr: (line) => err.push(line),
      env: {},
      stopSignal: () => new Promise(() => undefined),
    });
    expect(code, err.join('\n')).toBe(2);
    expect(out).toEqual([]);
    expect(err.length).toBeGreaterThan(0);
  });

  test('serve refuses a missing or malformed token file and a host with a port', async () => {
    const withKey = cliEnv({ ZEQ_FIELD_KEY: FIELD_KEY });
    expect(
      (
        await run(
          ['serve', '--port', '0', '--admin-token-file', join(scratch(), 'missing.token')],
          withKey,
        )
      ).code,
    ).toBe(2);
    expect(
      (
        await run(
          [
            'serve',
            '--port',
            '0',
            '--admin-token-file',
            await tokenFile('bad.token', 'two words here, long enough'),
          ],
          withKey,
        )
      ).code,
    ).toBe(2);
    expect(
      (await run(['serve', '--port', '0', '--allow-http-peer', '127.0.0.1:80'], withKey)).code,
    ).toBe(2);
    expect(
      (await run(['serve', '--port', '0', '--allow-private-peer', '[::1]:80'], withKey)).code,
    ).toBe(2);
  });

  test('help for ssl, ssl initiate, ssl respond and serve', async () => {
    for (const [args, usage] of [
      [['ssl', '--help'], 'zeq-keyex ssl (initiate | respond)'],
      [['ssl', 'initiate', '--help'], 'zeq-keyex ssl initiate ORIGIN'],
      [['ssl', 'respond', '--help'], 'zeq-keyex ssl respond ORIGIN'],
      [['serve', '--help'], '--admin-token-file FILE'],
      [['--help'], 'zeq-keyex ssl'],
    ] as const) {
      const exit = await run([...args]);
      expect(exit.code).toBe(0);
      expect(exit.stdout).toContain(usage);
    }
  });
});
