/**
 * `zeq-keyex serve`: a responder (spec §2, and §3.1 with `--echo`, §4 with the Mode-B options)
 * over HTTP until SIGINT/SIGTERM.
 *
 * Caveats: the field key comes from `ZEQ_FIELD_KEY` only (never a flag, which `ps` would show)
 * and is never echoed, not even when malformed. Without `--store` keys live in memory and
 * fingerprints change on restart; without `--machine` any valid slug is served as its own
 * machine_id, at most {@link MAX_OPEN_MACHINES} of them, so a scan cannot make keys without bound.
 * Both are warned about on stderr.
 * @module
 */
import { isMachineId, isSlug } from '../../core/identifiers.js';
import { parseFieldKey } from '../../core/sealing.js';
import { createResponder } from '../../responder/responder.js';
import type { ResponderOptions } from '../../responder/options.js';
import { createMemoryKeyStore } from '../../responder/stores.js';
import { createFileKeyStore } from '../file-key-store.js';
import { type RunningServer, serve } from '../server.js';
import {
  type CliCommand,
  type CliIo,
  type CommandArgs,
  EXIT,
  UsageError,
  stringListOption,
  stringOption,
} from './args.js';
import { SERVE_MODE_B_HELP, SERVE_MODE_B_OPTIONS, serveModeBOptions } from './serve-mode-b.js';

/** Without --machine, any valid slug is served as its own machine_id — at most this many. */
export const MAX_OPEN_MACHINES = 64;
/** The highest TCP port; `--port 0` asks the system for a free one. */
const MAX_PORT = 65_535;
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = '8787';

/** `zeq-keyex serve`. */
export const serveCommand: CliCommand = {
  path: 'serve',
  help: `Usage: zeq-keyex serve [--host ${DEFAULT_HOST}] [--port ${DEFAULT_PORT}] [--store DIR] [--machine SLUG=MACHINE_ID]... [--echo]
                       [--admin-token-file FILE] [--allow-http-peer HOST]...

Serves GET /api/keyex/:slug/pubkey and POST /api/keyex/:slug/handshake.
  --host HOST                 interface to bind (default ${DEFAULT_HOST})
  --port PORT                 port (default ${DEFAULT_PORT}; 0 picks a free one)
  --store DIR                 keep sealed keys in DIR, so fingerprints survive restarts
                              (default: in memory, lost on exit)
  --machine SLUG=MACHINE_ID   serve this machine (repeatable). Without any, every valid slug is
                              served with machine_id equal to the slug (at most ${MAX_OPEN_MACHINES} of them).
${SERVE_MODE_B_HELP}
  --echo                      also serve POST /api/keyex/:slug/sessions/:session_id/records, answering
                              every encrypted record with the plaintext it carried
Environment: ZEQ_FIELD_KEY (required) — 64 hex characters; make one with 'zeq-keyex field-key'.
Prints 'listening on http://HOST:PORT' when ready; stops cleanly on SIGINT/SIGTERM.`,
  options: {
    host: { type: 'string', default: DEFAULT_HOST },
    port: { type: 'string', default: DEFAULT_PORT },
    store: { type: 'string' },
    machine: { type: 'string', multiple: true, default: [] },
    ...SERVE_MODE_B_OPTIONS,
    echo: { type: 'boolean', default: false },
  },
  maxPositionals: 0,
  async run(args, io) {
    const host = stringOption(args, 'host') ?? DEFAULT_HOST;
    const port = portArg(stringOption(args, 'port') ?? DEFAULT_PORT);
    const responder = createResponder(await responderOptions(args, io));
    let server: RunningServer;
    try {
      server = await serve(responder.fetch, { host, port });
    } catch (error) {
      responder.close();
      const code = (error as NodeJS.ErrnoException).code;
      io.stderr(`error: cannot listen on ${host}:${port}${code === undefined ? '' : ` (${code})`}`);
      return EXIT.failed;
    }
    io.stdout(`listening on ${server.url}`);
    const signal = await io.stopSignal();
    io.stderr(`${signal} received, stopping`);
    await server.close();
    responder.close();
    return EXIT.ok;
  },
};

function portArg(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > MAX_PORT)
    throw new UsageError(`--port must be an integer in [0, ${MAX_PORT}]`);
  return port;
}

/** The responder options the command line and `ZEQ_FIELD_KEY` describe, warnings printed. */
async function responderOptions(args: CommandArgs, io: CliIo): Promise<ResponderOptions> {
  const fieldKey = fieldKeyFrom(io);
  const machines = parseMachines(stringListOption(args, 'machine'));
  const storeDir = stringOption(args, 'store');
  if (storeDir === '') throw new UsageError('--store needs a directory');
  if (storeDir === undefined)
    io.stderr('warning: no --store given; keys live in memory and fingerprints change on restart');
  const log = (level: 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) =>
    io.stderr(`${level}: ${message}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}`);
  return {
    fieldKey,
    machines: machines ?? openMachines(io),
    keyStore: storeDir === undefined ? createMemoryKeyStore() : createFileKeyStore(storeDir),
    ...(await serveModeBOptions(args, storeDir, io)),
    ...(args.values['echo'] === true
      ? { onRecord: (plaintext: Uint8Array): Uint8Array => plaintext }
      : {}),
    logger: { warn: log('warn'), error: log('error') },
  };
}

function fieldKeyFrom(io: CliIo): string {
  const key = io.env['ZEQ_FIELD_KEY'];
  if (key === undefined || key === '')
    throw new UsageError('ZEQ_FIELD_KEY is not set (make one with: zeq-keyex field-key)');
  try {
    // Checked (and its bytes wiped) here so that a malformed key is a usage error, not a crash.
    parseFieldKey(key).fill(0);
  } catch {
    throw new UsageError('ZEQ_FIELD_KEY must be 64 hex characters');
  }
  return key;
}

function parseMachines(values: readonly string[]): Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  const machines: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    const slug = value.slice(0, at);
    const machineId = value.slice(at + 1);
    if (at < 0 || !isSlug(slug) || !isMachineId(machineId))
      throw new UsageError(`--machine expects SLUG=MACHINE_ID, got "${value}"`);
    if (Object.hasOwn(machines, slug)) throw new UsageError(`--machine names "${slug}" twice`);
    machines[slug] = machineId;
  }
  return machines;
}

function openMachines(io: CliIo): (slug: string) => string | undefined {
  const seen = new Set<string>();
  io.stderr(
    `warning: no --machine given; serving any slug as its own machine_id (at most ${MAX_OPEN_MACHINES})`,
  );
  return (slug) => {
    if (seen.has(slug)) return slug;
    if (seen.size >= MAX_OPEN_MACHINES) return undefined;
    seen.add(slug);
    return slug;
  };
}
