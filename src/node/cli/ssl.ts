/**
 * The `zeq-keyex ssl` commands: ZeqSSL Mode-B seeding between two machines (spec §4) through
 * their responders' admin endpoints. `ssl initiate` asks machine L's responder to seed with a
 * peer; `ssl respond` gives the resulting cipher text to the peer's responder. Both print the seed
 * commitment — never the seed, which stays sealed on each responder.
 *
 * Caveats: a token given with `--token` is visible in the process list; `ZEQ_ADMIN_TOKEN` is not.
 * The token is never sent over plain http except to a loopback ORIGIN or a host named with
 * `--allow-insecure-host` (a usage error otherwise, before anything is sent).
 * @module
 */
import { type ModeBAdminClient, createModeBAdminClient } from '../../initiator/admin-client.js';
import { canonicalHost, isLoopbackHost } from '../../core/host.js';
import { ALGS, ALG_SIZES } from '../../core/constants.js';
import { base64Decode } from '../../core/encoding.js';
import {
  type CliCommand,
  type CliGroup,
  type CliIo,
  type CommandArgs,
  EXIT,
  JSON_OPTION,
  type OptionTable,
  UsageError,
  adminTokenArg,
  machineIdArg,
  originArg,
  pinArg,
  requiredOption,
  slugArg,
  stringListOption,
  stringOption,
} from './args.js';

/** The options of both commands: the admin token of ORIGIN, the local machine, `--json`. */
const ADMIN_CALL_OPTIONS: OptionTable = {
  token: { type: 'string' },
  'allow-insecure-host': { type: 'string', multiple: true, default: [] },
  local: { type: 'string' },
  json: JSON_OPTION,
};

/** Where both commands call: ORIGIN's admin endpoints, about its machine `--local`. */
interface AdminCall {
  origin: string;
  localMachine: string;
  client: ModeBAdminClient;
}

function adminCall(args: CommandArgs, io: CliIo): AdminCall {
  const origin = originArg(args.positionals[0], 'ORIGIN');
  const token = adminTokenFrom(args, io);
  const localMachine = slugArg(stringOption(args, 'local'), '--local');
  const allowInsecureHosts = insecureHostsFor(origin, args);
  return {
    origin,
    localMachine,
    client: createModeBAdminClient({ origin, token, allowInsecureHosts }),
  };
}

/**
 * The `--allow-insecure-host` names, after refusing a token bound for plain http to a host that
 * is neither loopback nor named: the client would refuse it too, but as a usage error here.
 */
export function insecureHostsFor(origin: string, args: CommandArgs): string[] {
  const hosts = stringListOption(args, 'allow-insecure-host').map((host) => {
    const canonical = canonicalHost(host);
    if (canonical === undefined) {
      throw new UsageError(
        `--allow-insecure-host expects a host name or IP address without port, got "${host}"`,
      );
    }
    return canonical;
  });
  const url = new URL(origin);
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && !hosts.includes(url.hostname)) {
    throw new UsageError(
      `the admin token is not sent over plain http to ${url.hostname}: use https, or --allow-insecure-host ${url.hostname}`,
    );
  }
  return hosts;
}

const initiateCommand: CliCommand = {
  path: 'ssl initiate',
  help: `Usage: zeq-keyex ssl initiate ORIGIN --token T --local SLUG --peer-origin URL --peer SLUG (--pin FP | --identity PIN) [--replace] [--json]

Asks the responder at ORIGIN (machine L) to seed with a peer machine (POST /api/ssl/peer-seed/keyex/initiate).
  --token T            admin bearer token of ORIGIN (or set ZEQ_ADMIN_TOKEN, which ps does not show)
  --local SLUG         L's slug on ORIGIN
  --peer-origin URL    the peer's responder (https, unless ORIGIN allows plain http for that host)
  --peer SLUG          the peer machine's slug there
  --pin FP             the peer key's fingerprint, obtained out of band ('zeq-keyex fingerprint')
  --identity PIN       instead of --pin: the identity that must have signed the peer's key document
                       (spec §8; survives the peer's key rotation)
  --replace            replace a seed ORIGIN holds for the peer's machine_id under another
                       fingerprint (re-seeding after the peer's key rotation); without it that is
                       refused with seed_conflict and both fingerprints
  --allow-insecure-host HOST
                       send the token over plain http to HOST (repeatable; loopback needs none)
  --json               print one JSON line: {"ok":true,"cipher_text","seed_commitment","peer_machine_id",
                       "peer_fingerprint","local_machine_id","alg"} or {"ok":false,"code","message",...}
Then run 'zeq-keyex ssl respond' against the peer with the printed cipher text.`,
  options: {
    ...ADMIN_CALL_OPTIONS,
    'peer-origin': { type: 'string' },
    peer: { type: 'string' },
    pin: { type: 'string' },
    identity: { type: 'string' },
    replace: { type: 'boolean', default: false },
  },
  maxPositionals: 1,
  async run(args, io) {
    const { origin, localMachine, client } = adminCall(args, io);
    const peerOrigin = originArg(stringOption(args, 'peer-origin'), '--peer-origin');
    const peerMachine = slugArg(stringOption(args, 'peer'), '--peer');
    const identity = stringOption(args, 'identity');
    if (identity !== undefined && stringOption(args, 'pin') !== undefined)
      throw new UsageError('choose one of --pin FP and --identity PIN');
    const expected =
      identity === undefined
        ? { expectedFingerprint: pinArg(requiredOption(args, 'pin'), '--pin') }
        : { expectedIdentity: pinArg(identity, '--identity') };
    const result = await client.initiate({
      localMachine,
      peerOrigin,
      peerMachine,
      ...expected,
      ...(args.values['replace'] === true ? { replace: true } : {}),
    });
    if (args.values['json'] === true) {
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
      return EXIT.ok;
    }
    io.stdout(
      `mode-b initiate ok: ${localMachine} (${result.localMachineId}) with ${peerMachine} (${result.peerMachineId}) at ${peerOrigin}`,
    );
    io.stdout(
      `peer fingerprint ${result.peerFingerprint} (${identity === undefined ? 'matches --pin' : 'attested by --identity'})`,
    );
    io.stdout(`seed commitment  ${result.seedCommitment}`);
    io.stdout(`the seed is stored sealed on ${origin} and never shown.`);
    io.stdout(`next, on the peer's responder (use its own admin token):`);
    io.stdout(
      `  zeq-keyex ssl respond ${peerOrigin} --local ${peerMachine} --peer-id ${result.localMachineId} --cipher-text ${result.cipherText}`,
    );
    return EXIT.ok;
  },
};

