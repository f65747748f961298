/**
 * HTTP plumbing of the responder, over the standard `Request`/`Response` classes: the refusal
 * type every route throws ({@link HttpError}), JSON and error responses (wire codes of spec §7,
 * from `constants.ts`), the media-type check, and a body reader that enforces a byte limit before
 * anything is parsed.
 *
 * Security caveats: error bodies carry only a code from {@link WIRE_ERRORS} and its fixed
 * message — never a caught exception's text, a stack or a secret. Every response is
 * `cache-control: no-store`. The body reader refuses a declared `content-length` above the limit
 * without reading, and stops reading (cancelling the stream) as soon as the limit is crossed
 * (`readCapped`), so it never holds more than the limit plus one chunk.
 * @module
 */
import { WIRE_ERRORS, type WireErrorCode } from '../core/constants.js';
import { parseJsonObject as parseJsonObjectOrUndefined } from '../core/json.js';
import { readCapped } from '../core/read-capped.js';
import { headerPairs, preparedResponse } from './prepared-response.js';
import { requestHeader, takeBodySource } from './request-body.js';

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
  /** The HTTP status: the code's, from {@link WIRE_ERRORS}. */
  readonly status: number;
  /** Extra response headers (e.g. `Allow`). */
  readonly headers: Readonly<Record<string, string>>;

  /**
   * @param code - the wire code.
   * @param headers - extra response headers.
   */
  constructor(code: WireErrorCode, headers: Readonly<Record<string, string>> = {}) {
    super(WIRE_ERRORS[code].message);
    this.code = code;
    this.status = WIRE_ERRORS[code].status;
    this.headers = headers;
  }
}

const BASE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
});
const BASE_HEADER_PAIRS = headerPairs(BASE_HEADERS);

/**
 * A JSON response with the responder's standard headers, from JSON text already serialised: a
 * prepared response (`prepared-response.ts`), which a server adapter writes without reading it back.
 * @param status - the HTTP status.
 * @param json - the body, JSON text.
 * @param headers - extra headers.
 * @returns the response.
 */
export function jsonTextResponse(
  status: number,
  json: string,
  headers?: Readonly<Record<string, string>>,
): Response {
  return preparedResponse({
    status,
    headers:
      headers === undefined ? BASE_HEADER_PAIRS : headerPairs({ ...BASE_HEADERS, ...headers }),
    body: json,
  });
}

/**
 * A JSON response with the responder's standard headers.
 * @param status - the HTTP status.
 * @param body - a JSON-serialisable object.
 * @param headers - extra headers.
 * @returns the response.
 */
export function jsonResponse(
  status: number,
  body: object,
  headers?: Readonly<Record<string, string>>,
): Response {
  return jsonTextResponse(status, JSON.stringify(body), headers);
}

/**
 * The §7 error response `{ "error", "message" }` of a refusal: every wire error the responder
 * sends is made here.
 * @param error - the refusal.
 * @returns the response.
 */
export function refusalResponse(error: HttpError): Response {
  return jsonResponse(error.status, { error: error.code, message: error.message }, error.headers);
}

/**
 * The §7 error response `{ "error", "message" }` for a wire code.
 * @param code - the wire code.
 * @param headers - extra headers.
 * @returns the response.
 */
export function errorResponse(
  code: WireErrorCode,
  headers?: Readonly<Record<string, string>>,
): Response {
  return refusalResponse(new HttpError(code, headers));
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
    const charset = parameter
      .slice(at + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
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
  const declared = requestHeader(request, 'content-length');
  if (declared !== null) {
    if (!/^[0-9]+$/.test(declared.trim())) throw new HttpError('invalid_request');
    // Stryker disable next-line MethodExpression: Number() skips the same whitespace trim() strips.
    if (Number(declared.trim()) > maxBytes) throw new HttpError('payload_too_large');
  }
  let body: Uint8Array | undefined;
  // A body the server adapter hands over as bytes (`request-body.ts`), else the body stream.
  const source = takeBodySource(request);
  try {
    body = await (source === undefined
      ? readCapped(request.body, maxBytes)
      : source.read(maxBytes));
  } catch {
    throw new HttpError('invalid_request');
  }
  if (body === undefined) throw new HttpError('payload_too_large');
  return body;
}

/**
 * Releases a body the handler did not read (a request refused before its body mattered).
 * @param request - the request.
 */
export function discardBody(request: Request): void {
  const source = takeBodySource(request);
  if (source !== undefined) {
    source.discard();
    return;
  }
  if (!request.bodyUsed && request.body !== null && !request.body.locked) {
    request.body.cancel().catch(() => undefined);
  }
}

/**
 * Parses a request body as a JSON object (strict UTF-8), as `core/json.ts` does.
 * @param bytes - the body, already read within its limit.
 * @returns the object.
 * @throws {HttpError} `invalid_request` for anything that is not a JSON object.
 */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  const body = parseJsonObjectOrUndefined(bytes);
  if (body === undefined) throw new HttpError('invalid_request');
  return body;
}
