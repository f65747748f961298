/**
 * The `Request` a Node message becomes under `serve` and the Node adapter (`server.ts`,
 * `adapter.ts`): made on first use of anything the responder does not need.
 *
 * The responder reads a request's method, URL and headers, and its body through `readBody`
 * (`responder/http.ts`). A {@link LazyRequest} answers those from Node's message: the URL is the
 * origin and the target, the headers a `Headers` made on first use, and the body bytes are read
 * straight off the connection when `readBody` asks (a body source, `responder/request-body.ts`),
 * never before. The first use of anything else (`body`, `signal`, `clone()`, `text()`, …) makes
 * the real `Request` — a {@link NodeRequest} with the body streamed as it is read — and from then
 * on everything is that request's. Either way the handler sees what a `Request` made from the
 * message would show: the same URL, method, headers and body bytes.
 *
 * Caveats: the body is read only once, by one of the two ways; a body read as bytes leaves a used
 * body behind (`bodyUsed`, and `text()` rejects), as reading a `Request`'s body does. A request
 * whose method a `Request` refuses (`TRACE`) or that a lazy request does not cover is made a real
 * `Request` at once, with the same error as before.
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { clientAddressOf as attachedAddressOf, setClientAddress } from '../responder/admission.js';
import { allowPreparedAnswers } from '../responder/prepared-response.js';
import { type BodySource, setBodySource, takeBodySource } from '../responder/request-body.js';
import { clientAddressOf } from './client-address.js';

function ignore(): void {}

/**
 * A request whose `signal` is its connection's: made on first use, aborted (by `NodeRequest.abort`)
 * when the client goes away before the response is complete. A `Request` made with a `signal`
 * option follows it through a listener, a weak reference and a finalisation registry; this one
 * costs nothing until a handler asks for it.
 */
class NodeRequest extends Request {
  #controller: AbortController | undefined;
  #aborted = false;
  #clones: NodeRequest[] | undefined;

