/**
 * Metrics of a `serve` process in the Prometheus text exposition format (version 0.0.4): a small
 * registry of counters, gauges and histograms, its snapshot (plain data, so that the primary of
 * `serve --workers` can serve its workers' snapshots side by side, each labelled with its worker),
 * and the instruments of a responder — its answers by route and outcome, the decapsulation time,
 * live sessions, rate-limited and shed requests, and the latency and errors of its stores.
 *
 * Caveats: labels only ever hold route names, wire error codes, store and method names, and a
 * worker's number (1 to N, from the primary of `serve --workers`) — never a slug, a client address
 * or anything a client chose beyond those, so a stranger cannot grow the number of series. "Live
 * sessions" counts the sessions this process opened that have not expired yet (a shared store is
 * not scanned): summed over every instance, that is the deployment's.
 * @module
 */
import { isZeqKeyExError } from '../core/errors.js';
import type { AdmissionObserver } from '../responder/admission.js';
import type { FetchHandler } from './server.js';

/** Label names and values of one series. */
export type MetricLabels = Readonly<Record<string, string>>;

/** One sample: a series name (a histogram's `_bucket`, `_sum` or `_count`), labels, a value. */
export interface MetricSample {
  readonly name: string;
  readonly labels: MetricLabels;
  readonly value: number;
}

/** One metric family as exposed: its name, help, type and samples. */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly samples: readonly MetricSample[];
}

/** A counter with labels. */
export interface Counter {
  inc(labels?: MetricLabels, by?: number): void;
}

/** A histogram with labels and fixed buckets. */
export interface Histogram {
  observe(value: number, labels?: MetricLabels): void;
}

