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
import ky, { type Hooks, type KyInstance, isHTTPError } from 'ky';
import { MAX_RESPONSE_BYTES } from './constants.js';
import { ZeqKeyExError, isZeqKeyExError } from './errors.js';

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
  signal?: AbortSignal;
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

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY = 2;

/**
 * Validates transport options (programmer input) and creates the transport.
 * @param options - see {@link TransportOptions}.
 * @returns the transport.
 * @throws {RangeError} for a non-positive timeout, a negative retry count or response limit.
 */
export function createTransport(options: TransportOptions = {}): Transport {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be a positive number');
  const retry = options.retry ?? DEFAULT_RETRY;
  if (!Number.isInteger(retry) || retry < 0) throw new RangeError('retry must be a non-negative integer');
  const maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  if (!Number.isInteger(maxResponseBytes) || maxResponseBytes <= 0) throw new RangeError('maxResponseBytes must be a positive integer');

  const base: KyInstance = ky.create({
    ...(options.fetch === undefined ? {} : { fetch: options.fetch as typeof fetch }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.hooks === undefined ? {} : { hooks: options.hooks }),
    // The deadline below covers headers and body together; ky's own timer is not used.
    timeout: false,
    throwHttpErrors: (status: number) => [408, 429, 500, 502, 503, 504].includes(status),
  });

  async function send(
    method: 'get' | 'post',
    url: string,
    init: { json?: unknown; body?: Uint8Array; headers?: HeadersInit; accept: string },
    requestOptions: RequestOptions,
    limit: number,
  ): Promise<{ response: Response; bytes: Uint8Array }> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new ZeqKeyExError('timeout')), timeoutMs);
    const signals = [deadline.signal, options.signal, requestOptions.signal].filter((s): s is AbortSignal => s !== undefined);
    const signal = anySignal(signals);
    try {
      const headers = new Headers(requestOptions.headers);
      headers.set('accept', init.accept);
      if (init.body !== undefined) headers.set('content-type', 'application/octet-stream');
      const response = await abortable(base(url, {
        method,
        signal,
        headers,
        retry: method === 'get' ? { limit: retry, methods: ['get'] } : 0,
        ...(init.json === undefined ? {} : { json: init.json }),
        ...(init.body === undefined ? {} : { body: init.body as BodyInit }),
      }), signal);
      const bytes = await readLimited(response, limit, signal);
      return { response, bytes };
    } catch (error) {
      if (isHTTPError(error)) {
        const bytes = await readLimited(error.response, limit, signal).catch(() => new Uint8Array(0));
        throw httpError(error.response, bytes);
      }
      throw toTransportError(error, deadline.signal, [options.signal, requestOptions.signal]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function json(method: 'get' | 'post', url: string, body: unknown, requestOptions: RequestOptions): Promise<TransportResponse<unknown>> {
    const { response, bytes } = await send(method, url, { json: body, accept: 'application/json' }, requestOptions, maxResponseBytes);
    if (!response.ok) throw httpError(response, bytes);
    return { status: response.status, headers: response.headers, body: parseJson(bytes) };
  }

  return {
    getJson: (url, requestOptions = {}) => json('get', url, undefined, requestOptions),
    postJson: (url, body, requestOptions = {}) => json('post', url, body, requestOptions),
    async postBytes(url, body, requestOptions = {}) {
      const limit = requestOptions.maxResponseBytes ?? maxResponseBytes;
      const { response, bytes } = await send('post', url, { body, accept: 'application/octet-stream' }, requestOptions, limit);
      if (!response.ok) throw httpError(response, bytes);
      return { status: response.status, headers: response.headers, body: bytes };
    },
  };
}

/**
 * Settles with `promise`, or rejects with the signal's reason as soon as it aborts — so a
 * `fetch` (or a body stream) that ignores its signal cannot outlive the deadline.
 */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function anySignal(signals: AbortSignal[]): AbortSignal {
  if (signals.length === 1) return signals[0] as AbortSignal;
  if (typeof AbortSignal.any === 'function') return AbortSignal.any(signals);
  const controller = new AbortController();
  for (const s of signals) {
    if (s.aborted) {
      controller.abort(s.reason);
      break;
    }
    s.addEventListener('abort', () => controller.abort(s.reason), { once: true });
  }
  return controller.signal;
}

/**
 * Reads a body, refusing it as soon as it passes `limit` bytes (never buffering more).
 */
async function readLimited(response: Response, limit: number, signal: AbortSignal): Promise<Uint8Array> {
  const declared = response.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) {
    void response.body?.cancel().catch(() => undefined);
    throw new ZeqKeyExError('response_too_large', undefined, { status: response.status });
  }
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const onAbort = (): void => void reader.cancel(signal.reason).catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const { done, value } = await abortable(reader.read(), signal);
      if (done) break;
      total += value.length;
      if (total > limit) {
        void reader.cancel().catch(() => undefined);
        throw new ZeqKeyExError('response_too_large', undefined, { status: response.status });
      }
      chunks.push(value);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (signal.aborted) throw signal.reason;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new ZeqKeyExError('malformed_response', 'the response body is not JSON', { cause });
  }
}

function httpError(response: Response, bytes: Uint8Array): ZeqKeyExError {
  let responseCode: string | undefined;
  try {
    const body = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string') {
      const code = (body as { error: string }).error;
      // Only a short, plain code is carried over; the peer's free text never is.
      if (/^[a-z][a-z0-9_]{0,63}$/.test(code)) responseCode = code;
    }
  } catch {
    // A non-JSON error body leaves responseCode undefined.
  }
  return new ZeqKeyExError('http_error', `the responder answered HTTP ${response.status}${responseCode === undefined ? '' : ` (${responseCode})`}`, {
    status: response.status,
    ...(responseCode === undefined ? {} : { responseCode }),
  });
}

function toTransportError(error: unknown, deadline: AbortSignal, callerSignals: (AbortSignal | undefined)[]): ZeqKeyExError {
  if (isZeqKeyExError(error)) return error;
  if (deadline.aborted) return new ZeqKeyExError('timeout', undefined, { cause: error });
  if (callerSignals.some((s) => s?.aborted === true)) return new ZeqKeyExError('aborted', undefined, { cause: error });
  if (error instanceof Error && error.name === 'TimeoutError') return new ZeqKeyExError('timeout', undefined, { cause: error });
  if (error instanceof Error && error.name === 'AbortError') return new ZeqKeyExError('aborted', undefined, { cause: error });
  return new ZeqKeyExError('network_error', undefined, { cause: error });
}
