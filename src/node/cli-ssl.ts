/**
 * The `zeq-keyex ssl` commands (ZeqSSL Mode-B seeding, spec §4) and the Mode-B options of
 * `zeq-keyex serve` (`--admin-token-file`, `--allow-http-peer`).
 *
 * `ssl initiate` asks machine L's responder to seed with a peer; `ssl respond` gives the resulting
 * ciphertext to the peer's responder. Both print the seed commitment — never the seed, which stays
 * sealed on each responder. Exit status: 0 success, 1 the operation failed, 2 a usage error. With
 * `--json` the outcome is one line of JSON on stdout.
 *
 * Caveat: a token given with `--token` is visible in the process list; `ZEQ_ADMIN_TOKEN` is not.
 * @module
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type AdminOptions, MIN_ADMIN_TOKEN_LENGTH, assertAdminToken, createBearerTokenAuthorizer } from '../responder/admin.js';
import { createModeBAdminClient } from '../initiator/admin-client.js';
import { ALG_SIZES, ALG } from '../core/constants.js';
import { base64Decode } from '../core/encoding.js';
import { isZeqKeyExError } from '../core/errors.js';
import { parsePin } from '../core/fingerprint.js';
import { isMachineId, isSlug } from '../core/identifiers.js';
import type { ModeBOptions } from '../responder/modeb-route.js';
import type { SeedStore } from '../responder/seed-store.js';
import type { CliIo } from './cli.js';
import { createFileSeedStore } from './file-seed-store.js';

/** Help texts of the `ssl` commands. */
export const SSL_HELP: Readonly<Record<'ssl' | 'initiate' | 'respond', string>> = {
  ssl: `Usage: zeq-keyex ssl (initiate | respond) ORIGIN [options]

ZeqSSL Mode-B seeding between two machines that never shared a secret (spec §4):
  zeq-keyex ssl initiate ORIGIN ...   on machine L's responder: fetch the peer's key, check the pin,
                                      derive and store the seed; prints the commitment and the
                                      cipher text for the peer
  zeq-keyex ssl respond ORIGIN ...    on the peer P's responder: derive and store the same seed
Equal seed commitments on both sides confirm that both machines hold the same seed. The seed
itself is never printed; each responder keeps it sealed under its field key.
Run 'zeq-keyex ssl initiate --help' or 'zeq-keyex ssl respond --help' for the options.`,
  initiate: `Usage: zeq-keyex ssl initiate ORIGIN --token T --local SLUG --peer-origin URL --peer SLUG --pin FP [--json]

Asks the responder at ORIGIN (machine L) to seed with a peer machine (POST /api/ssl/peer-seed/keyex/initiate).
  --token T            admin bearer token of ORIGIN (or set ZEQ_ADMIN_TOKEN, which ps does not show)
  --local SLUG         L's slug on ORIGIN
  --peer-origin URL    the peer's responder (https, unless ORIGIN allows plain http for that host)
  --peer SLUG          the peer machine's slug there
  --pin FP             the peer key's fingerprint, obtained out of band ('zeq-keyex fingerprint')
  --json               print one JSON line: {"ok":true,"cipher_text","seed_commitment","peer_machine_id",
                       "peer_fingerprint","local_machine_id","alg"} or {"ok":false,"code","message",...}
Then run 'zeq-keyex ssl respond' against the peer with the printed cipher text.`,
  respond: `Usage: zeq-keyex ssl respond ORIGIN --token T --local SLUG --peer-id ID --cipher-text B64 [--json]

Asks the responder at ORIGIN (the peer, machine P) to derive the seed from the initiator's cipher
text (POST /api/ssl/peer-seed/keyex/respond).
  --token T            admin bearer token of ORIGIN (or set ZEQ_ADMIN_TOKEN)
  --local SLUG         P's slug on ORIGIN
  --peer-id ID         the initiator's machine_id ("local_machine_id" of 'ssl initiate')
  --cipher-text B64    the cipher text 'ssl initiate' printed
  --json               print one JSON line: {"ok":true,"seed_commitment","local_machine_id","fingerprint",
                       "alg"} or {"ok":false,"code","message",...}
Compare the printed seed commitment with the initiator's: they must be equal.`,
};

/** `zeq-keyex serve` lines for its help text. */
export const SERVE_MODE_B_HELP = `  --admin-token-file FILE     enable the Mode-B admin endpoints (POST /api/ssl/peer-seed/keyex/
                              initiate and /respond) for 'authorization: Bearer <token in FILE>';
                              without it they answer 403 to everyone. Seeds are kept sealed
                              in DIR/mode-b-seeds with --store DIR, else in memory
  --allow-http-peer HOST      let Mode-B 'initiate' fetch peers at HOST over plain http
                              (repeatable; default: https only)`;

/** The `serve` options this module reads (a fragment of its parseArgs table). */
export const SERVE_MODE_B_OPTIONS: {
  readonly 'admin-token-file': { readonly type: 'string' };
  readonly 'allow-http-peer': { readonly type: 'string'; readonly multiple: true; readonly default: string[] };
} = {
  'admin-token-file': { type: 'string' },
  'allow-http-peer': { type: 'string', multiple: true, default: [] },
};

