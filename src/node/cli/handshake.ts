/**
 * `zeq-keyex handshake ORIGIN SLUG`: a first-contact handshake (spec §2) under exactly one trust
 * choice — identity pins (spec §8), pins, a trust-on-first-use file (spec §6) or explicitly none —
 * and, with `--send`, one
 * encrypted record over the new session (spec §3.1).
 *
 * Caveats: `--insecure-unpinned` stops a passive recorder only; the output says so
 * (`authenticated: false`). The record key is never printed and the session is wiped before the
 * command returns, on success and failure alike.
 * @module
 */
import { type ClientOptions, createClient } from '../../initiator/client.js';
import { sessionRecords } from '../../initiator/records.js';
import type { ClientSession } from '../../initiator/session.js';
import { createFileTrustStore } from '../file-trust-store.js';
import {
  type CliCommand,
  type CliIo,
  type CommandArgs,
  EXIT,
  JSON_OPTION,
  UsageError,
  originArg,
  pinArg,
  slugArg,
  stringListOption,
  stringOption,
} from './args.js';

/** `zeq-keyex handshake`. */
export const handshakeCommand: CliCommand = {
  path: 'handshake',
  help: `Usage: zeq-keyex handshake ORIGIN SLUG (--identity PIN | --pin FP | --tofu FILE | --insecure-unpinned) [--send TEXT] [--json]

Performs a first-contact handshake with SLUG at ORIGIN.
  --identity PIN         the identity that must have signed the key document (repeatable); the
                         machine may rotate its key freely (spec §8)
  --pin FP               the fingerprint to require (repeatable, for key rotation)
  --tofu FILE            trust on first use: remember the first fingerprint in FILE, refuse a changed one
  --insecure-unpinned    accept any key (unauthenticated: stops a passive recorder only)
  --send TEXT            after the handshake, send TEXT as one encrypted record to the records
                         endpoint and print the opened reply (as UTF-8; "reply" in --json)
  --json                 print one JSON line: {"ok":true,"session_id",...} (with "identity" and
                         "serial" under --identity) or {"ok":false,"code","message"}`,
  options: {
    identity: { type: 'string', multiple: true, default: [] },
    pin: { type: 'string', multiple: true, default: [] },
    tofu: { type: 'string' },
    'insecure-unpinned': { type: 'boolean', default: false },
    send: { type: 'string' },
    json: JSON_OPTION,
  },
  maxPositionals: 2,
  async run(args, io) {
    const origin = originArg(args.positionals[0], 'ORIGIN');
    const slug = slugArg(args.positionals[1], 'SLUG');
    const client = createClient({ origin, ...trustOptions(args, slug), retry: 0 });
    const send = stringOption(args, 'send');
    const session = await client.handshake(slug);
    try {
      // §3.1: one record over the session, its reply opened and shown as UTF-8.
      const reply =
        send === undefined
          ? undefined
          : new TextDecoder().decode(
              await sessionRecords(session).request(new TextEncoder().encode(send)),
            );
      printSession(io, args.values['json'] === true, session, reply);
    } finally {
      session.wipe();
    }
    return EXIT.ok;
  },
};

/** The client options of the one trust choice the command line makes. */
function trustOptions(
  args: CommandArgs,
  slug: string,
): Pick<ClientOptions, 'pins' | 'tofu' | 'insecureUnpinned' | 'identityPins'> {
  const identities = stringListOption(args, 'identity');
  const pins = stringListOption(args, 'pin');
  const tofu = stringOption(args, 'tofu');
  const insecure = args.values['insecure-unpinned'] === true;
  const chosen = [identities.length > 0, pins.length > 0, tofu !== undefined, insecure].filter(
    Boolean,
  ).length;
  if (chosen !== 1)
    throw new UsageError(
      'choose exactly one of --identity PIN, --pin FP, --tofu FILE or --insecure-unpinned',
    );
  if (tofu === '') throw new UsageError('--tofu needs a file');
  if (identities.length > 0)
    return { identityPins: { [slug]: identities.map((pin) => pinArg(pin, '--identity')) } };
  if (tofu !== undefined) return { tofu: createFileTrustStore(tofu) };
  if (insecure) return { insecureUnpinned: true };
  return { pins: { [slug]: pins.map((pin) => pinArg(pin, '--pin')) } };
}

function printSession(
  io: CliIo,
  json: boolean,
  session: ClientSession,
  reply: string | undefined,
): void {
  if (json) {
    io.stdout(
      JSON.stringify({
        ok: true,
        session_id: session.sessionId,
        machine_id: session.machineId,
        fingerprint: session.fingerprint,
        alg: session.alg,
        authenticated: session.authenticated,
        ...(session.identity === undefined
          ? {}
          : { identity: session.identity, serial: session.serial }),
        ...(reply === undefined ? {} : { reply }),
      }),
    );
    return;
  }
  io.stdout(`handshake ok: session ${session.sessionId} with ${session.machineId}`);
  io.stdout(
    `fingerprint ${session.fingerprint} (${session.trust}${session.authenticated ? '' : ', NOT authenticated'})`,
  );
  if (session.identity !== undefined)
    io.stdout(`identity ${session.identity} (serial ${String(session.serial)})`);
  io.stdout(`expires ${session.expiresAt.toISOString()}`);
  if (reply !== undefined) io.stdout(`reply: ${reply}`);
}
