/**
 * `zeq-keyex serve`'s log: one JSON line on stderr per refused request and per failure
 * (`--log-level warn`, the default), failures only (`error`) or nothing (`silent`). The lines carry
 * codes, statuses, methods and paths — never a body, a key, a token or a session id — and, in a worker of
 * `serve --workers`, the worker's number (`"worker":K`).
 * @module
 */
import { type LogFields, type Logger, loggablePath } from '../../responder/logger.js';
import type { FetchHandler } from '../server.js';
import { type CliIo, UsageError } from './args.js';

/** The levels of `--log-level`, quietest last. */
export const LOG_LEVELS = ['warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function logLevelArg(text: string): LogLevel {
  const level = LOG_LEVELS.find((candidate) => candidate === text);
  if (level === undefined)
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  return level;
}

/**
 * A logger writing one JSON line per event on stderr: `{"level","message",...fields}`. The
 * responder gives its logger codes, slugs, machine ids, routes and statuses only (logger.ts).
 * @param worker - the number of this worker of `serve --workers`, put in every line; `undefined`
 *   outside a worker.
 */
export function jsonLog(level: LogLevel, io: CliIo, worker?: number): Logger {
  const origin = worker === undefined ? {} : { worker };
  const line =
    (name: 'warn' | 'error') =>
    (message: string, fields?: LogFields): void => {
      io.stderr(JSON.stringify({ level: name, message, ...fields, ...origin }));
    };
  const ignore = (): void => undefined;
  return {
    warn: level === 'warn' ? line('warn') : ignore,
    error: level === 'silent' ? ignore : line('error'),
  };
}

/** The fields of a refused request's log line: the wire code of its JSON body, when it has one. */
async function wireCodeOf(response: Response): Promise<string | undefined> {
  if (response.headers.get('content-type') !== 'application/json') return undefined;
  try {
    const body = (await response.clone().json()) as { error?: unknown };
    return typeof body.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

/** The handler, logging one line per answer of status 400 or more (warn; error from 500). */
export function loggedRefusals(handler: FetchHandler, log: Logger): FetchHandler {
  return async (request) => {
    const response = await handler(request);
    if (response.status < 400) return response;
    const fields = {
      status: response.status,
      code: await wireCodeOf(response),
      method: request.method,
      path: loggablePath(new URL(request.url).pathname),
    };
    if (response.status >= 500) log.error('request failed', fields);
    else log.warn('request refused', fields);
    return response;
  };
}
