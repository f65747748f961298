/**
 * `zeq-keyex serve`'s admission flags, in process: `--trust-proxy` (an IP address, repeatable)
 * and `--max-in-flight-decapsulations`; malformed values are usage errors (exit 2) before anything
 * listens, and the help names them. A handshake flood from one address is throttled by default.
 */
import { describe, expect, test } from 'vitest';
import { type CliIo, runCli } from '../src/node/cli/index.js';
import { FIELD_KEY } from './helpers/responder.js';

interface Run {
  code: number;
  stdout: string[];
  stderr: string[];
}

/** Runs the CLI; `whileServing` runs once it listens, before the stop signal. */
async function cli(argv: string[], whileServing?: (url: string) => Promise<void>): Promise<Run> {
  const run: Run = { code: -1, stdout: [], stderr: [] };
  let listening: (url: string) => void = () => undefined;
  const ready = new Promise<string>((resolve) => {
    listening = resolve;
  });
  const io: CliIo = {
    stdout: (line) => {
      run.stdout.push(line);
      listening(line.replace(/^listening on /, ''));
    },
    stderr: (line) => run.stderr.push(line),
    env: { ZEQ_FIELD_KEY: FIELD_KEY },
    stopSignal: async () => {
      if (whileServing !== undefined) await whileServing(await ready);
      return 'SIGTERM';
    },
  };
  run.code = await runCli(argv, io);
  return run;
}

const MACHINE = ['--machine', 'edge-01=machine:edge-01', '--port', '0'];

describe('serve: admission flags', () => {
  test('the help names them', async () => {
    const help = (await cli(['serve', '--help'])).stdout.join('\n');
    expect(help).toContain('--trust-proxy');
    expect(help).toContain('--max-in-flight-decapsulations');
  });

  test.each([
    ['--trust-proxy', 'proxy.example'],
    ['--max-in-flight-decapsulations', '0'],
    ['--max-in-flight-decapsulations', 'many'],
  ])('%s %s is a usage error', async (flag, value) => {
    const run = await cli(['serve', ...MACHINE, flag, value]);
    expect(run.code).toBe(2);
    expect(run.stdout).toEqual([]);
  });

  test('a handshake flood from one address is throttled; key documents are still served', async () => {
    const statuses: number[] = [];
    let documentStatus = 0;
    const run = await cli(
      ['serve', ...MACHINE, '--trust-proxy', '10.0.0.2', '--max-in-flight-decapsulations', '4'],
      async (url) => {
        // All at once: a bucket refills at 5 a second, so requests sent one by one on a loaded
        // machine could each find a fresh token.
        const flood = Array.from({ length: 40 }, async (_, i) => {
          const response = await fetch(`${url}/api/keyex/edge-01/handshake`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.${i}` },
            body: '{}',
          });
          await response.arrayBuffer();
          return response.status;
        });
        statuses.push(...(await Promise.all(flood)));
        const document = await fetch(`${url}/api/keyex/edge-01/pubkey`);
        await document.arrayBuffer();
        documentStatus = document.status;
      },
    );
    expect(run.code).toBe(0);
    // The burst of 20 is admitted (and refused for its empty body); most of the rest are throttled.
    expect(statuses.filter((status) => status === 400).length).toBeGreaterThanOrEqual(20);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(0);
    expect(statuses.every((status) => status === 400 || status === 429)).toBe(true);
    expect(documentStatus).toBe(200);
  });
});
