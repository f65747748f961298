/**
 * The Mode-B options of `zeq-keyex serve` (spec §4): `--admin-token-file` enables the admin
 * endpoints, `--allow-http-peer` lets `initiate` fetch named peers over plain http,
 * `--allow-private-peer` lets it fetch named loopback, private or link-local peers, and with
 * `--store DIR` seeds are kept sealed in `DIR/mode-b-seeds`.
 *
 * Caveats: the token is read from a file, never from the command line (the process list would
 * show it), and a file other users can read is warned about. Without a token file the admin
 * endpoints answer 403 to everyone.
 * @module
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalHost } from '../../core/host.js';
import { type AdminOptions, createBearerTokenAuthorizer } from '../../responder/admin.js';
import type { ModeBOptions } from '../../responder/modeb-peer.js';
import type { SeedStore } from '../../responder/seed-store.js';
import { createFileSeedStore } from '../file-seed-store.js';
import {
  type CliIo,
  type CommandArgs,
  UsageError,
  adminTokenArg,
  stringListOption,
  stringOption,
} from './args.js';

/** Where, under `--store DIR`, the Mode-B seeds are kept. */
const SEEDS_SUBDIRECTORY = 'mode-b-seeds';
/** The permission bits of a token file that let group or other users read or write it. */
const NOT_PRIVATE_MODE_BITS = 0o077;

/** `zeq-keyex serve` lines for its help text. */
export const SERVE_MODE_B_HELP: string = `  --admin-token-file FILE     enable the Mode-B admin endpoints (POST /api/ssl/peer-seed/keyex/
                              initiate and /respond) for 'authorization: Bearer <token in FILE>';
                              without it they answer 403 to everyone. Seeds are kept sealed
                              in DIR/${SEEDS_SUBDIRECTORY} with --store DIR, else in memory
  --allow-http-peer HOST      let Mode-B 'initiate' fetch peers at HOST over plain http
                              (repeatable; default: https only)
  --allow-private-peer HOST   let Mode-B 'initiate' fetch peers at HOST although it is loopback,
                              private or link-local (127.0.0.1, 10.x, fe80::, localhost, ...);
                              repeatable; default: such peers are refused`;

/** The `serve` options this module reads (a fragment of its option table). */
export const SERVE_MODE_B_OPTIONS: {
  readonly 'admin-token-file': { readonly type: 'string' };
  readonly 'allow-http-peer': {
    readonly type: 'string';
    readonly multiple: true;
    readonly default: string[];
  };
  readonly 'allow-private-peer': {
    readonly type: 'string';
    readonly multiple: true;
    readonly default: string[];
  };
} = {
  'admin-token-file': { type: 'string' },
  'allow-http-peer': { type: 'string', multiple: true, default: [] },
  'allow-private-peer': { type: 'string', multiple: true, default: [] },
};

/** What {@link serveModeBOptions} adds to the responder options. */
export interface ServeModeBOptions {
  admin?: AdminOptions;
  modeB: ModeBOptions;
  seedStore?: SeedStore;
}

/**
 * Builds the Mode-B responder options of `zeq-keyex serve`.
 * @param args - the parsed `serve` command line.
 * @param storeDir - the `--store` directory, if any: seeds go to its `mode-b-seeds` subdirectory.
 * @param io - for warnings.
 * @returns `admin` (only with a token file), `modeB` and `seedStore` (only with `--store`).
 * @throws {UsageError} for an unreadable or malformed token file, or a host with a port.
 */
export async function serveModeBOptions(
  args: CommandArgs,
  storeDir: string | undefined,
  io: CliIo,
): Promise<ServeModeBOptions> {
  const tokenFile = stringOption(args, 'admin-token-file');
  // Checked here so that a bad host is a usage error rather than a start-up crash.
  const hosts = peerHosts(args, 'allow-http-peer');
  const privateHosts = peerHosts(args, 'allow-private-peer');
  const admin = tokenFile === undefined ? undefined : await adminFromTokenFile(tokenFile, io);
  return {
    modeB: { allowHttpHosts: hosts, allowPrivatePeerHosts: privateHosts },
    ...(admin === undefined ? {} : { admin }),
    ...(storeDir === undefined
      ? {}
      : { seedStore: createFileSeedStore(join(storeDir, SEEDS_SUBDIRECTORY)) }),
  };
}

async function adminFromTokenFile(tokenFile: string, io: CliIo): Promise<AdminOptions> {
  let text: string;
  try {
    text = await readFile(tokenFile, 'utf8');
  } catch {
    throw new UsageError(`--admin-token-file: cannot read "${tokenFile}"`);
  }
  // An editor's final newline is not part of the token.
  const token = adminTokenArg(text.replace(/[\r\n\t ]+$/, ''), '--admin-token-file');
  if (process.platform !== 'win32') {
    const mode = (await stat(tokenFile)).mode;
    if ((mode & NOT_PRIVATE_MODE_BITS) !== 0)
      io.stderr(`warning: ${tokenFile} is readable by other users (chmod 600 it)`);
  }
  return createBearerTokenAuthorizer(token);
}

/** The hosts of a repeatable host option, each a host name or IP address without port. */
function peerHosts(args: CommandArgs, option: string): string[] {
  return stringListOption(args, option).map((host) => {
    const canonical = canonicalHost(host);
    if (canonical === undefined) {
      throw new UsageError(
        `--${option} expects a host name or IP address without port, got "${host}"`,
      );
    }
    return canonical;
  });
}
