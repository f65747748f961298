/**
 * HTTP for the initiator, through ky — the only module that imports it. The client, the Mode-B
 * admin client and the responder's Mode-B peer fetch all send their requests here.
 *
 * Every failure becomes a {@link ZeqKeyExError}: `network_error`, `timeout`, `aborted`,
 * `http_error` (with the status and the responder's wire `error` code, spec §7), `response_too_large`
 * (spec §2.1: a body over the limit is refused without buffering more than the limit), and
 * `malformed_response` (a JSON answer that is not a JSON object). GET requests may be retried with
 * backoff; POST requests never are, since a handshake must not be sent twice.
 *
 * Caveats: the options take the SDK's own types ({@link FetchFunction}, {@link TransportHooks}),
 * never ky's, so ky can change without changing the API. Only short checked fields of an error
 * body (its code, the fingerprints of a mismatch) reach an error; the peer's free text never does.
 * @module
 */
import ky, { type KyInstance, type Options, isHTTPError } from 'ky';
import { MAX_RESPONSE_BYTES } from '../core/constants.js';
import { ZeqKeyExError, isZeqKeyExError } from '../core/errors.js';
import { isFingerprint } from '../core/identifiers.js';
import { isJsonObject, jsonString, parseJsonObject } from '../core/json.js';
import { readCapped } from '../core/read-capped.js';

/**
 * A `fetch` as the SDK calls it: the client's, the Mode-B admin client's and the Mode-B peer
 * fetch's. A fetch handler fits too, synchronous or not: a responder's `fetch`, Hono's `app.fetch`.
 */
export type FetchFunction = (input: Request, init?: RequestInit) => Response | Promise<Response>;

/**
 * The SDK's request hooks; the transport adapts them to ky's, so no ky type reaches an option.
 * A hook that throws fails the request (`network_error`).
 */
export interface TransportHooks {
  /**
   * Called before every request is sent, e.g. to add a header: `request.headers.set('authorization', …)`.
   * @param request - the request about to be sent; its headers may be changed.
   */
  beforeRequest?: (request: Request) => void | Promise<void>;
  /**
   * Called with every response before its body is read, to observe it (status, headers, timing).
   * @param request - the request it answers.
   * @param response - a copy of the response.
   */
  afterResponse?: (request: Request, response: Response) => void | Promise<void>;
}

/** Options of the SDK's HTTP transport (`createTransport`), which the client takes as well. */
export interface TransportOptions {
  /** A `fetch` to use instead of the global one (e.g. a responder's handler, for tests). */
  fetch?: FetchFunction;
  /** Headers sent with every request. */
  headers?: HeadersInit;
  /** Time limit per request, headers and body included. @defaultValue 10000 */
  timeoutMs?: number;
  /** How many times a GET may be retried (never a POST). @defaultValue 2 */
  retry?: number;
  /** Request hooks, e.g. to add authentication or log requests. */
  hooks?: TransportHooks;
  /** A signal that aborts every request of this transport. */
  signal?: AbortSignal;
  /** Largest response body accepted. @defaultValue 65536 (spec §2.1) */
  maxResponseBytes?: number;
}

/** A response whose status was 2xx. */
export interface TransportResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** Per-request options. */
export interface RequestOptions {
  signal?: AbortSignal | undefined;
  headers?: HeadersInit;
}

/** The initiator's HTTP surface. */
export interface Transport {
  /** GET a JSON object (retried on transient failures). */
  getJson(
    url: string,
    options?: RequestOptions,
  ): Promise<TransportResponse<Record<string, unknown>>>;
  /** POST a JSON body and read a JSON object as the answer (never retried). */
  postJson(
    url: string,
    body: unknown,
    options?: RequestOptions,
  ): Promise<TransportResponse<Record<string, unknown>>>;
  /** POST bytes and read bytes (never retried). */
  postBytes(
    url: string,
    body: Uint8Array,
    options?: RequestOptions & { maxResponseBytes?: number },
  ): Promise<TransportResponse<Uint8Array>>;
}

/**
 * Validates transport options (programmer input) and creates the transport.
 * @param options - see {@link TransportOptions}.
 * @returns the transport.
 * @throws {RangeError} for a non-positive timeout, a negative retry count or response limit.
 * @throws {TypeError} for hooks that are not functions.
 */