/** A registry of metrics; {@link MetricsRegistry.collect} reads them all. */
export interface MetricsRegistry {
  counter(name: string, help: string): Counter;
  /** A gauge whose value is read when collected. */
  gauge(name: string, help: string, read: () => number): void;
  histogram(name: string, help: string, buckets: readonly number[]): Histogram;
  collect(): MetricFamily[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** A key of a label set, in a fixed order. */
function keyOf(labels: MetricLabels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * A new, empty registry.
 * @returns the registry.
 * @throws {TypeError} when a metric is named twice or not as Prometheus names are.
 */
export function createMetricsRegistry(): MetricsRegistry {
  const families = new Map<string, () => MetricFamily>();
  const add = (name: string, make: () => MetricFamily): void => {
    if (!NAME.test(name) || families.has(name)) throw new TypeError(`bad metric name ${name}`);
    families.set(name, make);
  };
  return {
    counter(name, help) {
      const series = new Map<string, { labels: MetricLabels; value: number }>();
      add(name, () => ({
        name,
        help,
        type: 'counter',
        samples: [...series.values()].map(({ labels, value }) => ({ name, labels, value })),
      }));
      return {
        inc(labels = {}, by = 1) {
          const key = keyOf(labels);
          const entry = series.get(key);
          if (entry === undefined) series.set(key, { labels: { ...labels }, value: by });
          else entry.value += by;
        },
      };
    },
    gauge(name, help, read) {
      add(name, () => ({
        name,
        help,
        type: 'gauge',
        samples: [{ name, labels: {}, value: read() }],
      }));
    },
    histogram(name, help, buckets) {
      const bounds = [...buckets].sort((a, b) => a - b);
      interface Series {
        labels: MetricLabels;
        counts: number[];
        sum: number;
        count: number;
      }
      const series = new Map<string, Series>();
      add(name, () => ({
        name,
        help,
        type: 'histogram',
        samples: [...series.values()].flatMap(({ labels, counts, sum, count }) => [
          ...bounds.map((bound, i) => ({
            name: `${name}_bucket`,
            labels: { ...labels, le: String(bound) },
            value: counts[i] ?? 0,
          })),
          { name: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: count },
          { name: `${name}_sum`, labels, value: sum },
          { name: `${name}_count`, labels, value: count },
        ]),
      }));
      return {
        observe(value, labels = {}) {
          const key = keyOf(labels);
          let entry = series.get(key);
          if (entry === undefined) {
            entry = { labels: { ...labels }, counts: bounds.map(() => 0), sum: 0, count: 0 };
            series.set(key, entry);
          }
          // Cumulative buckets, as the format has them.
          for (let i = 0; i < bounds.length; i += 1)
            if (value <= (bounds[i] as number)) entry.counts[i] = (entry.counts[i] ?? 0) + 1;
          entry.sum += value;
          entry.count += 1;
        },
      };
    },
    collect() {
      return [...families.values()].map((make) => make());
    },
  };
}

/**
 * Adds up the families of several processes: samples of the same series are summed (counters,
 * histogram buckets, and gauges such as live sessions, which are per process).
 * @param snapshots - each process's families.
 * @returns one list of families, in first-seen order.
 */
export function mergeMetrics(snapshots: readonly (readonly MetricFamily[])[]): MetricFamily[] {
  const merged = new Map<
    string,
    { family: MetricFamily; samples: Map<string, { s: MetricSample; value: number }> }
  >();
  for (const families of snapshots)
    for (const family of families) {
      let entry = merged.get(family.name);
      if (entry === undefined) {
        entry = { family, samples: new Map() };
        merged.set(family.name, entry);
      }
      for (const sample of family.samples) {
        const key = `${sample.name}${keyOf(sample.labels)}`;
        const seen = entry.samples.get(key);
        if (seen === undefined) entry.samples.set(key, { s: sample, value: sample.value });
        else seen.value += sample.value;
      }
    }
  return [...merged.values()].map(({ family, samples }) => ({
    ...family,
    samples: [...samples.values()].map(({ s, value }) => ({ ...s, value })),
  }));
}

/**
 * The families of one process with `labels` on every sample, in front of its own (the primary of
 * `serve --workers` labels each worker's series `worker="K"` before merging them, so that they
 * stay apart).
 * @param families - one process's families.
 * @param labels - the labels to add; they win over a sample's label of the same name.
 * @returns new families; `families` is not changed.
 */
export function withLabels(
  families: readonly MetricFamily[],
  labels: MetricLabels,
): MetricFamily[] {
  return families.map((family) => ({
    ...family,
    samples: family.samples.map((sample) => ({
      ...sample,
      labels: { ...labels, ...sample.labels, ...labels },
    })),
  }));
}

const escapeLabel = (value: string): string =>
  value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (value: string): string => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** The content type of {@link renderMetrics}' text. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The Prometheus text exposition of `families`.
 * @param families - what {@link MetricsRegistry.collect} (or {@link mergeMetrics}) gave.
 * @returns the text, one line per sample, ending with a newline.
 */
export function renderMetrics(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(
      `# HELP ${family.name} ${escapeHelp(family.help)}`,
      `# TYPE ${family.name} ${family.type}`,
    );
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels)
        .map(([name, value]) => `${name}="${escapeLabel(value)}"`)
        .join(',');
      lines.push(`${sample.name}${labels === '' ? '' : `{${labels}}`} ${String(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Upper bounds, in seconds, of the decapsulation-time buckets. */
const DECAPSULATION_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/** Upper bounds, in seconds, of the store-latency buckets. */
const STORE_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1, 5];

/** The instruments of one responder process. */
export interface ResponderMetrics {
  readonly registry: MetricsRegistry;
  /** For the responder's `observer` option: decapsulation time and shed handshakes. */
  readonly observer: AdmissionObserver;
  /** The fetch handler, counting handshakes and records by outcome and rate-limited requests. */
  instrument(handler: FetchHandler): FetchHandler;
  /**
   * A store whose promise-returning methods are timed (`store`, `operation` labels) and whose
   * failures are counted: a rejection that is not a `ZeqKeyExError`, or one of code
   * `store_error`. Refusals such as a replayed tag are answers, not errors.
   */
  timedStore<T extends object>(store: string, target: T): T;
}

/** The route of a responder request, by the end of its path; `undefined` for the others. */
function routeOf(request: Request): 'handshake' | 'records' | 'pubkey' | undefined {
  const path = new URL(request.url).pathname;
  if (request.method === 'POST' && path.endsWith('/handshake')) return 'handshake';
  if (request.method === 'POST' && path.endsWith('/records')) return 'records';
  if (request.method === 'GET' && path.endsWith('/pubkey')) return 'pubkey';
  return undefined;
}

/** The wire code of a refusal's JSON body, else `http_STATUS`. */
async function outcomeOf(response: Response): Promise<string> {
  if (response.status < 400) return 'ok';
  if (response.headers.get('content-type') === 'application/json') {
    try {
      const body = (await response.clone().json()) as { error?: unknown };
      if (typeof body.error === 'string' && /^[a-z_]{1,40}$/.test(body.error)) return body.error;
    } catch {
      // Not JSON after all: the status below.
    }
  }
  return `http_${String(response.status)}`;
}

/**
 * The metrics of a responder process, in a new registry.
 * @param sessionTtlMs - the sessions' lifetime, for the live-sessions gauge.
 * @param now - the clock, in milliseconds.
 * @returns the instruments.
 */
export function createResponderMetrics(
  sessionTtlMs: number,
  now: () => number = Date.now,
): ResponderMetrics {
  const registry = createMetricsRegistry();
  const handshakes = registry.counter(
    'zeq_keyex_handshakes_total',
    'Handshakes answered, by outcome (ok, or the wire error code).',
  );
  const records = registry.counter(
    'zeq_keyex_records_total',
    'Records answered, by outcome (ok, or the wire error code).',
  );
  const rateLimited = registry.counter(
    'zeq_keyex_rate_limited_total',
    'Requests refused 429 rate_limited, by route.',
  );
  const shed = registry.counter(
    'zeq_keyex_shed_total',
    'Handshakes refused 503 because the decapsulations in flight were at their cap.',
  );
  const decapsulation = registry.histogram(
    'zeq_keyex_decapsulation_seconds',
    'Time of each handshake decapsulation and key derivation.',
    DECAPSULATION_BUCKETS,
  );
  const storeSeconds = registry.histogram(
    'zeq_keyex_store_operation_seconds',
    'Latency of store operations, by store and operation.',
    STORE_BUCKETS,
  );
  const storeErrors = registry.counter(
    'zeq_keyex_store_errors_total',
    'Store operations that failed, by store and operation.',
  );
  // Expiry times of the sessions this process opened, oldest first (one lifetime for all).
  const expiries: number[] = [];
  let head = 0;
  registry.gauge(
    'zeq_keyex_live_sessions',
    'Sessions opened by this process that have not expired yet.',
    () => {
      const time = now();
      while (head < expiries.length && (expiries[head] as number) <= time) head += 1;
      if (head > 1024 && head * 2 > expiries.length) {
        expiries.splice(0, head);
        head = 0;
      }
      return expiries.length - head;
    },
  );
  return {
    registry,
    observer: {
      decapsulated: (ms) => {
        decapsulation.observe(ms / 1000);
      },
      shed: () => {
        shed.inc();
      },
    },
    instrument(handler) {
      return async (request) => {
        const route = routeOf(request);
        const response = await handler(request);
        if (route === undefined) return response;
        if (response.status === 429) rateLimited.inc({ route });
        if (route === 'pubkey') return response;
        const outcome = await outcomeOf(response);
        if (route === 'handshake') {
          handshakes.inc({ outcome });
          if (outcome === 'ok') expiries.push(now() + sessionTtlMs);
        } else {
          records.inc({ outcome });
        }
        return response;
      };
    },
    timedStore<T extends object>(store: string, target: T): T {
      return new Proxy(target, {
        get(object, property, receiver) {
          const value: unknown = Reflect.get(object, property, receiver);
          if (typeof value !== 'function' || typeof property !== 'string') return value;
          const method = value as (...args: unknown[]) => unknown;
          return (...args: unknown[]): unknown => {
            const started = performance.now();
            const labels = { store, operation: property };
            const result = method.apply(object, args);
            if (!(result instanceof Promise)) return result;
            return result.then(
              (answer: unknown) => {
                storeSeconds.observe((performance.now() - started) / 1000, labels);
                return answer;
              },
              (error: unknown) => {
                storeSeconds.observe((performance.now() - started) / 1000, labels);
                if (!isZeqKeyExError(error) || isZeqKeyExError(error, 'store_error'))
                  storeErrors.inc(labels);
                throw error;
              },
            );
          };
        },
      });
    },
  };
}
