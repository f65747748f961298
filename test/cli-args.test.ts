/**
 * The argument layer every `zeq-keyex` command shares (src/node/cli/args.ts), on a command group of
 * its own: help, usage errors (exit 2, a hint to the right help, nothing on stdout), the one
 * failure reporter (exit 1; one JSON line with `--json`, else stderr), and the argument checks.
 */
import { describe, expect, test } from 'vitest';
import { ZeqKeyExError } from '../src/core/errors.js';
import {
  type CliCommand,
  type CliGroup,
  type CliIo,
  EXIT,
  JSON_OPTION,
  UsageError,
  adminTokenArg,
  machineIdArg,
  originArg,
  pinArg,
  reportFailure,
  requiredOption,
  runCommandLine,
  slugArg,
  stringListOption,
  stringOption,
} from '../src/node/cli/args.js';

interface Captured {
  io: CliIo;
  out: string[];
  err: string[];
}

function capture(): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (line) => out.push(line),
      stderr: (line) => err.push(line),
      env: {},
      stopSignal: () => new Promise(() => undefined),
    },
  };
}

const FP_A = 'ab'.repeat(32);
const FP_B = 'cd'.repeat(32);

/** `tool act [X] [--throw KIND] [--json]`: throws what it is told to, else prints its argument. */
const act: CliCommand = {
  path: 'tool act',
  help: 'Usage: act',
  options: {
    throw: { type: 'string' },
    item: { type: 'string', multiple: true, default: [] },
    json: JSON_OPTION,
  },
  maxPositionals: 1,
  run(args, io) {
    switch (stringOption(args, 'throw')) {
      case 'usage':
        throw new UsageError('bad');
      case 'sdk':
        throw new ZeqKeyExError('fingerprint_mismatch', 'no', {
          status: 409,
          responseCode: 'fingerprint_mismatch',
          expectedFingerprint: FP_A,
          actualFingerprint: FP_B,
        });
      case 'other':
        throw new Error('secret detail');
      default:
        io.stdout(`${args.positionals[0] ?? '-'} ${stringListOption(args, 'item').join(',')}`);
        return EXIT.ok;
    }
  },
};

const TOOL: CliGroup = {
  path: '',
  help: 'Usage: zeq-keyex',
  commands: { tool: { path: 'tool', help: 'Usage: tool', commands: { act } } },
};

async function run(argv: string[]): Promise<Captured & { code: number }> {
  const cap = capture();
  return { ...cap, code: await runCommandLine(TOOL, argv, cap.io) };
}

describe('runCommandLine', () => {
  test.each([[['--help']], [['-h']], [['help']]])('%j prints the top help', async (argv) => {
    const r = await run(argv);
    expect([r.code, r.out, r.err]).toEqual([0, ['Usage: zeq-keyex'], []]);
  });

  test('no command at all is a usage error: exit 2, the usage on stderr', async () => {
    const r = await run([]);
    expect([r.code, r.out, r.err]).toEqual([EXIT.usage, [], ['Usage: zeq-keyex']]);
    const group = await run(['tool']);
    expect([group.code, group.out, group.err]).toEqual([EXIT.usage, [], ['Usage: tool']]);
  });

  test('a group and a command print their own help; --help wins over a missing argument', async () => {
    expect((await run(['tool', '--help'])).out).toEqual(['Usage: tool']);
    const r = await run(['tool', 'act', '--help', '--throw', 'usage']);
    expect([r.code, r.out, r.err]).toEqual([0, ['Usage: act'], []]);
  });

  test('runs the command with its parsed arguments', async () => {
    const r = await run(['tool', 'act', 'x', '--item', 'a', '--item', 'b']);
    expect([r.code, r.out, r.err]).toEqual([0, ['x a,b'], []]);
  });

  test.each([
    ['an unknown command', ['nope'], "Run 'zeq-keyex --help'."],
    ['an unknown command in a group', ['tool', 'nope'], "Run 'zeq-keyex tool --help'."],
    ['an inherited property name', ['tool', 'constructor'], "Run 'zeq-keyex tool --help'."],
    ['an unknown option', ['tool', 'act', '--nope'], "Run 'zeq-keyex tool act --help'."],
    ['an option without its value', ['tool', 'act', '--throw'], "Run 'zeq-keyex tool act --help'."],
    ['one positional too many', ['tool', 'act', 'x', 'y'], "Run 'zeq-keyex tool act --help'."],
    [
      'a usage error from the command, even with --json',
      ['tool', 'act', '--throw', 'usage', '--json'],
      "Run 'zeq-keyex tool act --help'.",
    ],
  ])('%s: exit 2, a hint to the right help, nothing on stdout', async (_name, argv, hint) => {
    const r = await run(argv);
    expect(r.code).toBe(EXIT.usage);
    expect(r.out).toEqual([]);
    expect(r.err.join('\n')).toMatch(/^usage error: /);
    expect(r.err.join('\n').endsWith(hint)).toBe(true);
  });

  test('a ZeqKeyExError: exit 1, its code (stdout with --json, stderr without)', async () => {
    const json = await run(['tool', 'act', '--throw', 'sdk', '--json']);
    expect(json.code).toBe(EXIT.failed);
    expect(json.err).toEqual([]);
    expect(JSON.parse(json.out[0] as string)).toMatchObject({
      ok: false,
      code: 'fingerprint_mismatch',
    });
    const text = await run(['tool', 'act', '--throw', 'sdk']);
    expect(text.code).toBe(EXIT.failed);
    expect(text.out).toEqual([]);
    expect(text.err[0]).toMatch(/^error: fingerprint_mismatch: /);
  });

  test('anything else: exit 1, code internal, no detail', async () => {
    const json = await run(['tool', 'act', '--throw', 'other', '--json']);
    expect(json.code).toBe(EXIT.failed);
    expect(JSON.parse(json.out[0] as string)).toMatchObject({ ok: false, code: 'internal' });
    const text = await run(['tool', 'act', '--throw', 'other']);
    expect(text.code).toBe(EXIT.failed);
    expect(text.err[0]).toMatch(/^error: internal: /);
    expect([...json.out, ...json.err, ...text.out, ...text.err].join('\n')).not.toContain(
      'secret detail',
    );
  });
});

