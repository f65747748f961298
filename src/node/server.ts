/**
 * Serves a fetch handler `(Request) => Promise<Response>` over Node's HTTP server — the adapter
 * that turns a responder into a real server.
 *
 * The `Request` is made from Node's message by `request.ts`: the responder's body reader takes the
 * body bytes off the connection when it asks for them, any other reader gets the body streamed
 * into the `Request` (never buffered here beyond the stream's high-water mark), so the handler's
 * own body limits hold: the stream pulls from the socket as the handler reads, and once the
 * handler cancels it (a body refused, unread or too large) the rest is read off the socket and
 * dropped, so that the answer still reaches the client. The responder's own JSON answers are
 * written in one go (`responder/prepared-response.ts`); any other `Response` is streamed out.
 * Errors thrown by the handler become a bare `500 internal` with no detail.
 *
 * `request.signal` (and a clone's) aborts when the client goes away before the response is
 * complete. It is made on first use: most handlers never look at it, and a followed signal is one
 * of the dearest parts of a `Request`.
 *
 * Limits against floods and slow clients ({@link SERVE_DEFAULTS}, each a {@link ServeOptions}
 * option): a connection cap (connections beyond it are closed as soon as they are accepted, never
 * queued), a time limit for the headers, for the whole request and for an idle keep-alive
 * connection, and a cap on the request line and headers (`431`). Node checks the headers and
 * request time limits on a sweep; its interval here is a quarter of the shorter limit, at most one
 * second, so a slow client is cut within about a second of its limit (Node's own sweep runs every
 * 30 seconds).
 *
 * Client identity: every request reaches the handler with the client's address attached to the
 * request object (`setClientAddress`; no header a client sends can set it), which the responder's
 * per-client limits read by default. The address is the socket's, unless the peer is
 * one of the `trustProxy` addresses: then it is the right-most `X-Forwarded-For` entry that is not
 * a trusted proxy. Without `trustProxy`, `X-Forwarded-For` is never believed.
 * @module
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { assertDurationMs, assertPositiveInteger } from '../core/limits.js';
import { parseTrustProxy } from './client-address.js';
import { preparedAnswerOf } from '../responder/prepared-response.js';
import { abortRequest, toRequest } from './request.js';

/** A standard fetch handler. */
export type FetchHandler = (request: Request) => Promise<Response>;

/** Options of {@link serve}. */
export interface ServeOptions {
  /** Interface to bind. @defaultValue '127.0.0.1' */
  host?: string;
  /** Port to bind (0 picks a free one). @defaultValue 8787 */
  port?: number;
  /**
   * Open connections at most; a connection beyond it is closed as soon as it is accepted (not
   * queued), and the client sees a reset or an immediate close.
   * @defaultValue 256
   */
  maxConnections?: number;
  /**
   * Time for a request's line and headers to arrive, from the connection's first byte (or the end
   * of the previous request); then `408` and the connection is closed.
   * @defaultValue 10000
   */
  headersTimeoutMs?: number;
  /**
   * Time for a whole request, body included, to arrive; then `408` and the connection is closed.
   * At least {@link ServeOptions.headersTimeoutMs}.
   * @defaultValue 30000
   */
  requestTimeoutMs?: number;
  /** Time an idle keep-alive connection is kept open. @defaultValue 5000 */
  keepAliveTimeoutMs?: number;
  /** Size of the request line and headers at most; a larger one is answered `431`. @defaultValue 8192 */
  maxHeaderBytes?: number;
  /**
   * The addresses of the reverse proxies in front of the server, whose `X-Forwarded-For` is
   * believed: for a request from one of them, the client's address is the right-most address of
   * `X-Forwarded-For` that is not one of them. From any other peer the header is ignored.
   * @defaultValue none: the client's address is always the socket's remote address
   */
  trustProxy?: readonly string[];
  /**
   * Serves HTTPS (`node:https`) with this certificate chain and private key, PEM, for a deployment
   * without a TLS-terminating proxy in front.
   * @defaultValue none: plain HTTP
   */
  tls?: {
    /** The certificate chain, PEM. */
    readonly cert: string | Uint8Array;
    /** The private key, PEM. */
    readonly key: string | Uint8Array;
  };
}

/** The connection limits {@link serve} applies when its options do not say otherwise. */
export const SERVE_DEFAULTS: {
  /** Open connections at most; one more is closed at once. */
  readonly maxConnections: number;
  /** Time for a client to send the request line and headers. */
  readonly headersTimeoutMs: number;
  /** Time for a client to send the whole request. */
  readonly requestTimeoutMs: number;
  /** Time an idle keep-alive connection is kept open. */
  readonly keepAliveTimeoutMs: number;
  /** Size of the request line and headers at most (`431` beyond). */
  readonly maxHeaderBytes: number;
} = Object.freeze({
  maxConnections: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 8_192,
});

/** The longest sweep interval of the headers and request time limits. */
const MAX_CHECK_INTERVAL_MS = 1_000;

/** A running server. */
export interface RunningServer {
  /** The underlying Node server. */
  readonly server: Server;
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  /** Stops accepting connections and closes idle ones. */
  close(): Promise<void>;
}

const INTERNAL = JSON.stringify({ error: 'internal', message: 'internal error' });
const INTERNAL_HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
} as const;

function ignore(): void {}