/** What {@link serveModeBOptions} adds to the responder options. */
export interface ServeModeBOptions {
  admin?: AdminOptions;
  modeB: ModeBOptions;
  seedStore?: SeedStore;
}

/**
 * Builds the Mode-B responder options of `zeq-keyex serve`.
 * @param values - the parsed `serve` arguments.
 * @param storeDir - the `--store` directory, if any: seeds go to its `mode-b-seeds` subdirectory.
 * @param io - for warnings.
 * @param usage - makes the CLI's usage error (exit status 2) from a message.
 * @returns `admin` (only with a token file), `modeB` and `seedStore` (only with `--store`).
 */
export async function serveModeBOptions(
  values: Record<string, unknown>,
  storeDir: string | undefined,
  io: CliIo,
  usage: (message: string) => Error,
): Promise<ServeModeBOptions> {
  const tokenFile = values['admin-token-file'];
  const hosts = (values['allow-http-peer'] ?? []) as string[];
  let admin: AdminOptions | undefined;
  if (typeof tokenFile === 'string') {
    let text: string;
    try {
      text = await readFile(tokenFile, 'utf8');
    } catch {
      throw usage(`--admin-token-file: cannot read "${tokenFile}"`);
    }
    const token = text.replace(/[\r\n\t ]+$/, '');
    try {
      assertAdminToken(token);
    } catch {
      throw usage(`--admin-token-file must hold one token of at least ${MIN_ADMIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + / (then optional "=")`);
    }
    if (process.platform !== 'win32') {
      const mode = (await stat(tokenFile)).mode;
      if ((mode & 0o077) !== 0) io.stderr(`warning: ${tokenFile} is readable by other users (chmod 600 it)`);
    }
    admin = createBearerTokenAuthorizer(token);
  }
  // Checked here so that a bad host is a usage error rather than a start-up crash.
  for (const host of hosts) {
    const url = /[\s/?#@]/.test(host) ? undefined : URL.parse(`http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}/`);
    if (host.length === 0 || url === undefined || url === null || url.port !== '') {
      throw usage(`--allow-http-peer expects a host name or IP address without port, got "${host}"`);
    }
  }
  return {
    modeB: { allowHttpHosts: hosts },
    ...(admin === undefined ? {} : { admin }),
    ...(storeDir === undefined ? {} : { seedStore: createFileSeedStore(join(storeDir, 'mode-b-seeds')) }),
  };
}

class SslUsageError extends Error {}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>): { values: Record<string, unknown>; positionals: string[] } {
  try {
    return parseArgs({ args, options: { help: { type: 'boolean' }, json: { type: 'boolean', default: false }, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new SslUsageError((error as Error).message);
  }
}

function originArg(positionals: string[]): string {
  if (positionals.length > 1) throw new SslUsageError(`unexpected argument "${positionals[1]}"`);
  const value = positionals[0];
  if (value === undefined) throw new SslUsageError('ORIGIN is required');
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new SslUsageError(`ORIGIN must be an http(s) URL, got "${value}"`);
  }
  return value;
}

function required(values: Record<string, unknown>, name: string, check: (value: string) => boolean, what: string): string {
  const value = values[name];
  if (typeof value !== 'string') throw new SslUsageError(`--${name} is required`);
  if (!check(value)) throw new SslUsageError(`--${name} ${what}`);
  return value;
}

function tokenFrom(values: Record<string, unknown>, io: CliIo): string {
  const given = values['token'];
  const token = typeof given === 'string' ? given : io.env['ZEQ_ADMIN_TOKEN'];
  if (token === undefined || token === '') throw new SslUsageError('--token T (or ZEQ_ADMIN_TOKEN) is required');
  try {
    assertAdminToken(token);
  } catch {
    throw new SslUsageError(`the admin token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + / (then optional "=")`);
  }
  return token;
}

function failure(io: CliIo, json: boolean, error: unknown): number {
  if (!isZeqKeyExError(error)) {
    if (json) io.stdout(JSON.stringify({ ok: false, code: 'internal', message: 'internal error' }));
    else io.stderr('error: internal error');
    return 1;
  }
  const extra: Record<string, string | number> = {};
  if (error.status !== undefined) extra['status'] = error.status;
  if (error.responseCode !== undefined) extra['response_code'] = error.responseCode;
  if (error.expectedFingerprint !== undefined) extra['expected_fingerprint'] = error.expectedFingerprint;
  if (error.actualFingerprint !== undefined) extra['actual_fingerprint'] = error.actualFingerprint;
  if (json) {
    io.stdout(JSON.stringify({ ok: false, code: error.code, message: error.message, ...extra }));
  } else {
    io.stderr(`error: ${error.code}: ${error.message}`);
    if (error.expectedFingerprint !== undefined) io.stderr(`expected fingerprint ${error.expectedFingerprint}`);
    if (error.actualFingerprint !== undefined) io.stderr(`actual fingerprint   ${error.actualFingerprint}`);
  }
  return 1;
}

async function initiate(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    token: { type: 'string' },
    local: { type: 'string' },
    'peer-origin': { type: 'string' },
    peer: { type: 'string' },
    pin: { type: 'string' },
  });
  if (values['help'] === true) {
    io.stdout(SSL_HELP.initiate);
    return 0;
  }
  const origin = originArg(positionals);
  const token = tokenFrom(values, io);
  const localMachine = required(values, 'local', isSlug, 'must be a slug (^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$)');
  const peerOrigin = required(values, 'peer-origin', (v) => /^https?:\/\/[^\s]+$/i.test(v) && URL.canParse(v), 'must be an http(s) URL');
  const peerMachine = required(values, 'peer', isSlug, 'must be a slug (^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$)');
  const pinText = required(values, 'pin', () => true, '');
  let expectedFingerprint: string;
  try {
    expectedFingerprint = parsePin(pinText);
  } catch {
    throw new SslUsageError('--pin must be a 64-hex-character fingerprint');
  }
  const json = values['json'] === true;
  try {
    const result = await createModeBAdminClient({ origin, token }).initiate({ localMachine, peerOrigin, peerMachine, expectedFingerprint });
    if (json) {
      io.stdout(
        JSON.stringify({
          ok: true,
          cipher_text: result.cipherText,
          seed_commitment: result.seedCommitment,
          peer_machine_id: result.peerMachineId,
          peer_fingerprint: result.peerFingerprint,
          local_machine_id: result.localMachineId,
          alg: result.alg,
        }),
      );
    } else {
      io.stdout(`mode-b initiate ok: ${localMachine} (${result.localMachineId}) with ${peerMachine} (${result.peerMachineId}) at ${peerOrigin}`);
      io.stdout(`peer fingerprint ${result.peerFingerprint} (matches --pin)`);
      io.stdout(`seed commitment  ${result.seedCommitment}`);
      io.stdout(`the seed is stored sealed on ${origin} and never shown.`);
      io.stdout(`next, on the peer's responder (use its own admin token):`);
      io.stdout(`  zeq-keyex ssl respond ${peerOrigin} --local ${peerMachine} --peer-id ${result.localMachineId} --cipher-text ${result.cipherText}`);
    }
    return 0;
  } catch (error) {
    return failure(io, json, error);
  }
}

