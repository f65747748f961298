/**
 * The metrics options of `zeq-keyex serve`: `--metrics-port N` serves the Prometheus text format
 * (`../metrics.ts`) on a listener of its own, on loopback unless `--metrics-host` says otherwise;
 * `--metrics-path PATH` alone serves it on the responder's own port at that path instead.
 *
 * Caveats: the metrics say how busy the responder is and which refusals it gives, nothing secret,
 * but an operator may not want strangers to read them: hence loopback by default, and a path on
 * the public port only when asked for by name.
 * @module
 */
import type { MetricFamily } from '../metrics.js';
import { METRICS_CONTENT_TYPE, renderMetrics } from '../metrics.js';
import type { FetchHandler } from '../server.js';
import { type CommandArgs, UsageError, integerOption, stringOption } from './args.js';

/** `zeq-keyex serve` lines for its help text. */
export const SERVE_METRICS_HELP: string = `Metrics (Prometheus text format; see docs/deploying.md):
  --metrics-port PORT         serve GET /metrics on this port, a listener of its own (with
                              --workers, every worker's, labelled worker="K")
  --metrics-host HOST         the interface of that listener (default 127.0.0.1)
  --metrics-path PATH         the path of the metrics (default /metrics); without --metrics-port,
                              served on the responder's own port at PATH`;

/** The `serve` options this module reads (a fragment of its option table). */
export const SERVE_METRICS_OPTIONS: {
  readonly 'metrics-port': { readonly type: 'string' };
  readonly 'metrics-host': { readonly type: 'string' };
  readonly 'metrics-path': { readonly type: 'string' };
} = {
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  'metrics-path': { type: 'string' },
};

/** Where the metrics are served. */
export interface MetricsPlan {
  /** The port of their own listener; `undefined`: on the responder's port. */
  readonly port: number | undefined;
  readonly host: string;
  readonly path: string;
}

/**
 * The metrics options given, checked.
 * @param args - the parsed arguments.
 * @returns the plan, or `undefined` when no metrics are asked for.
 * @throws {UsageError} for a bad port or path, or `--metrics-host` alone.
 */
export function metricsPlanOf(args: CommandArgs): MetricsPlan | undefined {
  const portText = stringOption(args, 'metrics-port');
  const host = stringOption(args, 'metrics-host');
  const path = stringOption(args, 'metrics-path');
  if (portText === undefined && path === undefined) {
    if (host !== undefined) throw new UsageError('--metrics-host needs --metrics-port');
    return undefined;
  }
  if (path !== undefined && !/^\/[A-Za-z0-9._~/-]{0,200}$/.test(path))
    throw new UsageError('--metrics-path must be a path such as /metrics');
  const port = integerOption(args, 'metrics-port', 0, 65_535);
  if (portText === undefined && host !== undefined) {
    throw new UsageError('--metrics-host needs --metrics-port');
  }
  return { port, host: host ?? '127.0.0.1', path: path ?? '/metrics' };
}

function metricsResponse(request: Request, families: MetricFamily[]): Response {
  return new Response(request.method === 'HEAD' ? null : renderMetrics(families), {
    headers: { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' },
  });
}

/**
 * The handler of a metrics listener: `GET`/`HEAD` of `path` answers the metrics, anything else
 * `404`.
 * @param path - the metrics path.
 * @param collect - the families to expose (may gather them from the workers).
 * @returns the handler.
 */
export function metricsHandler(path: string, collect: () => Promise<MetricFamily[]>): FetchHandler {
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname !== path || (request.method !== 'GET' && request.method !== 'HEAD'))
      return new Response('not found\n', { status: 404, headers: { 'cache-control': 'no-store' } });
    return metricsResponse(request, await collect());
  };
}

/**
 * Puts the metrics path in front of the responder's handler (`--metrics-path` without a port).
 * @param handler - the responder's handler.
 * @param path - the metrics path.
 * @param collect - the families to expose.
 * @returns the handler with the metrics path.
 */
export function withMetricsPath(
  handler: FetchHandler,
  path: string,
  collect: () => Promise<MetricFamily[]>,
): FetchHandler {
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return handler(request);
    if (new URL(request.url).pathname !== path) return handler(request);
    return metricsResponse(request, await collect());
  };
}
