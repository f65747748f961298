/**
 * `zeq-keyex identity`: prints the identity to pin (spec §8: `hex(SHA-256(identity_key))`) of the
 * identity key kept in a store directory or in Redis (`--redis`), making it with `--create`.
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
import {
  SERVE_REDIS_OPTIONS,
  type SharedStores,
  openSharedStores,
  redisUrlOf,
} from './serve-redis.js';

/** How long `identity --redis` waits for Redis to answer. */
const REDIS_WAIT_MS = 3_000;

/** Waits until Redis answers (the connection is made in the background). */
async function untilReady(shared: SharedStores): Promise<void> {
  const deadline = Date.now() + REDIS_WAIT_MS;
  while (!(await shared.ready())) {
    if (Date.now() >= deadline) throw new ZeqKeyExError('store_error', 'Redis does not answer');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `zeq-keyex identity`. */
export const identityCommand: CliCommand = {
  path: 'identity',
  help: `Usage: zeq-keyex identity (--store DIR | --redis URL) [--create] [--json]

Prints the identity to pin (64 hex characters, SHA-256 of the ML-DSA-65 identity key, spec §8) of
the identity key kept sealed in DIR, the directory 'zeq-keyex serve --store DIR --identity' signs
key documents from (or in Redis, for 'serve --redis URL --identity').
  --store DIR   the key store directory (mode 0700; created so with --create)
  --redis URL   the Redis or Valkey every 'serve --redis URL' shares (also ZEQ_REDIS_URL); with
                --create, the first identity stored wins and every other caller prints it
  --create      make the identity key if DIR has none (an existing one is never replaced)
  --json        print one JSON line: {"ok":true,"identity","created"} or {"ok":false,"code","message"}
Without --create, a DIR with no identity key is an error (identity_unavailable), exit status 1.
Environment: ZEQ_FIELD_KEY (required) — the field key that seals the identity seed.`,
  options: {
    store: { type: 'string' },
    ...SERVE_REDIS_OPTIONS,
    create: { type: 'boolean', default: false },
    json: JSON_OPTION,
  },
  maxPositionals: 0,
  async run(args, io) {
    const dir = stringOption(args, 'store');
    const url = redisUrlOf(args, io);
    if (dir !== undefined && url !== undefined)
      throw new UsageError('give either --store DIR or --redis URL, not both');
    if (url === undefined && (dir === undefined || dir === ''))
      throw new UsageError('--store DIR (or --redis URL) is required');
    const fieldKey = fieldKeyFrom(io);
    const create = args.values['create'] === true;
    const shared = url === undefined ? undefined : openSharedStores(url, fieldKey, io);
    const where = dir ?? 'Redis';
    try {
      if (shared !== undefined) await untilReady(shared);
      const store = shared?.stores.keyStore ?? createFileKeyStore(dir as string);
      if (!create && (await store.getIdentity()) === undefined) {
        throw new ZeqKeyExError(
          'identity_unavailable',
          `no identity key in ${where}; make one with --create`,
        );
      }
      const { identity, created } = await createIdentity({ store, fieldKey, create });
      if (args.values['json'] === true) {
        io.stdout(JSON.stringify({ ok: true, identity, created }));
        return EXIT.ok;
      }
      io.stdout(identity);
      if (created) io.stderr(`created a new identity key in ${where}`);
      return EXIT.ok;
    } finally {
      await shared?.close();
    }
  },
};
