/**
 * The `zeq-keyex` command-line tool: a demo, a responder server, the initiator operations
 * (fingerprint discovery, handshake; spec §2, §3.1), Mode-B seeding (`ssl`, spec §4), the identity
 * key (`identity`) and key rotation on a running responder (`rotate`, spec §8). Its
 * interface is fixed; see `zeq-keyex --help`. Each command lives in its own file; the parsing,
 * help and failure reporting they share are in ./args.ts.
 *
 * Exit status: 0 success, 1 the operation failed, 2 a usage error. With `--json`, the outcome is
 * one line of JSON on stdout. Secrets (field key, admin token, record keys, seeds) are never
 * printed, except the fresh field key `field-key` is asked to make.
 * @module
 */
import { type CliGroup, type CliIo, runCommandLine } from './args.js';
import { demoCommand } from './demo.js';
import { fieldKeyCommand } from './field-key.js';
import { fingerprintCommand } from './fingerprint.js';
import { handshakeCommand } from './handshake.js';
import { identityCommand } from './identity.js';
import { rotateCommand } from './rotate.js';
import { serveCommand } from './serve.js';
import { sslGroup } from './ssl.js';

export type { CliIo } from './args.js';

const ZEQ_KEYEX: CliGroup = {
  path: '',
  help: `zeq-keyex — post-quantum first contact (ML-KEM-768)

Usage:
  zeq-keyex demo                         run a responder and a pinned handshake on loopback
  zeq-keyex serve [options]              run a responder over HTTP
  zeq-keyex field-key                    print a fresh random field key
  zeq-keyex fingerprint ORIGIN SLUG      fetch a key document and print the fingerprint to pin
  zeq-keyex handshake ORIGIN SLUG ...    perform a handshake
  zeq-keyex ssl initiate|respond ...     ZeqSSL Mode-B seeding between two machines (admin)
  zeq-keyex identity --store DIR         print (or --create) the identity key that signs key documents
  zeq-keyex rotate ORIGIN SLUG ...       replace a machine's key on a running responder (admin)

Run 'zeq-keyex COMMAND --help' for a command's options.
Exit status: 0 success, 1 the operation failed, 2 usage error.`,
  commands: {
    demo: demoCommand,
    serve: serveCommand,
    'field-key': fieldKeyCommand,
    fingerprint: fingerprintCommand,
    handshake: handshakeCommand,
    ssl: sslGroup,
    identity: identityCommand,
    rotate: rotateCommand,
  },
};

/**
 * Runs the CLI.
 * @param argv - the arguments after the program name.
 * @param io - output and environment.
 * @returns the exit status: 0 success, 1 the operation failed, 2 a usage error.
 * @example
 * ```ts
 * process.exitCode = await runCli(process.argv.slice(2), { stdout, stderr, env: process.env, stopSignal });
 * ```
 */
export function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  return runCommandLine(ZEQ_KEYEX, argv, io);
}
