/**
 * `zeq-keyex serve --workers N`: the primary process forks N workers (node:cluster) that share
 * the listening port, each a whole responder, and supervises them: it prints the listening line
 * once every worker listens, replaces a worker that dies while serving, serves the workers' metrics
 * for `--metrics-port`, and on SIGINT/SIGTERM stops them all.
 *
 * Each worker has a number, 1 to N, that a replacement takes over: the primary labels the worker's
 * metrics `worker="K"` (a replaced worker's counters restart from zero in the same series, which
 * Prometheus reads as a counter reset, where a sum over the workers would drop without one), and the
 * worker puts `"worker":K` in its log lines. Neither reaches a client: no header or body names the
 * worker that answered.
 *
 * Caveats: workers share nothing in memory, so more than one worker needs a shared store
 * (`--redis`, `ZEQ_REDIS_URL`): without one, each worker would keep its own sessions, replay tags
 * and record state, and a record reaching another worker than its handshake would be refused —
 * or, with keys generated per worker, two fingerprints would be served for one machine. So it is
 * refused as a usage error. A worker that fails to start stops them all (its message is printed).
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import { type MetricFamily, mergeMetrics, withLabels } from '../metrics.js';
import { type RunningServer, serve } from '../server.js';
import { type CliIo, type CommandArgs, EXIT, UsageError, integerOption } from './args.js';
import { type MetricsPlan, metricsHandler } from './serve-metrics.js';

/** The most workers `--workers` accepts. */
export const MAX_WORKERS = 64;
/** How long a worker may take to stop after SIGTERM before it is killed. */
const STOP_LIMIT_MS = 10_000;
/** How long the primary waits for the workers' metrics. */
const METRICS_WAIT_MS = 2_000;
/** The environment variable that marks a process as a worker of `serve --workers`. */
const WORKER_ENV = 'ZEQ_SERVE_WORKER';
/** The environment variable that gives a worker its number (1 to N). */
const WORKER_NUMBER_ENV = 'ZEQ_SERVE_WORKER_NUMBER';

/** `zeq-keyex serve` lines for its help text. */
export const SERVE_WORKERS_HELP: string = `Workers:
  --workers N                 run N worker processes sharing the port (node:cluster), at most
                              ${MAX_WORKERS}; more than one needs --redis (or ZEQ_REDIS_URL), since
                              workers share sessions, replay tags and record state only there;
                              each worker's metrics are labelled worker="K" (K = 1..N) and
                              its log lines carry "worker":K`;

/** The `serve` options this module reads (a fragment of its option table). */
export const SERVE_WORKERS_OPTIONS: { readonly workers: { readonly type: 'string' } } = {
  workers: { type: 'string' },
};

/**
 * `--workers`, checked.
 * @param args - the parsed arguments.
 * @param shared - whether a shared store (`--redis`) is configured.
 * @returns the number of workers, or `undefined` for a single process.
 * @throws {UsageError} for a bad count, or more than one worker without a shared store.
 */
export function workersArg(args: CommandArgs, shared: boolean): number | undefined {
  const count = integerOption(args, 'workers', 1, MAX_WORKERS);
  if (count === undefined) return undefined;
  if (count > 1 && !shared)
    throw new UsageError(
      '--workers N needs --redis URL (or ZEQ_REDIS_URL): without a shared store each worker keeps its own sessions, replay tags and record state, so records would fail on the other workers',
    );
  return count;
}

/**
 * Whether this process is a worker of `serve --workers`. In a worker, the channel to the primary
 * stops keeping the process alive, so that a worker that fails to start exits (and the primary
 * sees it).
 * @returns whether it is one.
 */
export function isServeWorker(): boolean {
  const worker = cluster.isWorker && process.env[WORKER_ENV] === '1';
  if (worker) process.channel?.unref();
  return worker;
}

/**
 * The number (1 to N) of this worker of `serve --workers`, for its log lines.
 * @returns the number, or `undefined` outside a worker.
 */
export function serveWorkerNumber(): number | undefined {
  if (!cluster.isWorker || process.env[WORKER_ENV] !== '1') return undefined;
  const number = Number(process.env[WORKER_NUMBER_ENV]);
  return Number.isSafeInteger(number) && number >= 1 && number <= MAX_WORKERS ? number : undefined;
}

/** In a worker that has stopped: lets go of the primary, so that the process exits. */
export function leavePrimary(): void {
  if (process.connected) process.disconnect();
}

type ToPrimary =
  | { readonly zeq: 'listening'; readonly url: string }
  | { readonly zeq: 'metrics'; readonly id: number; readonly families: MetricFamily[] };
interface ToWorker {
  readonly zeq: 'metrics?';
  readonly id: number;
}

function isMessage(value: unknown): value is { zeq: string } & Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { zeq?: unknown }).zeq === 'string'
  );
}

/**
 * In a worker: tells the primary the worker listens.
 * @param url - the URL it listens on.
 */
export function tellPrimaryListening(url: string): void {
  const message: ToPrimary = { zeq: 'listening', url };
  process.send?.(message);
}

/**
 * In a worker: answers the primary's requests for this worker's metrics.
 * @param collect - this worker's families.
 * @returns a function that stops answering.
 */
export function answerMetricsRequests(collect: () => MetricFamily[]): () => void {
  const listener = (message: unknown): void => {
    if (!isMessage(message) || message.zeq !== 'metrics?' || typeof message['id'] !== 'number')
      return;
    const reply: ToPrimary = { zeq: 'metrics', id: message['id'], families: collect() };
    process.send?.(reply);
  };
  process.on('message', listener);
  return () => process.off('message', listener);
}

