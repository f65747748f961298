/**
 * `zeq-keyex fingerprint ORIGIN SLUG`: fetches and validates a machine's key document (spec §2.1)
 * and prints its fingerprint, to pin.
 *
 * Caveat: the printed fingerprint is only as trustworthy as the path it came over. Compare it with
 * the responder's operator through another channel before pinning it.
 * @module
 */
import { ALGS } from '../../core/constants.js';
import { createClient } from '../../initiator/client.js';
import { type CliCommand, EXIT, JSON_OPTION, originArg, slugArg } from './args.js';

/** `zeq-keyex fingerprint`. */
export const fingerprintCommand: CliCommand = {
  path: 'fingerprint',
  help: `Usage: zeq-keyex fingerprint ORIGIN SLUG [--json]

Fetches and validates the key document of SLUG at ORIGIN and prints its fingerprint, to pin.
Compare it with the responder's operator through another channel before you pin it.
  --json    print the whole validated document as one JSON line`,
  options: { json: JSON_OPTION },
  maxPositionals: 2,
  async run(args, io) {
    const origin = originArg(args.positionals[0], 'ORIGIN');
    const slug = slugArg(args.positionals[1], 'SLUG');
    // Either alg (§9): the fingerprint fixes the key, and so the alg.
    const doc = await createClient({ origin, algs: ALGS }).fetchKeyDocument(slug);
    if (args.values['json'] === true) {
      const publicKey = Buffer.from(doc.publicKey).toString('base64');
      io.stdout(
        JSON.stringify({
          alg: doc.alg,
          public_key: publicKey,
          fingerprint: doc.fingerprint,
          machine_id: doc.machineId,
        }),
      );
    } else {
      io.stdout(doc.fingerprint);
    }
    return EXIT.ok;
  },
};
