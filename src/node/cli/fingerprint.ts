/**
 * `zeq-keyex fingerprint ORIGIN SLUG`: fetches and validates a machine's key document (spec §2.1)
 * and prints its fingerprint, to pin.
 *
 * With `--json`, a document that carries an attestation (spec §8.1) also shows it: the identity,
 * serial and validity, and whether its signature by that identity verifies over this slug
 * (`verified`; no identity pin is checked here, so this says nothing of who the identity is).
 *
 * Caveat: the printed fingerprint is only as trustworthy as the path it came over. Compare it with
 * the responder's operator through another channel before pinning it — the identity too.
 * @module
 */
import { createClient } from '../../initiator/client.js';
import type { KeyDocument } from '../../core/document.js';
import { isZeqKeyExError } from '../../core/errors.js';
import { type CliCommand, EXIT, JSON_OPTION, originArg, slugArg } from './args.js';

/** `zeq-keyex fingerprint`. */
export const fingerprintCommand: CliCommand = {
  path: 'fingerprint',
  help: `Usage: zeq-keyex fingerprint ORIGIN SLUG [--json]

Fetches and validates the key document of SLUG at ORIGIN and prints its fingerprint, to pin.
Compare it with the responder's operator through another channel before you pin it.
  --json    print the whole validated document as one JSON line, with its attestation when it
            has one: {"identity","serial","not_before","not_after","verified"}`,
  options: { json: JSON_OPTION },
  maxPositionals: 2,
  async run(args, io) {
    const origin = originArg(args.positionals[0], 'ORIGIN');
    const slug = slugArg(args.positionals[1], 'SLUG');
    const doc = await createClient({ origin }).fetchKeyDocument(slug);
    if (args.values['json'] === true) {
      const publicKey = Buffer.from(doc.publicKey).toString('base64');
      io.stdout(
        JSON.stringify({
          alg: doc.alg,
          public_key: publicKey,
          fingerprint: doc.fingerprint,
          machine_id: doc.machineId,
          ...(doc.attestation === undefined
            ? {}
            : { attestation: await attestationSummary(doc, slug) }),
        }),
      );
    } else {
      io.stdout(doc.fingerprint);
    }
    return EXIT.ok;
  },
};

/**
 * What `--json` shows of a document's attestation: its identity, serial and validity, and whether
 * the signature verifies (checks 2, 4 and 5 of spec §8.2, with the attestation's own identity as
 * the pin and its own validity as the clock: neither trust nor expiry is judged here).
 */
async function attestationSummary(doc: KeyDocument, slug: string): Promise<unknown> {
  const { checkAttestation, parseAttestation } = await import('../../core/attestation.js');
  const { loadSignatureVerifier } = await import('../../backends/dsa-backend.js');
  let parsed;
  try {
    parsed = parseAttestation(doc.attestation);
  } catch (error) {
    if (isZeqKeyExError(error)) return { verified: false };
    throw error;
  }
  const summary = {
    identity: parsed.identity,
    serial: parsed.serial,
    not_before: parsed.notBefore,
    not_after: parsed.notAfter,
  };
  const verified = await checkAttestation(doc.attestation, {
    document: { ...doc, slug },
    identityPins: [parsed.identity],
    nowSeconds: parsed.notBefore,
    skewSeconds: 0,
    verify: (await loadSignatureVerifier()).verify,
  }).then(
    () => true,
    (error: unknown) => {
      if (isZeqKeyExError(error)) return false;
      throw error;
    },
  );
  return { ...summary, verified };
}
