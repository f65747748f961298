/**
 * The CLI's usage errors a new user meets first: no command at all (exit 2, the usage on stderr),
 * a group without its command, and a missing or malformed SLUG said in words, not as a pattern.
 */
import { describe, expect, test } from 'vitest';
import { type CliIo, runCli } from '../src/node/cli/index.js';

interface Run {
  code: number;
  out: string[];
  err: string[];
}

async function cli(argv: string[]): Promise<Run> {
  const run: Run = { code: -1, out: [], err: [] };
  const io: CliIo = {
    stdout: (line) => run.out.push(line),
    stderr: (line) => run.err.push(line),
    env: {},
    stopSignal: () => Promise.resolve('SIGTERM'),
  };
  run.code = await runCli(argv, io);
  return run;
}

describe('usage errors', () => {
  test('no arguments: exit 2, the usage on stderr, nothing on stdout', async () => {
    const run = await cli([]);
    expect(run.code).toBe(2);
    expect(run.out).toEqual([]);
    expect(run.err.join('\n')).toContain('Usage:');
  });

  test('a group without its command (ssl): exit 2', async () => {
    const run = await cli(['ssl']);
    expect(run.code).toBe(2);
    expect(run.out).toEqual([]);
  });

  test.each([
    [['fingerprint', 'http://127.0.0.1:9']],
    [['handshake', 'http://127.0.0.1:9']],
    [['handshake', 'http://127.0.0.1:9', '']],
  ])('%j: "missing SLUG"', async (argv) => {
    const run = await cli(argv);
    expect(run.code).toBe(2);
    expect(run.err[0]).toMatch(/^usage error: missing SLUG\n/);
  });

  test('a malformed SLUG is described in words and quoted, not given as a pattern', async () => {
    const run = await cli(['fingerprint', 'http://127.0.0.1:9', 'bad slug']);
    expect(run.code).toBe(2);
    expect(run.err[0]).toContain('"bad slug"');
    expect(run.err[0]).not.toContain('^[');
  });
});