async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  // The responder's own JSON answers: status, headers and body at hand, written in one go, the
  // same bytes as below (`responder/prepared-response.ts`).
  const answer = preparedAnswerOf(response);
  if (answer !== undefined) {
    res.writeHead(answer.status, answer.headers as string[]).end(answer.body);
    return;
  }
  const headers: string[] = [];
  response.headers.forEach((value, name) => {
    headers.push(name, value);
  });
  res.writeHead(response.status, headers);
  const body = response.body;
  if (body === null) {
    res.end();
    return;
  }
  const reader = body.getReader();
  // A client that goes away must not leave the body stream (or this loop) waiting forever.
  let gone = false;
  const onClose = (): void => {
    gone = true;
    reader.cancel().catch(ignore);
  };
  res.on('close', onClose);
  try {
    // Each chunk is written once the next one is known, so that the last goes out with the end of
    // the message: a body of one chunk (every JSON answer) is one write to the socket, not two.
    // The bytes sent are the same.
    let pending: Uint8Array | undefined;
    for (;;) {
      const { done, value } = await reader.read();
      if (gone) break;
      if (done) {
        if (pending !== undefined) {
          res.end(pending);
          return;
        }
        break;
      }
      const chunk = pending;
      pending = value;
      if (chunk !== undefined && !res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const settle = (): void => {
            res.off('drain', settle);
            res.off('close', settle);
            resolve();
          };
          res.on('drain', settle);
          res.on('close', settle);
        });
      }
    }
  } finally {
    res.off('close', onClose);
  }
  if (!gone) res.end();
}

/**
 * Answers one Node request with `handler`: the request streamed in, the response streamed out,
 * the request's signal aborted when the client goes away. Shared with the Node adapter
 * (`adapter.ts`).
 * @param handler - the fetch handler.
 * @param req - the request.
 * @param res - its response.
 * @param origin - the origin the request's URL is resolved against.
 * @param trusted - the trusted proxies' addresses.
 * @param onError - given an exception the handler threw, instead of answering `500 internal`.
 */
export async function respond(
  handler: FetchHandler,
  req: IncomingMessage,
  res: ServerResponse,
  origin: string,
  trusted: ReadonlySet<string>,
  onError?: (error: unknown) => void,
): Promise<void> {
  let request: Request | undefined;
  // Abort only for a client that went away before the response was complete.
  res.once('close', () => {
    if (!res.writableFinished && request !== undefined) abortRequest(request);
  });
  let response: Response;
  try {
    request = toRequest(req, origin, trusted);
    response = await handler(request);
  } catch (error) {
    if (onError !== undefined) {
      onError(error);
      return;
    }
    response = new Response(INTERNAL, { status: 500, headers: INTERNAL_HEADERS });
  }
  try {
    await writeResponse(response, res);
  } catch {
    res.destroy();
  }
}

/** The `tls` option, checked; Node checks that the PEM parses when the server is made. */
function tlsOptions(
  value: ServeOptions['tls'],
): { cert: string | Buffer; key: string | Buffer } | undefined {
  if (value === undefined) return undefined;
  const pem = (part: unknown, name: string): string | Buffer => {
    if (typeof part === 'string' && part !== '') return part;
    if (part instanceof Uint8Array && part.length > 0) return Buffer.from(part);
    throw new TypeError(`tls.${name} must be a PEM string or bytes`);
  };
  if (typeof value !== 'object' || value === null) throw new TypeError('tls must be { cert, key }');
  return { cert: pem(value.cert, 'cert'), key: pem(value.key, 'key') };
}

/**
 * Serves `handler` over HTTP.
 * @param handler - the fetch handler, e.g. `responder.fetch`.
 * @param options - host, port and connection limits ({@link SERVE_DEFAULTS}).
 * @returns the running server, once it listens.
 * @throws {RangeError} for a port out of range, a limit that is not a positive integer, or a
 *   headers time limit above the request time limit.
 * @throws {TypeError} for a `trustProxy` that is not an array of IP addresses, or a malformed
 *   `tls` (Node's own error for a PEM that does not parse).
 */
export async function serve(
  handler: FetchHandler,
  options: ServeOptions = {},
): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8787;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new RangeError('port must be an integer in [0, 65535]');
  const maxConnections = assertPositiveInteger(
    options.maxConnections ?? SERVE_DEFAULTS.maxConnections,
    'maxConnections',
  );
  const headersTimeout = assertDurationMs(
    options.headersTimeoutMs ?? SERVE_DEFAULTS.headersTimeoutMs,
    'headersTimeoutMs',
  );
  const requestTimeout = assertDurationMs(
    options.requestTimeoutMs ?? SERVE_DEFAULTS.requestTimeoutMs,
    'requestTimeoutMs',
  );
  const keepAliveTimeout = assertDurationMs(
    options.keepAliveTimeoutMs ?? SERVE_DEFAULTS.keepAliveTimeoutMs,
    'keepAliveTimeoutMs',
  );
  const maxHeaderSize = assertPositiveInteger(
    options.maxHeaderBytes ?? SERVE_DEFAULTS.maxHeaderBytes,
    'maxHeaderBytes',
  );
  if (headersTimeout > requestTimeout)
    throw new RangeError('headersTimeoutMs must not exceed requestTimeoutMs');
  const trusted = parseTrustProxy(options.trustProxy);
  let origin = '';
  const serverOptions = {
    headersTimeout,
    requestTimeout,
    keepAliveTimeout,
    maxHeaderSize,
    connectionsCheckingInterval: Math.min(MAX_CHECK_INTERVAL_MS, Math.ceil(headersTimeout / 4)),
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    void respond(handler, req, res, origin, trusted);
  };
  const tls = tlsOptions(options.tls);
  const server: Server =
    tls === undefined
      ? createServer(serverOptions, listener)
      : createTlsServer({ ...serverOptions, ...tls }, listener);
  server.maxConnections = maxConnections;
  server.keepAliveTimeout = keepAliveTimeout;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `${tls === undefined ? 'http' : 'https'}://${shownHost}:${address.port}`;
  return {
    server,
    url: origin,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeIdleConnections();
      }),
  };
}
