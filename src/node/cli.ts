/**
 * The `zeq-keyex` command-line tool: a demo, a responder server, and the initiator operations
 * (fingerprint discovery, handshake). Its interface is fixed; see `zeq-keyex --help`.
 *
 * Exit status: 0 success, 1 the operation failed, 2 a usage error. With `--json`, the outcome is
 * one line of JSON on stdout. Secrets (field key, record keys) are never printed, except the
 * fresh field key `field-key` is asked to make.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { createClient } from '../initiator/client.js';
import { ALG_SIZES, ALG } from '../core/constants.js';
import { ERROR_CODES, isZeqKeyExError } from '../core/errors.js';
import { parsePin } from '../core/fingerprint.js';
import { createResponder } from '../responder/responder.js';
import { sessionRecords } from '../initiator/records.js';
import { isMachineId, isSlug } from '../core/identifiers.js';
import { createMemoryKeyStore } from '../responder/stores.js';
import { createFileKeyStore } from './file-key-store.js';
import { createFileTrustStore } from './file-trust-store.js';
import { serve } from './server.js';
import { SERVE_MODE_B_HELP, SERVE_MODE_B_OPTIONS, runSslCommand, serveModeBOptions } from './cli-ssl.js';

/** Where the CLI writes; injectable for tests. */
export interface CliIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopSignal: () => Promise<string>;
}

class UsageError extends Error {}

const HELP: Record<string, string> = {
  main: `zeq-keyex — post-quantum first contact (ML-KEM-768)

Usage:
  zeq-keyex demo                         run a responder and a pinned handshake on loopback
  zeq-keyex serve [options]              run a responder over HTTP
  zeq-keyex field-key                    print a fresh random field key
  zeq-keyex fingerprint ORIGIN SLUG      fetch a key document and print the fingerprint to pin
  zeq-keyex handshake ORIGIN SLUG ...    perform a handshake
  zeq-keyex ssl initiate|respond ...     ZeqSSL Mode-B seeding between two machines (admin)

Run 'zeq-keyex COMMAND --help' for a command's options.
Exit status: 0 success, 1 the operation failed, 2 usage error.`,
  demo: `Usage: zeq-keyex demo

Starts a responder on 127.0.0.1 (random port, in-memory keys, a throwaway field key), fetches its
fingerprint, pins it, performs a handshake over real HTTP and prints each step.`,
  serve: `Usage: zeq-keyex serve [--host 127.0.0.1] [--port 8787] [--store DIR] [--machine SLUG=MACHINE_ID]... [--echo]
                       [--admin-token-file FILE] [--allow-http-peer HOST]...

Serves GET /api/keyex/:slug/pubkey and POST /api/keyex/:slug/handshake.
  --host HOST                 interface to bind (default 127.0.0.1)
  --port PORT                 port (default 8787; 0 picks a free one)
  --store DIR                 keep sealed keys in DIR, so fingerprints survive restarts
                              (default: in memory, lost on exit)
  --machine SLUG=MACHINE_ID   serve this machine (repeatable). Without any, every valid slug is
                              served with machine_id equal to the slug (at most 64 of them).
${SERVE_MODE_B_HELP}
  --echo                      also serve POST /api/keyex/:slug/sessions/:session_id/records, answering
                              every encrypted record with the plaintext it carried
Environment: ZEQ_FIELD_KEY (required) — 64 hex characters; make one with 'zeq-keyex field-key'.
Prints 'listening on http://HOST:PORT' when ready; stops cleanly on SIGINT/SIGTERM.`,
  'field-key': `Usage: zeq-keyex field-key

Prints a fresh random 32-byte field key as 64 hex characters, for ZEQ_FIELD_KEY. Keep it secret:
it seals every machine key at rest.`,
  fingerprint: `Usage: zeq-keyex fingerprint ORIGIN SLUG [--json]

Fetches and validates the key document of SLUG at ORIGIN and prints its fingerprint, to pin.
Compare it with the responder's operator through another channel before you pin it.
  --json    print the whole validated document as one JSON line`,
  handshake: `Usage: zeq-keyex handshake ORIGIN SLUG (--pin FP | --tofu FILE | --insecure-unpinned) [--send TEXT] [--json]

Performs a first-contact handshake with SLUG at ORIGIN.
  --pin FP               the fingerprint to require (repeatable, for key rotation)
  --tofu FILE            trust on first use: remember the first fingerprint in FILE, refuse a changed one
  --insecure-unpinned    accept any key (unauthenticated: stops a passive recorder only)
  --send TEXT            after the handshake, send TEXT as one encrypted record to the records
                         endpoint and print the opened reply (as UTF-8; "reply" in --json)
  --json                 print one JSON line: {"ok":true,"session_id",...} or {"ok":false,"code","message"}`,
};

interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>): Parsed {
  try {
    return parseArgs({ args, options: { help: { type: 'boolean' }, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function fieldKeyFrom(io: CliIo): string {
  const key = io.env['ZEQ_FIELD_KEY'];
  if (key === undefined || key === '') throw new UsageError('ZEQ_FIELD_KEY is not set (make one with: zeq-keyex field-key)');
  if (!/^[0-9a-fA-F]{64}$/.test(key)) throw new UsageError('ZEQ_FIELD_KEY must be 64 hex characters');
  return key;
}

function parseMachines(values: string[]): Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  const machines: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    const slug = value.slice(0, at);
    const machineId = value.slice(at + 1);
    if (at < 0 || !isSlug(slug) || !isMachineId(machineId)) throw new UsageError(`--machine expects SLUG=MACHINE_ID, got "${value}"`);
    if (Object.hasOwn(machines, slug)) throw new UsageError(`--machine names "${slug}" twice`);
    machines[slug] = machineId;
  }
  return machines;
}

/** Without --machine, any valid slug is served as its own machine_id — at most this many. */
const MAX_OPEN_MACHINES = 64;

function openMachines(io: CliIo): (slug: string) => string | undefined {
  const seen = new Set<string>();
  io.stderr(`warning: no --machine given; serving any slug as its own machine_id (at most ${MAX_OPEN_MACHINES})`);
  return (slug) => {
    if (seen.has(slug)) return slug;
    if (seen.size >= MAX_OPEN_MACHINES) return undefined;
    seen.add(slug);
    return slug;
  };
}

function originArg(value: string | undefined): string {
  if (value === undefined) throw new UsageError('ORIGIN is required');
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') throw new Error('parts');
  } catch {
    throw new UsageError(`ORIGIN must be an http(s) URL without query, fragment or credentials, got "${value}"`);
  }
  return value;
}

function slugArg(value: string | undefined): string {
  if (value === undefined || !isSlug(value)) throw new UsageError('SLUG must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$');
  return value;
}

async function cmdServe(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8787' },
    store: { type: 'string' },
    machine: { type: 'string', multiple: true, default: [] },
    ...SERVE_MODE_B_OPTIONS,
    echo: { type: 'boolean', default: false },
  });
  if (values['help'] === true) return help(io, 'serve');
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const port = Number(values['port']);
  if (!/^\d+$/.test(String(values['port'])) || port > 65535) throw new UsageError('--port must be an integer in [0, 65535]');
  const fieldKey = fieldKeyFrom(io);
  const machines = parseMachines(values['machine'] as string[]);
  const storeDir = values['store'] as string | undefined;
  if (storeDir === '') throw new UsageError('--store needs a directory');
  if (storeDir === undefined) io.stderr('warning: no --store given; keys live in memory and fingerprints change on restart');
  const responder = createResponder({
    fieldKey,
    machines: machines ?? openMachines(io),
    keyStore: storeDir === undefined ? createMemoryKeyStore() : createFileKeyStore(storeDir),
    ...(await serveModeBOptions(values, storeDir, io, (message) => new UsageError(message))),
    ...(values['echo'] === true ? { onRecord: (plaintext: Uint8Array): Uint8Array => plaintext } : {}),
    logger: {
      warn: (message: string, fields?: Record<string, unknown>) => io.stderr(`warn: ${message}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}`),
      error: (message: string, fields?: Record<string, unknown>) => io.stderr(`error: ${message}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}`),
    },
  });
  let server: Awaited<ReturnType<typeof serve>>;
  try {
    server = await serve(responder.fetch, { host: values['host'] as string, port });
  } catch (error) {
    responder.close();
    const code = (error as NodeJS.ErrnoException).code;
    io.stderr(`error: cannot listen on ${String(values['host'])}:${port}${code === undefined ? '' : ` (${code})`}`);
    return 1;
  }
  io.stdout(`listening on ${server.url}`);
  const signal = await io.stopSignal();
  io.stderr(`${signal} received, stopping`);
  await server.close();
  responder.close();
  return 0;
}

