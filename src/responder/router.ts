/**
 * A minimal path router for the responder: routes are path patterns of literal segments and
 * `:param` segments (`/api/keyex/:slug/pubkey`), each with a handler per HTTP method. The
 * first-contact routes (spec §2), the records route (§3.1) and the Mode-B admin routes (§4) are all
 * entries of one table.
 *
 * The router takes a request's URL, strips the deployment's base path, and matches what is left.
 * Parameters are the raw path segments, never percent-decoded: a route validates them against the
 * spec's grammars, which admit no character that needs encoding, so an encoded segment is simply
 * refused rather than reinterpreted.
 * @module
 */

/** A request handler; `C` is whatever context the dispatcher passes (request, params, …). */
export type RouteHandler<C> = (context: C) => Promise<Response>;

/** What the responder's dispatcher passes to a route handler. */
export interface RequestContext {
  readonly request: Request;
  /** Raw path segments by parameter name. */
  readonly params: ReadonlyMap<string, string>;
}

/** One route: a path pattern and its handlers by method. */
export interface Route<C> {
  /** The pattern, e.g. `/api/keyex/:slug/handshake`. */
  readonly pattern: string;
  /** Handlers by upper-case method name. */
  readonly methods: Readonly<Partial<Record<string, RouteHandler<C>>>>;
}

/** A matched route and its parameters. */
export interface RouteMatch<C> {
  readonly route: Route<C>;
  /** Raw path segments by parameter name. */
  readonly params: ReadonlyMap<string, string>;
  /** The methods the route serves, for an `Allow` header. */
  readonly allow: string;
}

/** Matches request URLs against a route table. */
export interface Router<C> {
  /**
   * @param url - the request's URL (`Request.url`, absolute).
   * @returns the first route whose pattern matches the path below the base path, or `undefined`
   *   (also for a path outside the base path).
   */
  match(url: string): RouteMatch<C> | undefined;
}

interface CompiledRoute<C> {
  readonly route: Route<C>;
  /** Each segment: a literal to compare, or `undefined` for a parameter. */
  readonly literals: readonly (string | undefined)[];
  /** The parameter names, by segment index. */
  readonly names: readonly (string | undefined)[];
  readonly allow: string;
}

/**
 * The path of a request's URL. `Request.url` is a serialised absolute URL: for http(s), the path
 * is everything from the first `/` after `://` up to `?` or `#` (userinfo and host cannot hold
 * those characters unescaped), so it needs no second parse; any other scheme is parsed.
 * @param url - an absolute URL.
 * @returns its path, starting with `/`.
 */
function pathnameOf(url: string): string {
  const after = url.startsWith('https://') ? 8 : url.startsWith('http://') ? 7 : 0;
  if (after === 0) return new URL(url).pathname;
  const start = url.indexOf('/', after);
  if (start < 0) return '/';
  let end = url.indexOf('?', start);
  const hash = url.indexOf('#', start);
  if (end < 0 || (hash >= 0 && hash < end)) end = hash;
  return end < 0 ? url.slice(start) : url.slice(start, end);
}

/**
 * Builds a router.
 * @param routes - the route table, tried in order.
 * @param basePath - `''` or a prefix like `/zeq` (no trailing slash) under which every route lives.
 * @returns the router.
 * @throws {TypeError} for a pattern that does not start with `/`.
 */
export function createRouter<C>(routes: readonly Route<C>[], basePath = ''): Router<C> {
  const compiled: CompiledRoute<C>[] = routes.map((route) => {
    if (!route.pattern.startsWith('/'))
      throw new TypeError(`route pattern must start with "/": ${route.pattern}`);
    const segments = route.pattern.split('/').slice(1);
    return {
      route,
      literals: segments.map((segment) => (segment.startsWith(':') ? undefined : segment)),
      names: segments.map((segment) => (segment.startsWith(':') ? segment.slice(1) : undefined)),
      allow: Object.keys(route.methods).join(', '),
    };
  });
  const basePrefix = `${basePath}/`;
  return {
    match(url: string): RouteMatch<C> | undefined {
      const pathname = pathnameOf(url);
      if (!pathname.startsWith(basePrefix)) return undefined;
      const parts = pathname.slice(basePath.length).split('/');
      // `parts[0]` is the empty string before the leading `/`.
      next: for (const candidate of compiled) {
        const { literals } = candidate;
        if (literals.length !== parts.length - 1) continue;
        for (let i = 0; i < literals.length; i++) {
          const literal = literals[i];
          if (literal !== undefined && literal !== parts[i + 1]) continue next;
        }
        const params = new Map<string, string>();
        for (let i = 0; i < literals.length; i++) {
          const name = candidate.names[i];
          if (name !== undefined) params.set(name, parts[i + 1] as string);
        }
        return { route: candidate.route, params, allow: candidate.allow };
      }
      return undefined;
    },
  };
}
