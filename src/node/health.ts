/**
 * The health endpoints of `zeq-keyex serve`, in front of the responder's fetch handler:
 * `GET /healthz` answers `200` while the process serves at all (liveness), `GET /readyz` answers
 * `200` when its stores answer and `503` with `Retry-After: 1` when they do not (readiness: a load
 * balancer sends no traffic to an instance whose Redis is unreachable). Neither reveals anything
 * but that one bit; every other request goes to the responder unchanged.
 * @module
 */
import type { FetchHandler } from './server.js';

/** The paths of the health endpoints. */
export const HEALTH_PATHS: { readonly live: '/healthz'; readonly ready: '/readyz' } = {
  live: '/healthz',
  ready: '/readyz',
};

function plain(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      ...headers,
    },
  });
}

/**
 * Puts `/healthz` and `/readyz` in front of a fetch handler.
 * @param handler - the responder's fetch handler.
 * @param ready - whether the stores answer now; must not throw (a throw counts as not ready).
 * @returns the handler with the health endpoints.
 */
export function withHealthChecks(
  handler: FetchHandler,
  ready: () => Promise<boolean>,
): FetchHandler {
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return handler(request);
    const { pathname } = new URL(request.url);
    if (pathname === HEALTH_PATHS.live) return plain(200, 'ok\n');
    if (pathname !== HEALTH_PATHS.ready) return handler(request);
    const isReady = await ready().catch(() => false);
    return isReady ? plain(200, 'ready\n') : plain(503, 'unavailable\n', { 'retry-after': '1' });
  };
}
