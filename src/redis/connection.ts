/**
 * The connection to Redis or Valkey: the one module that imports the `redis` package (node-redis,
 * an optional peer dependency), configured for a responder's stores:
 * - commands fail at once while the connection is down (no offline queue), so that the responder
 *   answers `503 unavailable` with `Retry-After` instead of queuing requests behind a dead server;
 * - the client reconnects by itself, forever, backing off up to two seconds, so that service
 *   resumes when Redis returns, without a restart;
 * - connection errors are reported to `onError` (never thrown, never an unhandled `'error'`
 *   event, which would end the process).
 *
 * Caveat: the URL may carry a password (`redis://:secret@host:6379`); it is never logged or put in
 * an error by this module.
 * @module
 */
import { createClient } from 'redis';
import type { RedisCommands } from './commands.js';

/** Options of {@link createRedisConnection}. */
export interface RedisConnectionOptions {
  /**
   * How long one connection attempt may take.
   * @defaultValue 2_000
   */
  connectTimeoutMs?: number;
  /** Told of each connection error (the client keeps reconnecting); never given the URL. */
  onError?: (error: Error) => void;
}

/** A connection to Redis, reconnecting by itself. */
export interface RedisConnection extends RedisCommands {
  /** Whether the connection is up now. */
  readonly isReady: boolean;
  /**
   * Asks Redis whether it answers (`PING`), for a readiness check.
   * @returns whether it answered `PONG`; never throws.
   */
  ping(): Promise<boolean>;
  /** Closes the connection (pending commands finish); the connection is not reopened. */
  close(): Promise<void>;
}

/** The longest wait between two reconnection attempts. */
const MAX_RECONNECT_DELAY_MS = 2_000;

/**
 * Opens a connection to Redis or Valkey. It returns at once and connects in the background;
 * commands sent before it is up, or while it is down, fail at once (`store_error` in the stores).
 * @param url - `redis://[[user]:password@]host[:port][/db]` or `rediss://…` (TLS).
 * @param options - connection timeout and error listener.
 * @returns the connection.
 * @throws {TypeError} when the URL is not a `redis:` or `rediss:` URL, or a timeout is not a
 *   positive integer.
 * @example
 * ```ts
 * const redis = createRedisConnection(process.env.ZEQ_REDIS_URL!, { onError: (e) => log(e.message) });
 * const stores = createRedisStores({ client: redis, fieldKey: process.env.ZEQ_FIELD_KEY! });
 * ```
 */
export function createRedisConnection(
  url: string,
  options: RedisConnectionOptions = {},
): RedisConnection {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:'))
    throw new TypeError('the Redis URL must be a redis:// or rediss:// URL');
  const connectTimeout = options.connectTimeoutMs ?? 2_000;
  if (!Number.isSafeInteger(connectTimeout) || connectTimeout < 1)
    throw new TypeError('connectTimeoutMs must be a positive integer');
  const onError = options.onError;
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout,
      reconnectStrategy: (retries: number) =>
        Math.min(50 * 2 ** Math.min(retries, 10), MAX_RECONNECT_DELAY_MS),
    },
  });
  client.on('error', (error: unknown) => {
    try {
      onError?.(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // A listener that throws must not end the process.
    }
  });
  let closed = false;
  // Connection failures are reported through 'error' and retried; this promise only settles.
  client.connect().catch(() => undefined);

  return {
    get isReady(): boolean {
      return client.isReady;
    },
    sendCommand(args: string[]): Promise<unknown> {
      return client.sendCommand(args);
    },
    async ping(): Promise<boolean> {
      try {
        const reply: unknown = await client.sendCommand(['PING']);
        return reply === 'PONG';
      } catch {
        return false;
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (client.isReady) {
        try {
          await client.close();
          return;
        } catch {
          // Fall through: drop the socket.
        }
      }
      client.destroy();
    },
  };
}