/**
 * In a worker: resolves when the primary goes away (then the worker stops as on a signal).
 * @returns the promise.
 */
export function primaryGone(): Promise<string> {
  return new Promise((resolve) => process.once('disconnect', () => resolve('disconnect')));
}

/**
 * The metrics of every live worker, each series labelled with its worker's number, in the order of
 * those numbers; a worker that does not answer in time is left out.
 */
function gatherMetrics(
  workers: ReadonlyMap<Worker, number>,
  next: () => number,
): Promise<MetricFamily[]> {
  const id = next();
  const live = [...workers].filter(([worker]) => worker.isConnected());
  return new Promise((resolve) => {
    const answers = new Map<number, MetricFamily[]>();
    const listeners: [Worker, (message: unknown) => void][] = [];
    const done = (): void => {
      clearTimeout(timer);
      for (const [worker, listener] of listeners) worker.off('message', listener);
      const numbers = [...answers.keys()].sort((a, b) => a - b);
      resolve(
        mergeMetrics(
          numbers.map((number) =>
            withLabels(answers.get(number) ?? [], { worker: String(number) }),
          ),
        ),
      );
    };
    const timer = setTimeout(done, METRICS_WAIT_MS);
    for (const [worker, number] of live) {
      const listener = (message: unknown): void => {
        if (!isMessage(message) || message.zeq !== 'metrics' || message['id'] !== id) return;
        answers.set(number, message['families'] as MetricFamily[]);
        if (answers.size === live.length) done();
      };
      listeners.push([worker, listener]);
      worker.on('message', listener);
      const request: ToWorker = { zeq: 'metrics?', id };
      worker.send(request);
    }
    if (live.length === 0) done();
  });
}

/** Resolves when the worker has exited, with its exit code (1 for a signal). */
function exitOf(worker: Worker): Promise<number> {
  if (worker.isDead()) return Promise.resolve(worker.process.exitCode ?? 1);
  return new Promise((resolve) => worker.once('exit', (code: number | null) => resolve(code ?? 1)));
}

/**
 * The primary of `serve --workers N`: forks the workers (the same command line), supervises them
 * and stops them on SIGINT/SIGTERM.
 * @param count - how many workers.
 * @param io - the CLI's environment.
 * @param metrics - where the summed metrics are served, if anywhere.
 * @returns the exit status: 0 after a clean stop; a worker's status when one failed to start.
 */
export async function runPrimary(
  count: number,
  io: CliIo,
  metrics: MetricsPlan | undefined,
): Promise<number> {
  // The live workers, each with its number (1 to N); `numbers` outlives them, for replacements.
  const workers = new Map<Worker, number>();
  const numbers = new WeakMap<Worker, number>();
  // The workers that listen: only they are asked for metrics (one still starting would hold up
  // every scrape until METRICS_WAIT_MS).
  const listening = new WeakSet<Worker>();
  let stopping = false;
  let metricsServer: RunningServer | undefined;
  let requestId = 0;
  const fork = (number: number): Worker => {
    const worker = cluster.fork({ [WORKER_ENV]: '1', [WORKER_NUMBER_ENV]: String(number) });
    workers.set(worker, number);
    numbers.set(worker, number);
    worker.on('message', (message: unknown) => {
      if (isMessage(message) && message.zeq === 'listening') listening.add(worker);
    });
    worker.once('exit', () => workers.delete(worker));
    return worker;
  };
  const stopAll = async (): Promise<void> => {
    stopping = true;
    const live = [...workers.keys()];
    for (const worker of live) worker.process.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const worker of live) worker.process.kill('SIGKILL');
    }, STOP_LIMIT_MS);
    await Promise.all(live.map(exitOf));
    clearTimeout(killer);
  };

  // Start: every worker listening, or the first failure.
  const started = Array.from({ length: count }, (_, i) => fork(i + 1));
  const urls = await Promise.all(
    started.map(
      (worker) =>
        new Promise<string | number>((resolve) => {
          worker.on('message', (message: unknown) => {
            if (isMessage(message) && message.zeq === 'listening') resolve(String(message['url']));
          });
          void exitOf(worker).then(resolve);
        }),
    ),
  );
  const failed = urls.find((url) => typeof url === 'number');
  if (failed !== undefined) {
    await stopAll();
    return failed === 0 ? EXIT.failed : failed;
  }

  if (metrics?.port !== undefined) {
    try {
      metricsServer = await serve(
        metricsHandler(metrics.path, () =>
          gatherMetrics(
            new Map([...workers].filter(([worker]) => listening.has(worker))),
            () => (requestId += 1),
          ),
        ),
        { host: metrics.host, port: metrics.port },
      );
    } catch (error) {
      await stopAll();
      const code = (error as NodeJS.ErrnoException).code;
      io.stderr(
        `error: cannot listen on ${metrics.host}:${metrics.port}${code === undefined ? '' : ` (${code})`}`,
      );
      return EXIT.failed;
    }
    io.stderr(`metrics on ${metricsServer.url}${metrics.path}`);
  }
  // A worker that dies while serving is replaced (after a pause, so a crash loop does not spin).
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    const number = numbers.get(worker) ?? 1;
    io.stderr(
      `warning: worker ${number} (pid ${worker.process.pid ?? '?'}) exited (${signal ?? code}); starting another`,
    );
    setTimeout(() => {
      if (!stopping) fork(number);
    }, 1_000).unref();
  });
  io.stdout(`listening on ${String(urls[0])}`);
  const signal = await io.stopSignal();
  io.stderr(`${signal} received, stopping ${workers.size} workers`);
  await stopAll();
  await metricsServer?.close();
  return EXIT.ok;
}