describe('reportFailure', () => {
  const mismatch = new ZeqKeyExError('fingerprint_mismatch', 'no', {
    status: 409,
    responseCode: 'fingerprint_mismatch',
    expectedFingerprint: FP_A,
    actualFingerprint: FP_B,
  });

  test('--json: one line with ok, code, message and every field the error has, in that order', () => {
    const cap = capture();
    expect(reportFailure(cap.io, true, mismatch)).toBe(EXIT.failed);
    expect(cap.err).toEqual([]);
    expect(cap.out).toHaveLength(1);
    const line = JSON.parse(cap.out[0] as string) as Record<string, unknown>;
    expect(Object.keys(line)).toEqual([
      'ok',
      'code',
      'message',
      'status',
      'response_code',
      'expected_fingerprint',
      'actual_fingerprint',
    ]);
    expect(line).toEqual({
      ok: false,
      code: 'fingerprint_mismatch',
      message: 'no',
      status: 409,
      response_code: 'fingerprint_mismatch',
      expected_fingerprint: FP_A,
      actual_fingerprint: FP_B,
    });
  });

  test('--json: fields an error does not have are absent', () => {
    const cap = capture();
    reportFailure(cap.io, true, new ZeqKeyExError('network_error'));
    expect(Object.keys(JSON.parse(cap.out[0] as string) as object)).toEqual([
      'ok',
      'code',
      'message',
    ]);
  });

  test('text: the code and message, what --json adds (status, responder code), then both fingerprints of a mismatch, on stderr', () => {
    const cap = capture();
    expect(reportFailure(cap.io, false, mismatch)).toBe(EXIT.failed);
    expect(cap.out).toEqual([]);
    expect(cap.err).toHaveLength(5);
    expect(cap.err[0]).toMatch(/^error: fingerprint_mismatch: /);
    expect(cap.err[1]).toContain('409');
    expect(cap.err[2]).toContain('fingerprint_mismatch');
    expect(cap.err[3]).toContain(FP_A);
    expect(cap.err[4]).toContain(FP_B);
  });
});

describe('argument checks', () => {
  test('originArg takes the one origin grammar and returns the argument as given', () => {
    for (const origin of [
      'https://edge.example',
      'http://127.0.0.1:8787/',
      'https://edge.example/zeq',
    ])
      expect(originArg(origin, 'ORIGIN')).toBe(origin);
    for (const bad of [
      undefined,
      '',
      'edge.example',
      'ftp://edge.example',
      'https://u:p@edge.example',
      'https://edge.example/?q=1',
      'https://edge.example/#x',
    ]) {
      expect(() => originArg(bad, 'ORIGIN')).toThrow(UsageError);
    }
  });

  test('slugArg, machineIdArg: spec §1 grammars, missing is a usage error', () => {
    expect(slugArg('edge-01', 'SLUG')).toBe('edge-01');
    expect(machineIdArg('machine:edge-01', '--peer-id')).toBe('machine:edge-01');
    for (const bad of [undefined, '', '-edge', 'a/b', `a${'b'.repeat(64)}`])
      expect(() => slugArg(bad, 'SLUG')).toThrow(UsageError);
    for (const bad of [undefined, '', 'a b', `a${'b'.repeat(128)}`])
      expect(() => machineIdArg(bad, '--peer-id')).toThrow(UsageError);
  });

  test('pinArg canonicalises a human pin; anything else is a usage error', () => {
    expect(pinArg(FP_A.toUpperCase(), '--pin')).toBe(FP_A);
    for (const bad of ['', 'abc', FP_A.slice(1), `${FP_A}a`, 'zz'.repeat(32)])
      expect(() => pinArg(bad, '--pin')).toThrow(UsageError);
  });

  test('adminTokenArg refuses a short or malformed token without echoing it', () => {
    const good = 'a-good-admin-token-123';
    expect(adminTokenArg(good, 'the admin token')).toBe(good);
    for (const bad of ['short', 'two words here, long enough']) {
      expect(() => adminTokenArg(bad, 'the admin token')).toThrow(UsageError);
      try {
        adminTokenArg(bad, 'the admin token');
      } catch (error) {
        expect((error as Error).message).not.toContain(bad);
      }
    }
  });

  test('option readers: absent options read as undefined or empty; requiredOption insists', () => {
    const args = { values: { a: 'x', list: ['p', 'q'], flag: true }, positionals: [] };
    expect([
      stringOption(args, 'a'),
      stringOption(args, 'flag'),
      stringOption(args, 'none'),
    ]).toEqual(['x', undefined, undefined]);
    expect([stringListOption(args, 'list'), stringListOption(args, 'none')]).toEqual([
      ['p', 'q'],
      [],
    ]);
    expect(requiredOption(args, 'a')).toBe('x');
    expect(() => requiredOption(args, 'none')).toThrow(UsageError);
  });
});
