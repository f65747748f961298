/**
 * `zeq-keyex/msw`: request handlers for Mock Service Worker that route a responder's endpoints
 * to an in-process responder, so an app's test suite can run its real client code (whatever HTTP
 * library it uses) against a real responder without sockets.
 *
 * msw is an optional peer dependency, imported by this entry only. It is the one entry whose
 * signature shows a third-party type, msw's `HttpHandler`, on purpose: the handlers are for msw
 * (`setupServer` / `setupWorker`), and only an app that already uses msw imports this entry.
 *
 * Security caveat: for tests only; the handlers forward every matching request, unchanged, to the
 * in-process responder.
 * @module
 */
import { http, type HttpHandler } from 'msw';
import { normaliseOrigin } from './core/origin.js';
import type { FetchHandler } from './node/server.js';

export type { FetchHandler };

/**
 * Returns msw handlers that serve every ZeqKeyEx route under `origin` with `responder`.
 * @param responder - a responder (from `zeq-keyex/responder`), or any object whose `fetch` is a
 *   {@link FetchHandler}.
 * @param origin - where the app expects the responder, e.g. `https://edge.example` (with the
 *   responder's base path appended, if it has one).
 * @returns handlers to pass to `setupServer(...)` or `setupWorker(...)`.
 * @throws {TypeError} for an origin that is not an http(s) URL without query, fragment or credentials.
 * @example
 * ```ts
 * const responder = createResponder({ fieldKey, machines: { 'edge-01': 'm-1' } });
 * const server = setupServer(...createResponderHandlers(responder, 'https://edge.example'));
 * server.listen({ onUnhandledRequest: 'error' });
 * ```
 */
export function createResponderHandlers(
  responder: { readonly fetch: FetchHandler },
  origin: string | URL,
): HttpHandler[] {
  const base = normaliseOrigin(origin);
  const forward = ({ request }: { request: Request }): Promise<Response> =>
    responder.fetch(request);
  return [
    http.all(`${base}/api/keyex/*`, forward),
    http.all(`${base}/api/ssl/peer-seed/keyex/*`, forward),
  ];
}
