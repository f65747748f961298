/**
 * Serves a fetch handler `(Request) => Promise<Response>` over Node's HTTP server — the adapter
 * that turns a responder into a real server.
 *
 * The request body is streamed into the `Request` (never buffered here), so the handler's own
 * body limits hold. Errors thrown by the handler become a bare `500 internal` with no detail.
 * @module
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

/** A standard fetch handler. */
export type FetchHandler = (request: Request) => Promise<Response>;

/** Options of {@link serve}. */
export interface ServeOptions {
  /** Interface to bind. @defaultValue '127.0.0.1' */
  host?: string;
  /** Port to bind (0 picks a free one). @defaultValue 8787 */
  port?: number;
}

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

function toRequest(req: IncomingMessage, origin: string, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(new URL(req.url ?? '/', origin), {
    method,
    headers,
    signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
  } as RequestInit);
}

async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, headers);
  if (response.body === null) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  // A client that goes away must not leave the body stream (or this loop) waiting forever.
  let gone = false;
  const onClose = (): void => {
    gone = true;
    void reader.cancel().catch(() => undefined);
  };
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || gone) break;
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const settle = (): void => {
            res.off('drain', settle);
            res.off('close', settle);
            resolve();
          };
          res.once('drain', settle);
          res.once('close', settle);
        });
      }
    }
  } finally {
    res.off('close', onClose);
  }
  if (!gone) res.end();
}

/**
 * Serves `handler` over HTTP.
 * @param handler - the fetch handler, e.g. `responder.fetch`.
 * @param options - host and port.
 * @returns the running server, once it listens.
 */
export async function serve(handler: FetchHandler, options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8787;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError('port must be an integer in [0, 65535]');
  let origin = '';
  const server = createServer((req, res) => {
    const controller = new AbortController();
    // Abort only for a client that went away before the response was complete: an abort builds
    // a DOMException, which every finished request would otherwise pay for.
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    void (async () => {
      let response: Response;
      try {
        response = await handler(toRequest(req, origin, controller.signal));
      } catch {
        response = new Response(INTERNAL, { status: 500, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
      }
      try {
        await writeResponse(response, res);
      } catch {
        res.destroy();
      }
    })();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `http://${shownHost}:${address.port}`;
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