const respondCommand: CliCommand = {
  path: 'ssl respond',
  help: `Usage: zeq-keyex ssl respond ORIGIN --token T --local SLUG --peer-id ID --cipher-text B64 [--json]

Asks the responder at ORIGIN (the peer, machine P) to derive the seed from the initiator's cipher
text (POST /api/ssl/peer-seed/keyex/respond).
  --token T            admin bearer token of ORIGIN (or set ZEQ_ADMIN_TOKEN)
  --local SLUG         P's slug on ORIGIN
  --peer-id ID         the initiator's machine_id ("local_machine_id" of 'ssl initiate')
  --cipher-text B64    the cipher text 'ssl initiate' printed
  --allow-insecure-host HOST
                       send the token over plain http to HOST (repeatable; loopback needs none)
  --json               print one JSON line: {"ok":true,"seed_commitment","local_machine_id","fingerprint",
                       "alg"} or {"ok":false,"code","message",...}
Compare the printed seed commitment with the initiator's: they must be equal.`,
  options: {
    ...ADMIN_CALL_OPTIONS,
    'peer-id': { type: 'string' },
    'cipher-text': { type: 'string' },
  },
  maxPositionals: 1,
  async run(args, io) {
    const { origin, localMachine, client } = adminCall(args, io);
    const peerMachineId = machineIdArg(stringOption(args, 'peer-id'), '--peer-id');
    const cipherText = cipherTextArg(requiredOption(args, 'cipher-text'));
    const result = await client.respond({ localMachine, peerMachineId, cipherText });
    if (args.values['json'] === true) {
      io.stdout(
        JSON.stringify({
          ok: true,
          seed_commitment: result.seedCommitment,
          local_machine_id: result.localMachineId,
          fingerprint: result.fingerprint,
          alg: result.alg,
        }),
      );
      return EXIT.ok;
    }
    io.stdout(
      `mode-b respond ok: ${localMachine} (${result.localMachineId}) with ${peerMachineId}`,
    );
    io.stdout(`fingerprint      ${result.fingerprint}`);
    io.stdout(`seed commitment  ${result.seedCommitment}`);
    io.stdout(
      `the seed is stored sealed on ${origin} and never shown; compare the commitment with the initiator's.`,
    );
    return EXIT.ok;
  },
};

/** `zeq-keyex ssl initiate | respond`. */
export const sslGroup: CliGroup = {
  path: 'ssl',
  help: `Usage: zeq-keyex ssl (initiate | respond) ORIGIN [options]

ZeqSSL Mode-B seeding between two machines that never shared a secret (spec §4):
  zeq-keyex ssl initiate ORIGIN ...   on machine L's responder: fetch the peer's key, check the pin,
                                      derive and store the seed; prints the commitment and the
                                      cipher text for the peer
  zeq-keyex ssl respond ORIGIN ...    on the peer P's responder: derive and store the same seed
Equal seed commitments on both sides confirm that both machines hold the same seed. The seed
itself is never printed; each responder keeps it sealed under its field key.
Run 'zeq-keyex ssl initiate --help' or 'zeq-keyex ssl respond --help' for the options.`,
  commands: { initiate: initiateCommand, respond: respondCommand },
};

/** The admin token, from `--token` or else `ZEQ_ADMIN_TOKEN`; never echoed. */
export function adminTokenFrom(args: CommandArgs, io: CliIo): string {
  const token = stringOption(args, 'token') ?? io.env['ZEQ_ADMIN_TOKEN'];
  if (token === undefined || token === '')
    throw new UsageError('--token T (or ZEQ_ADMIN_TOKEN) is required');
  return adminTokenArg(token, 'the admin token');
}

/** §4, §9: the initiator's cipher text, canonical base64 of an alg's length (the peer checks its own). */
function cipherTextArg(value: string): string {
  const lengths = ALGS.map((alg) => ALG_SIZES[alg].cipherText);
  let bytes: number;
  try {
    bytes = base64Decode(value).length;
  } catch {
    bytes = -1;
  }
  if (!lengths.includes(bytes))
    throw new UsageError(`--cipher-text must be canonical base64 of ${lengths.join(' or ')} bytes`);
  return value;
}
