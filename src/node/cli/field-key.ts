/**
 * `zeq-keyex field-key`: prints a fresh random field key (spec §5) for `ZEQ_FIELD_KEY`.
 *
 * Caveat: the one command that prints a secret, because that is what it is asked for. The key seals
 * every machine key at rest; it comes from the runtime's CSPRNG.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { FIELD_KEY_BYTES } from '../../core/constants.js';
import { type CliCommand, EXIT } from './args.js';

/** `zeq-keyex field-key`. */
export const fieldKeyCommand: CliCommand = {
  path: 'field-key',
  help: `Usage: zeq-keyex field-key

Prints a fresh random ${FIELD_KEY_BYTES}-byte field key as ${FIELD_KEY_BYTES * 2} hex characters, for ZEQ_FIELD_KEY. Keep it secret:
it seals every machine key at rest.`,
  options: {},
  maxPositionals: 0,
  run(_args, io) {
    io.stdout(randomBytes(FIELD_KEY_BYTES).toString('hex'));
    return EXIT.ok;
  },
};
