/**
 * `zeq-keyex rotate`: replaces a machine's KEM key on a running responder (spec §8.3) through its
 * admin endpoint `POST /api/keyex/{slug}/rotate` (served by `zeq-keyex serve --admin-token-file`,
 * with the same bearer token as the Mode-B admin endpoints).
 *
 * Caveats: as for `ssl`, a token given with `--token` is visible in the process list
 * (`ZEQ_ADMIN_TOKEN` is not), and it is never sent over plain http except to a loopback ORIGIN or
 * a host named with `--allow-insecure-host`. Rotation breaks every pin on the machine's KEM key
 * once the grace period ends; identity pins do not break.
 * @module
 */
import { createModeBAdminClient } from '../../initiator/admin-client.js';
import {
  type CliCommand,
  EXIT,
  JSON_OPTION,
  UsageError,
  integerOption,
  originArg,
  slugArg,
  stringOption,
} from './args.js';
import { adminTokenFrom, insecureHostsFor } from './ssl.js';

/** The longest grace period, 30 days in seconds (spec §8.1's longest validity). */
const MAX_GRACE_SECONDS = 2_592_000;

/** `zeq-keyex rotate`. */
export const rotateCommand: CliCommand = {
  path: 'rotate',
  help: `Usage: zeq-keyex rotate ORIGIN SLUG --token T [--grace-seconds N] [--json]

Replaces the KEM key of machine SLUG on the running responder at ORIGIN (POST
/api/keyex/SLUG/rotate; serve it with 'zeq-keyex serve --admin-token-file FILE'). The new key is
served at once; handshakes naming the previous key are answered for the grace period, then its
secret is deleted. Pins on the previous key's fingerprint break; identity pins do not.
  --token T            admin bearer token of ORIGIN (or set ZEQ_ADMIN_TOKEN, which ps does not show);
                       --admin-token T is the same
  --grace-seconds N    how long the previous key keeps answering, 0 to ${MAX_GRACE_SECONDS} (30 days);
                       0 deletes it at once (a key that may be compromised). Default: the
                       responder's (the signed documents' validity, seven days)
  --allow-insecure-host HOST
                       send the token over plain http to HOST (repeatable; loopback needs none)
  --json               print one JSON line: {"ok":true,"slug","machine_id","fingerprint",
                       "previous_fingerprint","retired_until"} or {"ok":false,"code","message",...}`,
  options: {
    token: { type: 'string' },
    'admin-token': { type: 'string' },
    'grace-seconds': { type: 'string' },
    'allow-insecure-host': { type: 'string', multiple: true, default: [] },
    json: JSON_OPTION,
  },
  maxPositionals: 2,
  async run(args, io) {
    const origin = originArg(args.positionals[0], 'ORIGIN');
    const slug = slugArg(args.positionals[1], 'SLUG');
    const alias = stringOption(args, 'admin-token');
    if (alias !== undefined && stringOption(args, 'token') !== undefined)
      throw new UsageError('give --token or --admin-token, not both');
    const token = adminTokenFrom(
      alias === undefined ? args : { ...args, values: { ...args.values, token: alias } },
      io,
    );
    const graceSeconds = integerOption(args, 'grace-seconds', 0, MAX_GRACE_SECONDS);
    const client = createModeBAdminClient({
      origin,
      token,
      allowInsecureHosts: insecureHostsFor(origin, args),
    });
    const result = await client.rotateKey({
      machine: slug,
      ...(graceSeconds === undefined ? {} : { graceSeconds }),
    });
    if (args.values['json'] === true) {
      io.stdout(
        JSON.stringify({
          ok: true,
          slug,
          machine_id: result.machineId,
          fingerprint: result.fingerprint,
          previous_fingerprint: result.previousFingerprint,
          retired_until: result.retiredUntil,
        }),
      );
      return EXIT.ok;
    }
    io.stdout(`rotated ${slug} (${result.machineId}) on ${origin}`);
    io.stdout(`fingerprint           ${result.fingerprint}`);
    io.stdout(
      `previous fingerprint  ${result.previousFingerprint} (answered until ${result.retiredUntil})`,
    );
    return EXIT.ok;
  },
};
