/**
 * Cross-origin resource sharing (the Fetch standard's CORS protocol) for the responder, so that a
 * browser page on another origin can fetch a key document, handshake and send records.
 *
 * Off unless the deployment names the origins it trusts (option `cors`): an allow-list of exact
 * origins, `'*'`, or a function. Every route answers `OPTIONS` — a preflight with the route's
 * methods, the headers the client sends and a `max-age` for an allowed origin; a plain `204` with
 * `Allow` otherwise — and every response to an allowed origin carries
 * `Access-Control-Allow-Origin`. Responses vary by `Origin` (`Vary: Origin`) whenever CORS is on,
 * so a shared cache never serves one origin's answer to another.
 *
 * Security caveats:
 * - `'*'` is refused together with `credentials: true` (the Fetch standard forbids it, and echoing
 *   any origin with credentials would hand every site the user's cookies).
 * - The Mode-B admin routes (spec §4) are never opened to browsers unless `admin: true`: a page
 *   must not be able to drive an operator's seeding, even one whose bearer token it could read.
 * - An origin is compared as the browser sends it, exactly (`https://app.example`, no trailing
 *   slash or path); the opaque origin `null` is never allowed by an allow-list.
 * - CORS is not access control: a non-browser client ignores it. It only decides which pages a
 *   browser lets read the answers.
 * @module
 */
import { ROUTES } from '../core/constants.js';

/** Who may call the responder from a browser page, and how. */
export interface CorsOptions {
  /**
   * The origins whose pages may call the responder: exact origins as browsers send them
   * (`https://app.example`, `http://localhost:5173`), `'*'` for any (not with `credentials`), or
   * a function answering for each `Origin` header.
   */
  origins: readonly string[] | ((origin: string) => boolean);
  /**
   * Lets pages send cookies or HTTP authentication (`Access-Control-Allow-Credentials: true`).
   * @defaultValue false
   */
  credentials?: boolean;
  /**
   * How long a browser may cache a preflight's answer, in seconds.
   * @defaultValue 600
   */
  maxAgeSeconds?: number;
  /**
   * Further request headers pages may send (e.g. an app's own `x-request-id`), beyond
   * `content-type` (and `authorization` on the admin routes).
   * @defaultValue none
   */
  allowHeaders?: readonly string[];
  /**
   * Opens the Mode-B admin routes (§4) to the same origins, with `authorization` allowed.
   * @defaultValue false: those routes answer browsers without any CORS header
   */
  admin?: boolean;
}

/** The default `max-age` of a preflight: ten minutes. */
export const DEFAULT_CORS_MAX_AGE_SECONDS = 600;

/** The request headers the SDK's client sends that are not CORS-safelisted. */
const CLIENT_HEADERS = ['content-type'];
/** Response headers a page may read beyond the safelisted ones: a 429's or 503's `Retry-After`. */
const EXPOSED_HEADERS = 'retry-after';
const VARY_PREFLIGHT = 'origin, access-control-request-method, access-control-request-headers';
const ADMIN_PATTERNS: ReadonlySet<string> = new Set([ROUTES.modeBInitiate, ROUTES.modeBRespond]);
/** A header name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The CORS of one responder. */
export interface Cors {
  /** Whether the deployment turned CORS on (option `cors`). */
  readonly enabled: boolean;
  /**
   * The answer to `OPTIONS` on a route: a preflight for an allowed origin, or `204` with `Allow`.
   * @param request - the `OPTIONS` request.
   * @param pattern - the route's pattern.
   * @param allow - the route's methods, as an `Allow` header.
   * @returns the response.
   */
  preflight(request: Request, pattern: string, allow: string): Response;
  /**
   * Adds the CORS headers of a response to `request` (none for an origin not allowed).
   * @param request - the request.
   * @param pattern - the matched route's pattern, or `undefined` for a path no route serves.
   * @param response - the response, whose headers are set (or which is copied when they are
   *   immutable).
   * @returns the response to send.
   */
  decorate(request: Request, pattern: string | undefined, response: Response): Response;
}

/** A checked, resolved {@link CorsOptions}. */
interface CorsConfig {
  readonly allowed: (origin: string) => boolean;
  readonly any: boolean;
  readonly credentials: boolean;
  readonly maxAge: string;
  readonly headers: readonly string[];
  readonly admin: boolean;
}

function exactOrigin(value: unknown): string {
  if (value === '*') return value;
  // Stryker disable next-line ConditionalExpression: a non-string fails the URL check below all the same (another message)
  if (typeof value !== 'string') throw new TypeError('cors.origins must hold strings');
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch /* Stryker disable next-line BlockStatement: url stays undefined */ {
    url = undefined;
  }
  // Compared byte for byte with the `Origin` header, so it must be written as browsers send it.
  if (url === undefined || url.origin !== value)
    throw new TypeError(
      `cors.origins expects origins as browsers send them, like "https://app.example", got "${value}"`,
    );
  return value;
}

/**
 * Checks the `cors` option.
 * @param options - the option as given.
 * @returns the configuration.
 * @throws {TypeError} for malformed origins or headers, or `'*'` with `credentials`.
 * @throws {RangeError} for a `maxAgeSeconds` that is not a non-negative integer.
 */