  override get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  /** A clone whose signal aborts with this one's, as a clone's signal follows its original's. */
  override clone(): Request {
    const copy = new NodeRequest(super.clone());
    const address = attachedAddressOf(this);
    if (address !== undefined) setClientAddress(copy, address);
    if (this.#aborted) NodeRequest.abort(copy);
    else (this.#clones ??= []).push(copy);
    return copy;
  }

  /** Aborts the request's signal (and its clones'), now or when it is made. */
  static abort(request: NodeRequest): void {
    if (request.#aborted) return;
    request.#aborted = true;
    request.#controller?.abort();
    for (const copy of request.#clones ?? []) NodeRequest.abort(copy);
  }
}

/**
 * Reads a whole message body of at most `maxBytes` straight off the connection, as `readCapped`
 * reads a stream: each chunk copied off the parser's buffer, and as soon as the total passes the
 * cap the rest is read off the socket and dropped (so that the answer still reaches the client).
 */
function readMessage(req: IncomingMessage, maxBytes: number): Promise<Uint8Array | undefined> {
  // A client that went away before the responder asked: its `close` has come and gone.
  if (req.destroyed) return Promise.reject(new Error('the request body was cut short'));
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const settle = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      // A late error of a message nobody reads any more must not become an uncaught one.
      req.on('error', ignore);
    };
    function onData(chunk: Buffer): void {
      total += chunk.byteLength;
      if (total > maxBytes) {
        settle();
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(new Uint8Array(chunk));
    }
    function onEnd(): void {
      settle();
      if (chunks.length === 1) resolve(chunks[0]);
      else resolve(new Uint8Array(Buffer.concat(chunks, total)));
    }
    function onError(error: unknown): void {
      settle();
      reject(error instanceof Error ? error : new Error('the request body failed'));
    }
    function onClose(): void {
      // Closed before its end: the client went away mid-body.
      settle();
      reject(new Error('the request body was cut short'));
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** The methods a lazy request covers: those a `Request` keeps as they are. */
const LAZY_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
  'PATCH',
]);

/**
 * Targets whose URL is the origin and the target as they are: segments of unreserved characters,
 * none starting with a dot (so no `.` or `..` to resolve), nothing to percent-encode, no query.
 */
const PLAIN_TARGET = /^(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*\/?$/;

/** HTTP whitespace at either end of a header value, which `Headers` strips. */
const EDGE_WHITESPACE = /^[\t\n\r ]|[\t\n\r ]$/;

/** How far a lazy request's body has gone. */
type BodyState = 'none' | 'unread' | 'taken';

/** A `Request` made on first use; its prototype is `Request.prototype`'s (below). */
class LazyRequest {
  readonly #message: IncomingMessage;
  readonly #url: string;
  readonly #address: string | undefined;
  #headers: Headers | undefined;
  #body: BodyState;
  #request: NodeRequest | undefined;
  #aborted = false;

  constructor(message: IncomingMessage, url: string, address: string | undefined) {
    this.#message = message;
    this.#url = url;
    this.#address = address;
    this.#body = message.method === 'GET' || message.method === 'HEAD' ? 'none' : 'unread';
  }

  get method(): string {
    return this.#message.method as string;
  }

  get url(): string {
    return this.#url;
  }

  get headers(): Headers {
    return (this.#headers ??= new Headers(headersOf(this.#message.headers)));
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.#body === 'none' ? null : LazyRequest.real(this).body;
  }

  get bodyUsed(): boolean {
    if (this.#body === 'none') return false;
    if (this.#body === 'taken' && this.#request === undefined) return true;
    return LazyRequest.real(this).bodyUsed;
  }

  /**
   * The body as a source the responder reads or drops once (`responder/request-body.ts`); making
   * the real request takes it back off the request first (the body is that request's then).
   */
  static bodySource(lazy: LazyRequest): BodySource {
    const message = lazy.#message;
    return {
      read: (maxBytes) => {
        lazy.#body = 'taken';
        return readMessage(message, maxBytes);
      },
      discard: () => {
        lazy.#body = 'taken';
        // Read off the socket and dropped, as a cancelled body stream is.
        message.on('error', ignore);
        message.resume();
      },
      header: (name) => LazyRequest.header(lazy, name),
    };
  }

  /**
   * A header as `lazy.headers.get(name)` answers it, without making the `Headers` when Node's
   * value is already that answer: a header the message does not have, or one string with no
   * leading or trailing whitespace (`Headers` strips it). Node's parser lowercases names, keeps one
   * `content-type` and one `content-length`, joins other repeated headers with `, ` as `Headers`
   * does, and refuses the characters `Headers` refuses. A `Headers` from a handshake's message
   * costs about 2–4 µs, more than the rest of reading its headers; anything else goes through it.
   */
  static header(lazy: LazyRequest, name: string): string | null {
    if (lazy.#headers === undefined) {
      const value: unknown = lazy.#message.headers[name];
      if (value === undefined) return null;
      if (typeof value === 'string' && !EDGE_WHITESPACE.test(value)) return value;
    }
    return lazy.headers.get(name);
  }

  /** The real request, made on first use. */
  static real(lazy: LazyRequest): NodeRequest {
    if (lazy.#request !== undefined) return lazy.#request;
    // The body can no longer be handed over as bytes: it is this request's now.
    takeBodySource(lazy as unknown as Request);
    const message = lazy.#message;
    const init: RequestInit & { duplex?: 'half' } = {
      method: message.method as string,
      headers: lazy.#headers ?? headersOf(message.headers),
    };
    if (lazy.#body === 'unread') {
      init.body = bodyStream(message);
      init.duplex = 'half';
    } else if (lazy.#body === 'taken') {
      // Read already: a used body, as a `Request`'s is once read.
      init.body = new ReadableStream<Uint8Array>();
      init.duplex = 'half';
    }
    const request = new NodeRequest(lazy.#url, init);
    if (lazy.#body === 'taken') request.body?.cancel().catch(ignore);
    if (lazy.#address !== undefined) setClientAddress(request, lazy.#address);
    if (lazy.#aborted) NodeRequest.abort(request);
    lazy.#request = request;
    return request;
  }

  /** Aborts the request's signal, now or when the real request is made. */
  static abort(lazy: LazyRequest): void {
    lazy.#aborted = true;
    if (lazy.#request !== undefined) NodeRequest.abort(lazy.#request);
  }
}

/**
 * The body of a request as a web stream that pulls from the socket as it is read.
 *
 * Like `Readable.toWeb`, with a queue of the message's high-water mark and each chunk copied off
 * the parser's buffer. Unlike it, nothing is enqueued once the stream was cancelled or closed: a
 * refused body that was still arriving must not reach a closed stream (that throws, outside any
 * request, and stops the server). After a cancel the rest is discarded, never buffered.
 */
function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  let controller: ReadableStreamDefaultController<Uint8Array>;
  let settled = false;
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    for (const [event, listener] of listeners) req.off(event, listener);
    // A late error of a message nobody reads any more must not become an uncaught one.
    req.on('error', ignore);
    return true;
  };
  const listeners: readonly [string, Parameters<IncomingMessage['on']>[1]][] = [
    ['data', onData],
    ['end', onEnd],
    ['error', onError],
    ['close', onClose],
  ];
  function onData(chunk: Buffer): void {
    if (settled) return;
    controller.enqueue(new Uint8Array(chunk));
    if ((controller.desiredSize ?? 0) <= 0) req.pause();
  }
  function onEnd(): void {
    if (settle()) controller.close();
  }
  function onError(error: unknown): void {
    if (settle()) controller.error(error);
  }
  function onClose(): void {
    // Closed before its end: the client went away mid-body.
    if (settle()) controller.error(new Error('the request body was cut short'));
  }
  const stream = new ReadableStream<Uint8Array>(
    {
      start(c): void {
        controller = c;
      },
      pull(): void {
        req.resume();
      },
      cancel(): void {
        // The rest of the body is read off the socket and dropped, as Node does with a body
        // nobody reads: the answer still reaches the client, and the connection stays usable.
        if (settle()) req.resume();
      },
    },
    { highWaterMark: req.readableHighWaterMark, size: (chunk) => chunk.byteLength },
  );
  req.pause();
  for (const [event, listener] of listeners) req.on(event, listener);
  return stream;
}

/** The message's headers as `Request` init: the parsed object itself when every value is a string. */
function headersOf(source: IncomingHttpHeaders): HeadersInit {
  const names = Object.keys(source);
  for (const name of names) {
    if (typeof source[name] === 'string') continue;
    // An array (`set-cookie`): one entry per value.
    const pairs: [string, string][] = [];
    for (const key of names) {
      const value = source[key];
      if (typeof value === 'string') pairs.push([key, value]);
      else if (value !== undefined) for (const v of value) pairs.push([key, v]);
    }
    return pairs;
  }
  return source as Record<string, string>;
}

// Every other getter and method of `Request.prototype` is the real request's, looked up on it (so
// that `NodeRequest`'s own `signal` and `clone` answer), so that a lazy request behaves as one.
for (const name of Object.getOwnPropertyNames(Request.prototype)) {
  if (name === 'constructor' || Object.hasOwn(LazyRequest.prototype, name)) continue;
  const descriptor = Object.getOwnPropertyDescriptor(Request.prototype, name);
  if (descriptor?.get !== undefined) {
    Object.defineProperty(LazyRequest.prototype, name, {
      configurable: true,
      get(this: LazyRequest): unknown {
        return Reflect.get(LazyRequest.real(this), name);
      },
    });
  } else if (typeof descriptor?.value === 'function') {
    Object.defineProperty(LazyRequest.prototype, name, {
      configurable: true,
      writable: true,
      value(this: LazyRequest, ...args: unknown[]): unknown {
        const real = LazyRequest.real(this);
        const method = Reflect.get(real, name) as (...args: unknown[]) => unknown;
        return method.apply(real, args);
      },
    });
  }
}
Object.setPrototypeOf(LazyRequest.prototype, Request.prototype);

/**
 * The `Request` of a Node message: a lazy one where it can be, else a real one made at once.
 * @param req - the message.
 * @param origin - the origin its URL is resolved against.
 * @param trusted - the trusted proxies' addresses (for the client address).
 * @returns the request, its client address attached.
 * @throws {TypeError} as `new Request` does, for a method it refuses.
 */
export function toRequest(
  req: IncomingMessage,
  origin: string,
  trusted: ReadonlySet<string>,
): Request {
  const method = req.method ?? 'GET';
  const target = req.url ?? '/';
  const address = clientAddressOf(req, trusted);
  let request: Request;
  if (LAZY_METHODS.has(method) && PLAIN_TARGET.test(target)) {
    const lazy = new LazyRequest(req, origin + target, address);
    request = lazy as unknown as Request;
    if (method !== 'GET' && method !== 'HEAD') setBodySource(request, LazyRequest.bodySource(lazy));
  } else {
    // An origin-form target (`/path?query`) needs no second URL parse; anything else (`//host/x`,
    // absolute-form, `*`) is resolved against the origin as the URL standard says.
    const url =
      target.startsWith('/') && !target.startsWith('//')
        ? origin + target
        : new URL(target, origin).href;
    const headers = headersOf(req.headers);
    request =
      method === 'GET' || method === 'HEAD'
        ? new NodeRequest(url, { method, headers })
        : new NodeRequest(url, {
            method,
            headers,
            body: bodyStream(req),
            duplex: 'half',
          } as RequestInit);
  }
  if (address !== undefined) setClientAddress(request, address);
  // The server writes the responder's prepared answers itself (`server.ts`, `writeResponse`).
  allowPreparedAnswers(request);
  return request;
}

/**
 * Aborts a request's signal (and its clones'), now or when it is made: the client went away
 * before the response was complete.
 * @param request - a request {@link toRequest} made.
 */
export function abortRequest(request: Request): void {
  if (request instanceof LazyRequest) LazyRequest.abort(request);
  else if (request instanceof NodeRequest) NodeRequest.abort(request);
}