async function respond(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    token: { type: 'string' },
    local: { type: 'string' },
    'peer-id': { type: 'string' },
    'cipher-text': { type: 'string' },
  });
  if (values['help'] === true) {
    io.stdout(SSL_HELP.respond);
    return 0;
  }
  const origin = originArg(positionals);
  const token = tokenFrom(values, io);
  const localMachine = required(values, 'local', isSlug, 'must be a slug (^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$)');
  const peerMachineId = required(values, 'peer-id', isMachineId, 'must be a machine_id (^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$)');
  const cipherText = required(
    values,
    'cipher-text',
    (v) => {
      try {
        base64Decode(v, ALG_SIZES[ALG].cipherText);
        return true;
      } catch {
        return false;
      }
    },
    `must be canonical base64 of ${ALG_SIZES[ALG].cipherText} bytes`,
  );
  const json = values['json'] === true;
  try {
    const result = await createModeBAdminClient({ origin, token }).respond({ localMachine, peerMachineId, cipherText });
    if (json) {
      io.stdout(
        JSON.stringify({
          ok: true,
          seed_commitment: result.seedCommitment,
          local_machine_id: result.localMachineId,
          fingerprint: result.fingerprint,
          alg: result.alg,
        }),
      );
    } else {
      io.stdout(`mode-b respond ok: ${localMachine} (${result.localMachineId}) with ${peerMachineId}`);
      io.stdout(`fingerprint      ${result.fingerprint}`);
      io.stdout(`seed commitment  ${result.seedCommitment}`);
      io.stdout(`the seed is stored sealed on ${origin} and never shown; compare the commitment with the initiator's.`);
    }
    return 0;
  } catch (error) {
    return failure(io, json, error);
  }
}

/**
 * Runs `zeq-keyex ssl …`.
 * @param args - the arguments after `ssl`.
 * @param io - output and environment.
 * @returns the exit status: 0, 1 or 2.
 */
export async function runSslCommand(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'initiate':
        return await initiate(rest, io);
      case 'respond':
        return await respond(rest, io);
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.stdout(SSL_HELP.ssl);
        return 0;
      default:
        throw new SslUsageError(`unknown ssl command "${sub}"`);
    }
  } catch (error) {
    if (error instanceof SslUsageError) {
      const topic = sub === 'initiate' || sub === 'respond' ? `ssl ${sub}` : 'ssl';
      io.stderr(`usage error: ${error.message}\nRun 'zeq-keyex ${topic} --help'.`);
      return 2;
    }
    return failure(io, false, error);
  }
}
