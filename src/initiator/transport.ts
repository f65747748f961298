/**
 * HTTP for the initiator, through ky — the only module that imports it.
 *
 * Every failure becomes a {@link ZeqKeyExError}: `network_error`, `timeout`, `aborted`,
 * `http_error` (with the status and the responder's wire `error` code), `response_too_large`
 * (spec §2.1: a body over the limit is refused without buffering more than the limit), and
 * `malformed_response`. GET requests may be retried with backoff; POST requests never are, since a
 * handshake must not be sent twice.
 * @module
 */
import ky, { type Hooks, type KyInstance, type Options, isHTTPError } from 'ky';
import { MAX_RESPONSE_BYTES } from '../core/constants.js';
import { joinChunks } from '../core/encoding.js';
import { ZeqKeyExError, isZeqKeyExError } from '../core/errors.js';

/** Options of {@link createTransport}. */
export interface TransportOptions {
  /** A `fetch` to use instead of the global one (e.g. a responder's handler, for tests). */
  fetch?: (input: Request, init?: RequestInit) => Promise<Response>;
  /** Headers sent with every request. */
  headers?: HeadersInit;
  /** Time limit per request, headers and body included. @defaultValue 10000 */
  timeoutMs?: number;
  /** How many times a GET may be retried (never a POST). @defaultValue 2 */
  retry?: number;
  /** ky hooks, e.g. to add authentication or log requests. */
  hooks?: Hooks;
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
  /** GET a JSON document (retried on transient failures). */
  getJson(url: string, options?: RequestOptions): Promise<TransportResponse<unknown>>;
  /** POST a JSON body and read a JSON answer (never retried). */
  postJson(url: string, body: unknown, options?: RequestOptions): Promise<TransportResponse<unknown>>;
  /** POST bytes and read bytes (never retried). */
  postBytes(url: string, body: Uint8Array, options?: RequestOptions & { maxResponseBytes?: number }): Promise<TransportResponse<Uint8Array>>;
}

/**
 * Validates transport options (programmer input) and creates the transport.
 * @param options - see {@link TransportOptions}.
 * @returns the transport.
 * @throws {RangeError} for a non-positive timeout, a negative retry count or response limit.
 */
export function createTransport(options: TransportOptions = {}): Transport {
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be > 0');
  const retry = options.retry ?? 2;
  if (!Number.isInteger(retry) || retry < 0) throw new RangeError('retry must be an integer >= 0');
  const maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  if (!Number.isInteger(maxResponseBytes) || maxResponseBytes <= 0) throw new RangeError('maxResponseBytes must be an integer > 0');

  const base: KyInstance = ky.create({
    ...(options.fetch === undefined ? {} : { fetch: options.fetch as typeof fetch }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.hooks === undefined ? {} : { hooks: options.hooks }),
    // The deadline below covers headers and body together; ky's own timer is not used.
    timeout: false,
    // ky throws (and may retry a GET) on these; any other status is read as a response.
    throwHttpErrors: (status: number) => [408, 429, 500, 502, 503, 504].includes(status),
  });

  /** One request within the deadline and the body limit; every failure is a {@link ZeqKeyExError}. */
  async function send(url: string, call: RequestOptions, limit: number, accept: string, init: Options): Promise<TransportResponse<Uint8Array>> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new ZeqKeyExError('timeout')), timeoutMs);
    const signals = [deadline.signal, options.signal, call.signal].filter((s) => s !== undefined);
    // One signal needs no composite (each costs a few microseconds and a weak reference).
    const signal = signals.length > 1 ? AbortSignal.any(signals) : deadline.signal;
    try {
      const headers = new Headers(call.headers);
      headers.set('accept', accept);
      if (init.body) headers.set('content-type', 'application/octet-stream');
      let thrown = false;
      const response = await abortable(base(url, { retry: 0, ...init, signal, headers }), signal).catch((error: unknown) => {
        if (!isHTTPError(error)) throw error;
        thrown = true;
        return error.response;
      });
      // A status ky threw on is an http_error whatever its body does.
      const body = await readLimited(response, limit, signal).catch((error: unknown) => {
        if (thrown) return new Uint8Array(0);
        throw error;
      });
      if (!response.ok) throw httpError(response.status, body);
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
      throw new ZeqKeyExError(code, undefined, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  async function json(url: string, call: RequestOptions, init: Options): Promise<TransportResponse<unknown>> {
    const response = await send(url, call, maxResponseBytes, 'application/json', init);
    try {
      return { ...response, body: parseJson(response.body, true) };
    } catch (cause) {
      throw new ZeqKeyExError('malformed_response', 'the response is not JSON', { cause });
    }
  }

  return {
    // Only a GET may be retried: a handshake or a record must not be sent twice.
    getJson: (url, call = {}) => json(url, call, { method: 'get', retry }),
    postJson: (url, body, call = {}) => json(url, call, { method: 'post', json: body }),
    postBytes: (url, body, call = {}) => send(url, call, call.maxResponseBytes ?? maxResponseBytes, 'application/octet-stream', { method: 'post', body: body as BodyInit }),
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

/**
 * Reads a body, refusing it as soon as it passes `limit` bytes (never buffering more). On any
 * failure the body is cancelled.
 */
async function readLimited(response: Response, limit: number, signal: AbortSignal): Promise<Uint8Array> {
  const declared = response.headers.get('content-length');
  const reader = response.body?.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    if (/^\d+$/.test(declared ?? '') && Number(declared) > limit) {
      throw new ZeqKeyExError('response_too_large', undefined, { status: response.status });
    }
    while (reader) {
      const { done, value } = await abortable(reader.read(), signal);
      if (done) break;
      total += value.length;
      if (total > limit) throw new ZeqKeyExError('response_too_large', undefined, { status: response.status });
      chunks.push(value);
    }
    signal.throwIfAborted();
  } catch (error) {
    void reader?.cancel(error).catch(() => undefined);
    throw error;
  }
  return joinChunks(chunks);
}

/** JSON from UTF-8 bytes; `fatal` refuses malformed UTF-8 instead of replacing it. */
function parseJson(bytes: Uint8Array, fatal: boolean): unknown {
  return JSON.parse(new TextDecoder('utf-8', { fatal }).decode(bytes));
}

/** An `http_error`, with the responder's wire code when its body names a plain one (spec §7). */
function httpError(status: number, bytes: Uint8Array): ZeqKeyExError {
  let code: unknown;
  try {
    code = (parseJson(bytes, false) as { error?: unknown } | null)?.error;
  } catch {
    // A non-JSON error body carries no code.
  }
  // Only a short, plain code is carried over; the peer's free text never is.
  const responseCode = typeof code === 'string' && /^[a-z][a-z0-9_]{0,63}$/.test(code) ? code : undefined;
  return new ZeqKeyExError('http_error', `HTTP ${status}`, {
    status,
    ...(responseCode === undefined ? {} : { responseCode }),
  });
}
