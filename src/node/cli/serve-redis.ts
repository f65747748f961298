/**
 * The shared-store option of `zeq-keyex serve`: `--redis URL` (or `ZEQ_REDIS_URL`) keeps machine
 * keys, sessions, replay tags, Mode-B seeds, the record state of sessions and per-client rate
 * limits in Redis or Valkey
 * (`zeq-keyex/redis`), so that every `serve` given the same URL and field key acts as one
 * responder: handshakes and records may go through any of them.
 *
 * Caveats: the URL may carry a password, so it is never printed (prefer `ZEQ_REDIS_URL` to the
 * flag, which `ps` shows). Redis being unreachable never stops
 * `serve`: requests that need it are answered `503` until it returns, and `/readyz` says so.
 * @module
 */
import {
  type RedisConnection,
  type RedisStores,
  createRedisConnection,
  createRedisStores,
} from '../../redis.js';
import { type CliIo, type CommandArgs, UsageError, stringOption } from './args.js';

/** `zeq-keyex serve` lines for its help text. */
export const SERVE_REDIS_HELP: string = `Shared state (any number of serve processes acting as one responder):
  --redis URL                 keep keys, sessions, replay tags, Mode-B seeds, record state and
                              per-client rate limits in Redis or Valkey (redis://[:password@]host:port[/db], rediss:// for
                              TLS; also ZEQ_REDIS_URL, which ps does not show): every serve on
                              the same Redis and field key serves any handshake and any record
Health: GET /healthz (live) and GET /readyz (stores reachable, else 503).`;

/** The `serve` options this module reads (a fragment of its option table). */
export const SERVE_REDIS_OPTIONS: { readonly redis: { readonly type: 'string' } } = {
  redis: { type: 'string' },
};

/** Redis for one `serve`: its stores, its readiness, and how to let go of both. */
export interface SharedStores {
  readonly stores: RedisStores;
  /** Whether Redis answers now. */
  ready(): Promise<boolean>;
  /** Wipes the stores' keys and closes the connection. */
  close(): Promise<void>;
}

/**
 * The Redis URL `serve` was given: `--redis`, else `ZEQ_REDIS_URL`.
 * @param args - the parsed arguments.
 * @param io - the environment.
 * @returns the URL, or `undefined` for none.
 * @throws {UsageError} for an empty or malformed URL.
 */
export function redisUrlOf(args: CommandArgs, io: CliIo): string | undefined {
  const url = stringOption(args, 'redis') ?? io.env['ZEQ_REDIS_URL'];
  if (url === undefined) return undefined;
  if (!/^rediss?:\/\/[^\s]+$/.test(url))
    throw new UsageError('--redis (or ZEQ_REDIS_URL) must be a redis:// or rediss:// URL');
  return url;
}

/** The settings under which Redis keeps what the responder relies on (docs/deploying.md). */
const EXPECTED_SETTINGS = [
  ['appendonly', 'yes'],
  ['appendfsync', 'always'],
  ['maxmemory-policy', 'noeviction'],
] as const;

/**
 * Once Redis first answers, reads its persistence and eviction settings and warns about each that
 * can lose keys or acknowledged record state (a nonce reused): advice, never a refusal, and
 * silent when the user may not read the configuration.
 */
async function checkSettings(
  connection: RedisConnection,
  io: CliIo,
  isClosed: () => boolean,
): Promise<void> {
  while (!(await connection.ping())) {
    if (isClosed()) return;
    await new Promise((wait) => setTimeout(wait, 500).unref());
  }
  for (const [name, expected] of EXPECTED_SETTINGS) {
    let reply: unknown;
    try {
      reply = await connection.sendCommand(['CONFIG', 'GET', name]);
    } catch {
      return;
    }
    // `[name, value]` in RESP2; node-redis answers it as `{ name: value }`.
    const value: unknown = Array.isArray(reply)
      ? reply[1]
      : typeof reply === 'object' && reply !== null
        ? (reply as Record<string, unknown>)[name]
        : undefined;
    if (typeof value === 'string' && value !== expected)
      io.stderr(
        `warning: redis: ${name} is "${value}", not "${expected}": keys or record state may be lost (docs/deploying.md)`,
      );
  }
}

/**
 * Connects to Redis (in the background: `serve` starts even while Redis is down) and makes the
 * stores. Connection errors are printed once per change, without the URL.
 * @param url - the Redis URL.
 * @param fieldKey - the field key (checked).
 * @param io - where warnings go.
 * @returns the stores.
 * @throws {UsageError} when the URL is refused by the client.
 */
export function openSharedStores(url: string, fieldKey: string, io: CliIo): SharedStores {
  let lastError = '';
  let connection: RedisConnection;
  try {
    connection = createRedisConnection(url, {
      onError: (error) => {
        if (error.message === lastError) return;
        lastError = error.message;
        io.stderr(`warning: redis: ${error.message} (reconnecting)`);
      },
    });
  } catch {
    throw new UsageError('--redis (or ZEQ_REDIS_URL) must be a redis:// or rediss:// URL');
  }
  const stores = createRedisStores({ client: connection, fieldKey });
  let closed = false;
  void checkSettings(connection, io, () => closed);
  return {
    stores,
    async ready() {
      const ok = await connection.ping();
      if (ok) lastError = '';
      return ok;
    },
    async close() {
      closed = true;
      stores.close();
      await connection.close();
    },
  };
}
