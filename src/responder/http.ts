/**
 * HTTP plumbing of the responder, over the standard `Request`/`Response` classes: JSON and error
 * responses (wire codes of spec §7, from `constants.ts`), the media-type check, and a body
 * reader that enforces a byte limit before anything is parsed.
 *
 * Security caveats: error bodies carry only a code from {@link WIRE_ERRORS} and its fixed
 * message — never a caught exception's text, a stack or a secret. Every response is
 * `cache-control: no-store`. The body reader refuses a declared `content-length` above the limit
 * without reading, and stops reading (cancelling the stream) as soon as the limit is crossed, so it
 * never holds more than the limit.
 * @module
 */
import { WIRE_ERRORS, type WireErrorCode } from '../core/constants.js';
import { joinChunks } from '../core/encoding.js';

// The table itself lives with the other wire constants; the responder's modules import it here.
export { WIRE_ERRORS, type WireErrorCode };

/**
 * A request refused with a wire error code. Thrown by route handlers and helpers, turned into an
 * error response by the dispatcher; never leaves the responder.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError' as const;
  /** The wire code. */
  readonly code: WireErrorCode;
  /** Extra response headers (e.g. `Allow`). */
  readonly headers: Readonly<Record<string, string>>;

  /**
   * @param code - the wire code.
   * @param headers - extra response headers.
   */
  constructor(code: WireErrorCode, headers: Readonly<Record<string, string>> = {}) {
    super(WIRE_ERRORS[code].message);
    this.code = code;
    this.headers = headers;
  }
}

const BASE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
});

/**
 * A JSON response with the responder's standard headers, from JSON text already serialised.
 * @param status - the HTTP status.
 * @param json - the body, JSON text.
 * @param headers - extra headers.
 * @returns the response.
 */
export function jsonTextResponse(status: number, json: string, headers?: Readonly<Record<string, string>>): Response {
  return new Response(json, { status, headers: headers === undefined ? BASE_HEADERS : { ...BASE_HEADERS, ...headers } });
}

/**
 * A JSON response with the responder's standard headers.
 * @param status - the HTTP status.
 * @param body - a JSON-serialisable object.
 * @param headers - extra headers.
 * @returns the response.
 */
export function jsonResponse(status: number, body: object, headers?: Readonly<Record<string, string>>): Response {
  return jsonTextResponse(status, JSON.stringify(body), headers);
}

/**
 * The §7 error response `{ "error", "message" }` for a wire code.
 * @param code - the wire code.
 * @param headers - extra headers.
 * @returns the response.
 */
export function errorResponse(code: WireErrorCode, headers?: Readonly<Record<string, string>>): Response {
  const { status, message } = WIRE_ERRORS[code];
  return jsonResponse(status, { error: code, message }, headers);
}

/**
 * Checks a `content-type` header against a media type: the type compared case-insensitively,
 * parameters allowed, except a `charset` other than UTF-8 (JSON is UTF-8, RFC 8259 §8.1).
 * @param header - the header value, or `null`.
 * @param mediaType - the expected lowercase `type/subtype`.
 * @returns whether it matches.
 */
export function isMediaType(header: string | null, mediaType: string): boolean {
  if (header === null) return false;
  if (header === mediaType) return true;
  const [type, ...parameters] = header.split(';');
  if (type === undefined || type.trim().toLowerCase() !== mediaType) return false;
  for (const parameter of parameters) {
    const at = parameter.indexOf('=');
    if (at < 0) continue;
    if (parameter.slice(0, at).trim().toLowerCase() !== 'charset') continue;
    const charset = parameter.slice(at + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return false;
  }
  return true;
}

/**
 * Reads a request body of at most `maxBytes`.
 * @param request - the request.
 * @param maxBytes - the limit.
 * @returns the body bytes (empty when there is no body).
 * @throws {HttpError} `payload_too_large` above the limit (declared or read); `invalid_request` for
 *   a malformed `content-length` or a body that fails while being read.
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null) {
    if (!/^[0-9]+$/.test(declared.trim())) throw new HttpError('invalid_request');
    if (Number(declared.trim()) > maxBytes) throw new HttpError('payload_too_large');
  }
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch {
        throw new HttpError('invalid_request');
      }
      if (chunk.done) break;
      total += chunk.value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new HttpError('payload_too_large');
      }
      chunks.push(chunk.value);
    }
  } finally {
    reader.releaseLock();
  }
  return joinChunks(chunks);
}

/**
 * Releases a body the handler did not read (a request refused before its body mattered).
 * @param request - the request.
 */
export function discardBody(request: Request): void {
  if (request.body !== null && !request.bodyUsed && !request.body.locked) {
    request.body.cancel().catch(() => undefined);
  }
}

const UTF8 = /* @__PURE__ */ new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a request body as a JSON object (strict UTF-8).
 * @param bytes - the body, already read within its limit.
 * @returns the object.
 * @throws {HttpError} `invalid_request` for anything that is not a JSON object.
 */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(bytes));
  } catch {
    throw new HttpError('invalid_request');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError('invalid_request');
  return value as Record<string, unknown>;
}