function cmdFieldKey(args: string[], io: CliIo): number {
  const { values, positionals } = parse(args, {});
  if (values['help'] === true) return help(io, 'field-key');
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  io.stdout(randomBytes(32).toString('hex'));
  return 0;
}

function failure(io: CliIo, json: boolean, error: unknown): number {
  const code = isZeqKeyExError(error) ? error.code : 'network_error';
  const message = isZeqKeyExError(error) ? error.message : ERROR_CODES.network_error;
  if (json) {
    const extra: Record<string, string | number> = {};
    if (isZeqKeyExError(error)) {
      if (error.status !== undefined) extra['status'] = error.status;
      if (error.responseCode !== undefined) extra['response_code'] = error.responseCode;
      if (error.expectedFingerprint !== undefined) extra['expected_fingerprint'] = error.expectedFingerprint;
      if (error.actualFingerprint !== undefined) extra['actual_fingerprint'] = error.actualFingerprint;
    }
    io.stdout(JSON.stringify({ ok: false, code, message, ...extra }));
  } else {
    io.stderr(`error: ${code}: ${message}`);
  }
  return 1;
}

async function cmdFingerprint(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean', default: false } });
  if (values['help'] === true) return help(io, 'fingerprint');
  if (positionals.length > 2) throw new UsageError(`unexpected argument "${positionals[2]}"`);
  const origin = originArg(positionals[0]);
  const slug = slugArg(positionals[1]);
  const json = values['json'] === true;
  try {
    const doc = await createClient({ origin }).fetchKeyDocument(slug);
    if (json) {
      io.stdout(
        JSON.stringify({ alg: doc.alg, public_key: Buffer.from(doc.publicKey).toString('base64'), fingerprint: doc.fingerprint, machine_id: doc.machineId }),
      );
    } else {
      io.stdout(doc.fingerprint);
    }
    return 0;
  } catch (error) {
    return failure(io, json, error);
  }
}

async function cmdHandshake(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    pin: { type: 'string', multiple: true, default: [] },
    tofu: { type: 'string' },
    'insecure-unpinned': { type: 'boolean', default: false },
    send: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (values['help'] === true) return help(io, 'handshake');
  const send = values['send'] as string | undefined;
  if (positionals.length > 2) throw new UsageError(`unexpected argument "${positionals[2]}"`);
  const origin = originArg(positionals[0]);
  const slug = slugArg(positionals[1]);
  const json = values['json'] === true;
  const pins = values['pin'] as string[];
  const tofu = values['tofu'] as string | undefined;
  const insecure = values['insecure-unpinned'] === true;
  const chosen = [pins.length > 0, tofu !== undefined, insecure].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('choose exactly one of --pin FP, --tofu FILE or --insecure-unpinned');
  if (tofu === '') throw new UsageError('--tofu needs a file');
  const tofuStore = tofu === undefined ? undefined : createFileTrustStore(tofu);
  let parsedPins: string[];
  try {
    parsedPins = pins.map((p) => parsePin(p));
  } catch {
    throw new UsageError('--pin must be a 64-hex-character fingerprint');
  }
  try {
    const client = createClient({
      origin,
      ...(parsedPins.length > 0 ? { pins: { [slug]: parsedPins } } : {}),
      ...(tofuStore === undefined ? {} : { tofu: tofuStore }),
      ...(insecure ? { insecureUnpinned: true } : {}),
      retry: 0,
    });
    const session = await client.handshake(slug);
    try {
      // §3.1: one record over the session, its reply opened and shown as UTF-8.
      const reply = send === undefined ? undefined : new TextDecoder().decode(await sessionRecords(session).request(new TextEncoder().encode(send)));
      if (json) {
        io.stdout(
          JSON.stringify({
            ok: true,
            session_id: session.sessionId,
            machine_id: session.machineId,
            fingerprint: session.fingerprint,
            alg: session.alg,
            authenticated: session.authenticated,
            ...(reply === undefined ? {} : { reply }),
          }),
        );
      } else {
        io.stdout(`handshake ok: session ${session.sessionId} with ${session.machineId}`);
        io.stdout(`fingerprint ${session.fingerprint} (${session.trust}${session.authenticated ? '' : ', NOT authenticated'})`);
        io.stdout(`expires ${session.expiresAt.toISOString()}`);
        if (reply !== undefined) io.stdout(`reply: ${reply}`);
      }
    } finally {
      session.wipe();
    }
    return 0;
  } catch (error) {
    return failure(io, json, error);
  }
}

