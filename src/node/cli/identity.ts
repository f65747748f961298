/**
 * `zeq-keyex identity`: prints the identity to pin (spec §8: `hex(SHA-256(identity_key))`) of the
 * identity key kept in a store directory, making it with `--create`.
 *
 * Caveats: the field key comes from `ZEQ_FIELD_KEY` only and is never echoed. An existing identity
 * is never replaced: `--create` on a directory that holds one prints that one (`"created":false`).
 * An identity that does not open under the field key is an error (`identity_unavailable`), never
 * a reason to make another. The seed is stored sealed (§5) in `DIR/_identity.json`; keep a backup
 * of that file and of the field key, apart (docs/identity.md).
 * @module
 */
import { ZeqKeyExError } from '../../core/errors.js';
import { createIdentity } from '../../responder/identity.js';
import { createFileKeyStore } from '../file-key-store.js';
import { type CliCommand, EXIT, JSON_OPTION, UsageError, stringOption } from './args.js';
import { fieldKeyFrom } from './serve.js';

/** `zeq-keyex identity`. */
export const identityCommand: CliCommand = {
  path: 'identity',
  help: `Usage: zeq-keyex identity --store DIR [--create] [--json]

Prints the identity to pin (64 hex characters, SHA-256 of the ML-DSA-65 identity key, spec §8) of
the identity key kept sealed in DIR, the directory 'zeq-keyex serve --store DIR --identity' signs
key documents from.
  --store DIR   the key store directory (mode 0700; created so with --create)
  --create      make the identity key if DIR has none (an existing one is never replaced)
  --json        print one JSON line: {"ok":true,"identity","created"} or {"ok":false,"code","message"}
Without --create, a DIR with no identity key is an error (identity_unavailable), exit status 1.
Environment: ZEQ_FIELD_KEY (required) — the field key that seals the identity seed.`,
  options: {
    store: { type: 'string' },
    create: { type: 'boolean', default: false },
    json: JSON_OPTION,
  },
  maxPositionals: 0,
  async run(args, io) {
    const dir = stringOption(args, 'store');
    if (dir === undefined || dir === '') throw new UsageError('--store DIR is required');
    const fieldKey = fieldKeyFrom(io);
    const create = args.values['create'] === true;
    const store = createFileKeyStore(dir);
    if (!create && (await store.getIdentity()) === undefined) {
      throw new ZeqKeyExError(
        'identity_unavailable',
        `no identity key in ${dir}; make one with --create`,
      );
    }
    const { identity, created } = await createIdentity({ store, fieldKey, create });
    if (args.values['json'] === true) {
      io.stdout(JSON.stringify({ ok: true, identity, created }));
      return EXIT.ok;
    }
    io.stdout(identity);
    if (created) io.stderr(`created a new identity key in ${dir}`);
    return EXIT.ok;
  },
};
