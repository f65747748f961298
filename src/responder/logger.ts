/**
 * The responder's logger interface: two levels, a message and a few flat fields.
 *
 * Security caveat: nothing secret is ever passed to a logger — no key, seed, shared secret, record
 * key, ciphertext or the text of a caught exception (which could quote any of those). Fields are
 * restricted to primitives so a byte array cannot slip into a log line by accident; the SDK only
 * logs codes, slugs, machine ids, routes and statuses.
 * @module
 */

/** Flat, primitive-only fields of a log line. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** Where the responder reports what went wrong. `console` fits, as do pino and winston. */
export interface Logger {
  /** A request was refused for a reason an operator may want to see. */
  warn(message: string, fields?: LogFields): void;
  /** Something is wrong on the server side (a machine is unavailable, a store failed). */
  error(message: string, fields?: LogFields): void;
}

/**
 * A request path as a log line may show it: the session id of the records route
 * (`…/sessions/{id}/records`, spec §3.1) replaced by `{session_id}`. Log lines carry no session
 * ids: a log is read by more people than a session's two parties.
 * @param pathname - the path of a request's URL.
 * @returns the path to log.
 */
export function loggablePath(pathname: string): string {
  return pathname.replace(/\/sessions\/[^/]*\//, '/sessions/{session_id}/');
}

/** The default logger: says nothing. */
export const silentLogger: Logger = Object.freeze({
  warn(): void {},
  error(): void {},
});

/**
 * Checks a logger given in options.
 * @param value - the option value.
 * @throws {TypeError} unless it has `warn` and `error` functions.
 */
export function assertLogger(value: unknown): asserts value is Logger {
  const candidate = value as { warn?: unknown; error?: unknown } | null;
  if (
    typeof value !== 'object' ||
    candidate === null ||
    typeof candidate.warn !== 'function' ||
    typeof candidate.error !== 'function'
  ) {
    throw new TypeError(
      'logger must have warn(message, fields) and error(message, fields) functions',
    );
  }
}

/**
 * Wraps a logger so that a logger which throws can never change a response.
 * @param logger - the configured logger.
 * @returns a logger with the same output that never throws.
 */
export function safeLogger(logger: Logger): Logger {
  return {
    warn(message, fields): void {
      try {
        logger.warn(message, fields);
      } catch {
        // A broken logger must not turn a response into a 500.
      }
    },
    error(message, fields): void {
      try {
        logger.error(message, fields);
      } catch {
        // As above.
      }
    },
  };
}