export function createTransport(options: TransportOptions = {}): Transport {
  // Long only as a closure: the options are validated once here; `send` is the one request path.
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be > 0');
  const retry = options.retry ?? 2;
  if (!Number.isInteger(retry) || retry < 0) throw new RangeError('retry must be an integer >= 0');
  const maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  if (!Number.isInteger(maxResponseBytes) || maxResponseBytes <= 0)
    throw new RangeError('maxResponseBytes must be an integer > 0');

  const base: KyInstance = ky.create({
    ...(options.fetch === undefined ? {} : { fetch: asyncFetch(options.fetch) }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.hooks === undefined ? {} : { hooks: kyHooks(options.hooks) }),
    // The deadline below covers headers and body together; ky's own timer is not used.
    timeout: false,
    // ky throws (and may retry a GET) on these; any other status is read as a response.
    throwHttpErrors: (status: number) => [408, 429, 500, 502, 503, 504].includes(status),
  });

  /** One request within the deadline and the body limit; every failure is a {@link ZeqKeyExError}. */
  async function send(
    url: string,
    call: RequestOptions,
    limit: number,
    accept: string,
    init: Options,
  ): Promise<TransportResponse<Uint8Array>> {
    const where = whereOf(init.method ?? 'get', url);
    const deadline = new AbortController();
    const timer = setTimeout(
      () =>
        deadline.abort(
          new ZeqKeyExError('timeout', `${where.text} did not complete within ${timeoutMs} ms`, {
            method: where.method,
            url: where.url,
          }),
        ),
      timeoutMs,
    );
    const signals = [deadline.signal, options.signal, call.signal].filter((s) => s !== undefined);
    // One signal needs no composite (each costs a few microseconds and a weak reference).
    const signal = signals.length > 1 ? AbortSignal.any(signals) : deadline.signal;
    try {
      const headers = new Headers(call.headers);
      headers.set('accept', accept);
      if (init.body) headers.set('content-type', 'application/octet-stream');
      let thrown = false;
      const response = await abortable(
        base(url, { retry: 0, ...init, signal, headers }),
        signal,
      ).catch((error: unknown) => {
        if (!isHTTPError(error)) throw error;
        thrown = true;
        return error.response;
      });
      // A status ky threw on is an http_error whatever its body does.
      const body = await readBody(response, limit, signal, where).catch((error: unknown) => {
        if (thrown) return new Uint8Array(0);
        throw error;
      });
      if (!response.ok) throw httpError(response.status, body, where);
      return { status: response.status, headers: response.headers, body };
    } catch (error) {
      if (isZeqKeyExError(error)) throw error;
      // The deadline first, then the caller's signals (the combined signal aborted, the deadline
      // not), then what the error itself says.
      const name = error instanceof Error ? error.name : '';
      const code = deadline.signal.aborted
        ? 'timeout'
        : signal.aborted
          ? 'aborted'
          : name === 'TimeoutError'
            ? 'timeout'
            : name === 'AbortError'
              ? 'aborted'
              : 'network_error';
      const message =
        code === 'network_error'
          ? `${where.text} failed: ${reasonOf(error)}`
          : code === 'aborted'
            ? `${where.text} was aborted`
            : `${where.text} did not complete in time`;
      throw new ZeqKeyExError(code, message, {
        cause: error,
        method: where.method,
        url: where.url,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async function json(
    url: string,
    call: RequestOptions,
    init: Options,
  ): Promise<TransportResponse<Record<string, unknown>>> {
    const response = await send(url, call, maxResponseBytes, 'application/json', init);
    const body = parseJsonObject(response.body);
    if (body === undefined) {
      const where = whereOf(init.method ?? 'get', url);
      throw new ZeqKeyExError(
        'malformed_response',
        `${where.text}: the response is not a JSON object`,
        {
          status: response.status,
          method: where.method,
          url: where.url,
        },
      );
    }
    return { ...response, body };
  }

  return {
    // Only a GET may be retried: a handshake or a record must not be sent twice.
    getJson: (url, call = {}) => json(url, call, { method: 'get', retry }),
    postJson: (url, body, call = {}) => json(url, call, { method: 'post', json: body }),
    postBytes: (url, body, call = {}) =>
      send(url, call, call.maxResponseBytes ?? maxResponseBytes, 'application/octet-stream', {
        method: 'post',
        body: body as BodyInit,
      }),
  };
}

/**
 * Settles with `promise`, or rejects with the signal's reason as soon as it aborts — so a
 * `fetch` (or a body stream) that ignores its signal cannot outlive the deadline.
 */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    // Handled either way: a rejection after an abort is not left unhandled.
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** ky hooks that call the SDK's own. */
function kyHooks(hooks: TransportHooks): NonNullable<Options['hooks']> {
  if (typeof hooks !== 'object' || hooks === null) throw new TypeError('hooks must be an object');
  const { beforeRequest, afterResponse } = hooks;
  if (beforeRequest !== undefined && typeof beforeRequest !== 'function')
    throw new TypeError('hooks.beforeRequest must be a function');
  if (afterResponse !== undefined && typeof afterResponse !== 'function')
    throw new TypeError('hooks.afterResponse must be a function');
  return {
    // Each returns nothing, so ky sends the request and keeps the response it was given.
    beforeRequest:
      beforeRequest === undefined
        ? []
        : [
            async (request) => {
              await beforeRequest(request);
            },
          ],
    afterResponse:
      afterResponse === undefined
        ? []
        : [
            async (request, _options, response) => {
              await afterResponse(request, response);
            },
          ],
  };
}

/**
 * Reads a body within `limit` bytes (spec §2.1): a larger declared length is refused unread, and a
 * body that grows past the limit is refused as soon as it does, never buffering more.
 */
async function readBody(
  response: Response,
  limit: number,
  signal: AbortSignal,
  where: Where,
): Promise<Uint8Array> {
  const declared = response.headers.get('content-length');
  const declaredTooLarge = /^\d+$/.test(declared ?? '') && Number(declared) > limit;
  const body = declaredTooLarge ? undefined : await readCapped(response.body, limit, signal);
  if (body === undefined) {
    void response.body?.cancel().catch(() => undefined);
    throw new ZeqKeyExError(
      'response_too_large',
      `${where.text}: the response is larger than ${limit} bytes`,
      { status: response.status, method: where.method, url: where.url },
    );
  }
  // A body that ended as the deadline or the caller aborted still counts as aborted.
  signal.throwIfAborted();
  return body;
}

/**
 * An error body as a JSON object. Decoded leniently (malformed UTF-8 is replaced, not refused): an
 * error answer whose free-text message is mangled still names its code.
 */
function parseErrorBody(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return isJsonObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An `http_error`, with the responder's wire code when its body names a plain one (spec §7), and
 * the two fingerprints a `fingerprint_mismatch` body names (§4.1) when both are fingerprints. Only
 * these bounded, checked fields are carried over; the peer's free text never is.
 */
function httpError(status: number, bytes: Uint8Array, where: Where): ZeqKeyExError {
  const body = parseErrorBody(bytes);
  const code = body === undefined ? undefined : jsonString(body, 'error');
  const responseCode = code !== undefined && /^[a-z][a-z0-9_]{0,63}$/.test(code) ? code : undefined;
  const expectedFingerprint =
    body === undefined ? undefined : jsonString(body, 'expected_fingerprint');
  const actualFingerprint = body === undefined ? undefined : jsonString(body, 'actual_fingerprint');
  // The responder's code first: it is what a reader acts on (`unknown_machine: GET … answered 404`).
  const answered = `${where.text} answered HTTP ${status}`;
  return new ZeqKeyExError(
    'http_error',
    responseCode === undefined ? answered : `${responseCode}: ${answered}`,
    {
      status,
      method: where.method,
      url: where.url,
      ...(responseCode === undefined ? {} : { responseCode }),
      ...(isFingerprint(expectedFingerprint) && isFingerprint(actualFingerprint)
        ? { expectedFingerprint, actualFingerprint }
        : {}),
    },
  );
}

/** Where a request went, as errors name it: never credentials, a query or a fragment. */
interface Where {
  /** The upper-case method. */
  readonly method: string;
  /** The URL without userinfo, query or fragment. */
  readonly url: string;
  /** `METHOD URL`. */
  readonly text: string;
}

function whereOf(method: string, url: string): Where {
  const upper = method.toUpperCase();
  let shown: string;
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    parsed.hash = '';
    shown = parsed.href;
  } catch {
    shown = '(malformed URL)';
  }
  // Any other scheme (`mailto:`, `data:`) shows no more than its scheme.
  if (!/^https?:/.test(shown) && shown !== '(malformed URL)')
    shown = `${shown.split(':')[0] ?? ''}:…`;
  return { method: upper, url: shown, text: `${upper} ${shown}` };
}

/** The longest reason of a `network_error` message. */
const MAX_REASON_CHARS = 200;

/**
 * Why a request failed, in words: the error's message and the system codes of its causes
 * (`fetch failed (ECONNREFUSED)`), bounded.
 */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const codes: string[] = [];
  let cause: unknown = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; depth < 4 && typeof cause === 'object' && cause !== null; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,40}$/.test(code)) codes.push(code);
    cause = (cause as { cause?: unknown }).cause;
  }
  // A runtime's message may quote the URL (`Request cannot be constructed from a URL that
  // includes credentials: …`): every URL in it is shown as errors show URLs.
  const scrubbed = message.replace(
    /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi,
    (url) => whereOf('', url).url,
  );
  const reason = codes.length === 0 ? scrubbed : `${scrubbed} (${codes.join(', ')})`;
  return reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}…` : reason;
}

/** A fetch as ky calls it: always a promise, a synchronous throw turned into a rejection. */
function asyncFetch(fetchImpl: FetchFunction): typeof fetch {
  return (async (input: Request, init?: RequestInit) => fetchImpl(input, init)) as typeof fetch;
}

/**
 * Wraps a fetch so that it never follows a redirect: a 3xx comes back as a response (an error
 * status to the transport), so credentials are never replayed elsewhere and https never turns
 * into http. For the Mode-B admin client and the Mode-B peer fetch.
 * @param base - the fetch to wrap; the global one (looked up at call time) when absent.
 * @returns the wrapped fetch.
 */
export function refuseRedirects(base: FetchFunction | undefined): FetchFunction {
  const fetchImpl: FetchFunction = base ?? ((input, init) => globalThis.fetch(input, init));
  return (input, init) => fetchImpl(input, { ...init, redirect: 'manual' });
}
