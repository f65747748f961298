/**
 * The Node adapter: turns a fetch handler `(Request) => Promise<Response>` — a responder's
 * `fetch`, or any other — into a `(req, res, next?)` listener for `node:http`, Express, Connect,
 * or Fastify's raw request, with the same streaming as `serve` (`server.ts`): the body is pulled
 * from the socket only as the handler reads it, so the responder's own body limits hold.
 *
 * A body parser that ran first (`express.json()`, `express.raw()`, body-parser, …) has read the
 * stream the handler needs, and a responder cannot see a body through it. Such a request is
 * refused, never passed on half-read: `ZeqKeyExError('body_consumed')` goes to `next(error)` when
 * there is a `next` (the app's error handler decides), and otherwise the answer is
 * `500 internal`; either way one line is logged, naming the method and path, never a body.
 *
 * Under a mount path (`app.use('/zeq', listener)`) Express rewrites `req.url`; the adapter serves
 * `req.originalUrl`, so the handler sees the full path (give the responder `basePath: '/zeq'`).
 *
 * Caveats: the request's origin is `http://localhost` unless the option says otherwise (the
 * `Host` header is the client's to choose, and the responder's routes depend on the path only);
 * the client address is attached to the request (`setClientAddress`) from the socket, or from
 * `X-Forwarded-For` of a `trustProxy`, as `serve` does.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ZeqKeyExError, isZeqKeyExError } from '../core/errors.js';
import { normaliseOrigin } from '../core/origin.js';
import { type Logger, loggablePath } from '../responder/logger.js';
import { parseTrustProxy } from './client-address.js';
import { type FetchHandler, respond } from './server.js';

/** Options of {@link toNodeListener}. */
export interface NodeListenerOptions {
  /**
   * The origin of the `Request`s the handler sees (`https://edge.example`).
   * @defaultValue 'http://localhost'
   */
  origin?: string;
  /**
   * The addresses of the reverse proxies in front of the app, whose `X-Forwarded-For` is believed
   * for the client address (as `serve`'s option of the same name).
   * @defaultValue none
   */
  trustProxy?: readonly string[];
  /**
   * Where a refused request (a body already consumed) or a handler that threw is reported.
   * @defaultValue `console`
   */
  logger?: Logger;
}

/** A Node request as frameworks hand it over: maybe with a parsed `body` and Express's `originalUrl`. */
export type NodeListenerRequest = IncomingMessage & {
  /** What a body parser made of the body, when one ran. */
  body?: unknown;
  /** The URL before a mount path was taken off it (Express, Connect). */
  originalUrl?: string;
  /** Set by body-parser when it read the body. */
  _body?: unknown;
};

/** A `(req, res, next?)` listener, for `node:http`'s `createServer` or as middleware. */
export type NodeListener = (
  req: NodeListenerRequest,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => void;

const CONSOLE_LOGGER: Logger = {
  warn: (message, fields) => {
    console.warn(JSON.stringify({ level: 'warn', message, ...fields }));
  },
  error: (message, fields) => {
    console.error(JSON.stringify({ level: 'error', message, ...fields }));
  },
};

const INTERNAL = JSON.stringify({ error: 'internal', message: 'internal error' });

/** Whether something read the request's body before the adapter. */
function bodyConsumed(req: NodeListenerRequest): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  return req.readableDidRead || req.readableEnded || req._body === true;
}

/** The path and query of a request, without anything a log must not hold. */
function pathOf(target: string): string {
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}

/**
 * Turns a fetch handler into a Node listener.
 * @param handler - the fetch handler, e.g. `responder.fetch`.
 * @param options - the origin, trusted proxies and logger.
 * @returns the listener.
 * @throws {TypeError} for a handler that is not a function, a malformed origin or `trustProxy`,
 *   or a logger without `warn` and `error`.
 * @example
 * ```ts
 * import express from 'express';
 * import { toNodeListener } from 'zeq-keyex/node';
 * const app = express();
 * app.use('/api/keyex', toNodeListener(responder.fetch)); // before any body parser
 * app.use(express.json());
 * ```
 */
export function toNodeListener(
  handler: FetchHandler,
  options: NodeListenerOptions = {},
): NodeListener {
  if (typeof handler !== 'function') throw new TypeError('handler must be a fetch handler');
  const origin = new URL(normaliseOrigin(options.origin ?? 'http://localhost')).origin;
  const trusted = parseTrustProxy(options.trustProxy);
  const logger = options.logger ?? CONSOLE_LOGGER;
  if (typeof logger.warn !== 'function' || typeof logger.error !== 'function')
    throw new TypeError('logger must have warn(message, fields) and error(message, fields)');

  return (req, res, next) => {
    const mounted = req.url;
    const full = typeof req.originalUrl === 'string' ? req.originalUrl : mounted;
    const path = loggablePath(pathOf(full ?? '/'));
    if (bodyConsumed(req)) {
      const error = new ZeqKeyExError(
        'body_consumed',
        `body_consumed: ${req.method ?? ''} ${path}: a body parser read the request body before the zeq-keyex handler; mount the handler before it`,
      );
      try {
        logger.error('request refused', { code: error.code, method: req.method, path });
      } catch {
        // A broken logger must not change the answer.
      }
      if (next !== undefined) next(error);
      else
        res
          .writeHead(500, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(INTERNAL);
      return;
    }
    req.url = full;
    const restore = (): void => {
      req.url = mounted;
    };
    const onError = (error: unknown): void => {
      restore();
      if (next !== undefined) {
        next(error);
        return;
      }
      try {
        // The code only: an exception's text could quote anything.
        logger.error('request failed', {
          code: isZeqKeyExError(error) ? error.code : 'unexpected',
          method: req.method,
          path,
        });
      } catch {
        // As above.
      }
      res
        .writeHead(500, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(INTERNAL);
    };
    void respond(handler, req, res, origin, trusted, onError).finally(restore);
  };
}
