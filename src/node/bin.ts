#!/usr/bin/env node
/**
 * The `zeq-keyex` executable: wires {@link runCli} to the process.
 * @module
 */
import { runCli } from './cli/index.js';

const stopSignal = (): Promise<string> =>
  new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });

const code = await runCli(process.argv.slice(2), {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  stopSignal,
});
process.exitCode = code;