async function cmdDemo(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (values['help'] === true) return help(io, 'demo');
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const ms = (t0: number): string => `${(performance.now() - t0).toFixed(1)} ms`;
  const slug = 'edge-01';
  const sizes = ALG_SIZES[ALG];
  io.stdout(`zeq-keyex demo — ${ALG} first contact over HTTP on loopback\n`);
  let t = performance.now();
  const responder = createResponder({
    fieldKey: randomBytes(32).toString('hex'),
    machines: { [slug]: 'm-demo-edge-01' },
    // The demo's application: answer every record with its text, upper-cased.
    onRecord: (plaintext) => new TextEncoder().encode(new TextDecoder().decode(plaintext).toUpperCase()),
  });
  const server = await serve(responder.fetch, { host: '127.0.0.1', port: 0 });
  io.stdout(`1. responder listening on ${server.url} (throwaway field key, keys in memory)   ${ms(t)}`);
  try {
    t = performance.now();
    const discovery = await createClient({ origin: server.url, retry: 0 }).fetchKeyDocument(slug);
    io.stdout(`2. GET /api/keyex/${slug}/pubkey: ${discovery.alg} public key, ${discovery.publicKey.length} bytes, machine ${discovery.machineId}   ${ms(t)}`);
    io.stdout(`   fingerprint ${discovery.fingerprint}`);
    io.stdout(`   (an app pins this value in its code; here we take it as the operator's out-of-band answer)`);
    t = performance.now();
    const client = createClient({ origin: server.url, pins: { [slug]: discovery.fingerprint }, retry: 0 });
    const session = await client.handshake(slug);
    io.stdout(`3. pinned handshake: key checked against the pin, encapsulated (${sizes.cipherText}-byte ciphertext),`);
    io.stdout(`   record key derived with HKDF-SHA256, POST /api/keyex/${slug}/handshake, key confirmation verified   ${ms(t)}`);
    io.stdout(`   session ${session.sessionId}, authenticated: ${session.authenticated}, expires ${session.expiresAt.toISOString()}`);
    io.stdout(`   ML-KEM backend: ${session.kemBackend}; record key: 32 bytes (never printed)`);
    t = performance.now();
    const message = 'hello, responder';
    const reply = new TextDecoder().decode(await sessionRecords(session).request(new TextEncoder().encode(message)));
    io.stdout(`4. encrypted record: "${message}" sealed with AES-256-GCM (${13 + message.length + 16} bytes on the wire),`);
    io.stdout(`   POST /api/keyex/${slug}/sessions/…/records, reply opened: "${reply}"   ${ms(t)}`);
    session.wipe();
    io.stdout(`5. session keys wiped; a recorder of this traffic holds only a public key, a ML-KEM ciphertext and records\n\ndemo ok`);
    return 0;
  } finally {
    await server.close();
    responder.close();
  }
}

function help(io: CliIo, command: string): number {
  io.stdout(HELP[command] ?? (HELP['main'] as string));
  return 0;
}

/**
 * Runs the CLI.
 * @param argv - the arguments after the program name.
 * @param io - output and environment.
 * @returns the exit status.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'demo':
        return await cmdDemo(rest, io);
      case 'serve':
        return await cmdServe(rest, io);
      case 'field-key':
        return cmdFieldKey(rest, io);
      case 'fingerprint':
        return await cmdFingerprint(rest, io);
      case 'handshake':
        return await cmdHandshake(rest, io);
      case 'ssl':
        return await runSslCommand(rest, io);
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        return help(io, 'main');
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`usage error: ${error.message}\nRun 'zeq-keyex ${command === undefined || !(command in HELP) ? '' : `${command} `}--help'.`);
      return 2;
    }
    if (isZeqKeyExError(error)) {
      io.stderr(`error: ${error.code}: ${error.message}`);
      return 1;
    }
    io.stderr('error: internal error');
    return 1;
  }
}