function resolveCors(options: CorsOptions): CorsConfig {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('cors must be an object with origins');
  const credentials = options.credentials ?? false;
  if (typeof credentials !== 'boolean') throw new TypeError('cors.credentials must be a boolean');
  const admin = options.admin ?? false;
  if (typeof admin !== 'boolean') throw new TypeError('cors.admin must be a boolean');
  const maxAge = options.maxAgeSeconds ?? DEFAULT_CORS_MAX_AGE_SECONDS;
  if (!Number.isSafeInteger(maxAge) || maxAge < 0)
    throw new RangeError('cors.maxAgeSeconds must be an integer >= 0');
  const extra: unknown = options.allowHeaders ?? [];
  if (!Array.isArray(extra)) throw new TypeError('cors.allowHeaders must be an array');
  const names: string[] = [];
  for (const name of extra as readonly unknown[]) {
    if (typeof name !== 'string' || !TOKEN.test(name))
      throw new TypeError(`cors.allowHeaders holds a malformed header name: ${String(name)}`);
    names.push(name.toLowerCase());
  }
  const headers = [...new Set([...CLIENT_HEADERS, ...names])];
  const { origins } = options;
  if (typeof origins === 'function') {
    return { allowed: origins, any: false, credentials, maxAge: String(maxAge), headers, admin };
  }
  if (!Array.isArray(origins))
    throw new TypeError('cors.origins must be an array of origins or a function');
  const list = new Set((origins as readonly unknown[]).map(exactOrigin));
  const any = list.has('*');
  if (any && credentials)
    throw new TypeError('cors.origins "*" cannot be used with credentials: name the origins');
  return {
    allowed: (origin) => any || list.has(origin),
    any,
    credentials,
    maxAge: String(maxAge),
    headers,
    admin,
  };
}

/**
 * Adds `name` (lowercase) to `vary`, unless it is there already, in any case, or `vary` is `*`.
 * Header values come trimmed from `Headers`; the names between commas are trimmed here.
 */
function addVary(headers: Headers, name: string): void {
  const current = headers.get('vary');
  if (current === null) {
    headers.set('vary', name);
    return;
  }
  const names = current.split(',').map((n) => n.trim().toLowerCase());
  if (!names.includes('*') && !names.includes(name)) headers.set('vary', `${current}, ${name}`);
}

/**
 * Creates the CORS of a responder.
 * @param options - the `cors` option, or `undefined` for none.
 * @returns the CORS: without options, `OPTIONS` answers `204` with `Allow` and no response changes.
 * @throws {TypeError} for malformed options (see {@link CorsOptions}).
 * @throws {RangeError} for a `maxAgeSeconds` out of range.
 */
export function createCors(options: CorsOptions | undefined): Cors {
  const config = options === undefined ? undefined : resolveCors(options);

  /** The `Access-Control-Allow-Origin` for this request, or `undefined` when it gets none. */
  function allowOrigin(request: Request, pattern: string | undefined): string | undefined {
    // Stryker disable next-line ConditionalExpression: preflight and decorate call it only with a config
    if (config === undefined) return undefined;
    // Stryker disable next-line ConditionalExpression: ADMIN_PATTERNS.has(undefined) is false
    if (pattern !== undefined && ADMIN_PATTERNS.has(pattern) && !config.admin) return undefined;
    const origin = request.headers.get('origin');
    if (origin === null || origin === 'null') return undefined;
    let allowed = false;
    try {
      allowed = config.allowed(origin);
    } catch {
      // A throwing predicate allows nothing, and never turns a response into a 500.
    }
    if (!allowed) return undefined;
    return config.any ? '*' : origin;
  }

  function setCommon(headers: Headers, origin: string): void {
    headers.set('access-control-allow-origin', origin);
    // Stryker disable next-line OptionalChaining: called only with an allowed origin, so with a config
    if (config?.credentials === true) headers.set('access-control-allow-credentials', 'true');
  }

  return {
    enabled: config !== undefined,
    preflight(request, pattern, allow): Response {
      const methods = `${allow}, OPTIONS`;
      const headers = new Headers({ allow: methods, 'cache-control': 'no-store' });
      if (config === undefined) return new Response(null, { status: 204, headers });
      headers.set('vary', VARY_PREFLIGHT);
      const origin = allowOrigin(request, pattern);
      const method = request.headers.get('access-control-request-method');
      if (origin === undefined || method === null)
        return new Response(null, { status: 204, headers });
      setCommon(headers, origin);
      headers.set('access-control-allow-methods', allow);
      const names = ADMIN_PATTERNS.has(pattern)
        ? [...config.headers, 'authorization']
        : config.headers;
      headers.set('access-control-allow-headers', names.join(', '));
      headers.set('access-control-max-age', config.maxAge);
      // A cached preflight is fine; `no-store` is for the JSON answers.
      headers.delete('cache-control');
      return new Response(null, { status: 204, headers });
    },
    decorate(request, pattern, response): Response {
      if (config === undefined) return response;
      const origin = allowOrigin(request, pattern);
      let out = response;
      try {
        addVary(out.headers, 'origin');
      } catch {
        // Immutable headers (a response from `fetch`): copy it.
        out = new Response(response.body, response);
        addVary(out.headers, 'origin');
      }
      if (origin !== undefined) {
        setCommon(out.headers, origin);
        out.headers.set('access-control-expose-headers', EXPOSED_HEADERS);
      }
      return out;
    },
  };
}
