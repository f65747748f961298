/**
 * `zeq-keyex serve --workers N` and the metrics options: two workers on one (private) Redis serve a
 * handshake and records through one port, their metrics are served per worker (`worker="K"`) on the
 * metrics port, and SIGTERM stops them all; one session's records are served by both workers (seen
 * in those metrics and in the workers' log lines), every one opening, in sequence, and a record
 * replayed through the other worker is refused — on Redis and on Valkey; more than one worker
 * without a shared store is a usage error.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { sessionRecords } from '../src/initiator/records.js';
import { type Server, cliEnv, useCliProcesses } from './helpers/cli-process.js';
import { headerOf, text, utf8 } from './helpers/records.js';
import { type RedisServer, startRedisServer } from './helpers/redis-server.js';
import { FIELD_KEY } from './helpers/responder.js';

/** The ids of a process's children, from `/proc` (Linux): no `pgrep` needed where the tests run. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // After the command name (which may hold spaces and parentheses): state, then the parent's id.
    const parent = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    if (Number(parent) === pid) children.push(Number(entry));
  }
  return children;
}

const MACHINE = ['--machine', 'edge-01=machine:edge-01', '--echo', '--no-rate-limits'];
const { startServe, stop, run } = useCliProcesses('serve-workers');

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.dispose();
});

/**
 * The values of a series per worker: the samples `name{worker="K",labels}` (`name{worker="K"}`
 * when `labels` is empty) of a metrics text, by worker number.
 */
function perWorker(exposition: string, name: string, labels = ''): Map<number, number> {
  const values = new Map<number, number>();
  const rest = labels === '' ? '}' : `,${labels}}`;
  for (const line of exposition.split('\n')) {
    const match = /^([a-z_]+)\{worker="(\d+)"(.*) (\S+)$/.exec(line);
    if (match?.[1] === name && match[3] === rest) values.set(Number(match[2]), Number(match[4]));
  }
  return values;
}

/** The sum of a series over the workers. */
function overWorkers(exposition: string, name: string, labels = ''): number {
  return [...perWorker(exposition, name, labels).values()].reduce((sum, value) => sum + value, 0);
}

/**
 * A fetch that opens a new connection for every request (no keep-alive), so that the primary deals
 * the requests of one session round-robin to the workers.
 */
async function freshConnectionFetch(request: Request): Promise<Response> {
  const body = request.method === 'GET' ? undefined : Buffer.from(await request.arrayBuffer());
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      request.url,
      { method: request.method, headers: Object.fromEntries(request.headers), agent: false },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(incoming.headers))
            if (typeof value === 'string') headers.set(name, value);
          resolve(
            new Response(Buffer.concat(chunks), { status: incoming.statusCode ?? 500, headers }),
          );
        });
        incoming.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** The metrics URL `serve` printed on stderr. */
function metricsUrl(stderr: string): string {
  const match = /^metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m.exec(stderr);
  expect(match, stderr).not.toBeNull();
  return match?.[1] as string;
}

describe('serve --workers', () => {
  test('two workers on one Redis: a handshake, then records through the same port; metrics per worker; SIGTERM stops all', async () => {
    const server = await startServe(
      [...MACHINE, '--workers', '2', '--redis', redis.url, '--metrics-port', '0'],
      FIELD_KEY,
    );
    const client = createClient({
      origin: server.origin,
      retry: 0,
      timeoutMs: 5_000,
      insecureUnpinned: true,
      fetch: freshConnectionFetch,
    });
    const session = await client.handshake('edge-01');
    const records = sessionRecords(session);
    // A new connection for each record: the primary deals them round-robin to both workers.
    for (let i = 0; i < 20; i++)
      expect(text(await records.request(utf8(`record ${i}`)))).toBe(`record ${i}`);
    const scrape = await fetch(metricsUrl(server.stderr()));
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const exposition = await scrape.text();
    // Every series is a worker's: labelled worker="1" or "2", none summed without the label.
    expect(exposition).not.toMatch(/^zeq_keyex_[a-z_]+(\{(?!worker=")[^\n]*)? /m);
    expect([...perWorker(exposition, 'zeq_keyex_live_sessions').keys()].sort()).toEqual([1, 2]);
    expect(overWorkers(exposition, 'zeq_keyex_handshakes_total', 'outcome="ok"')).toBe(1);
    expect(overWorkers(exposition, 'zeq_keyex_records_total', 'outcome="ok"')).toBe(20);
    expect(overWorkers(exposition, 'zeq_keyex_decapsulation_seconds_count')).toBe(1);
    expect(overWorkers(exposition, 'zeq_keyex_live_sessions')).toBe(1);
    expect(exposition).toMatch(
      /zeq_keyex_store_operation_seconds_count\{worker="[12]",store="session"/,
    );
    const metricsOrigin = new URL(metricsUrl(server.stderr())).origin;
    // SIGTERM: the primary stops every worker, then exits 0; nothing listens any more.
    const exit = await stop(server);
    expect(exit.stderr).toMatch(/SIGTERM received, stopping 2 workers/);
    await expect(fetch(`${server.origin}/healthz`)).rejects.toThrow();
    await expect(fetch(`${metricsOrigin}/metrics`)).rejects.toThrow();
  });

  test('a worker killed while serving is replaced under its number: the metrics name workers 1 and 2 again', async () => {
    const server = await startServe(
      [...MACHINE, '--workers', '2', '--redis', redis.url, '--metrics-port', '0'],
      FIELD_KEY,
    );
    const workerNumbers = async (): Promise<number[]> => {
      const scrape = await fetch(metricsUrl(server.stderr()));
      return [...perWorker(await scrape.text(), 'zeq_keyex_live_sessions').keys()];
    };
    expect(await workerNumbers()).toEqual([1, 2]);
    // The primary's children are its workers.
    const pids = childrenOf(server.child.pid as number);
    expect(pids).toHaveLength(2);
    process.kill(pids[0] as number, 'SIGKILL');
    const warning = /^warning: worker ([12]) \(pid (\d+)\) exited \(SIGKILL\); starting another$/m;
    const deadline = Date.now() + 10_000;
    while (!warning.test(server.stderr()) || (await workerNumbers()).length < 2) {
      expect(Date.now(), server.stderr()).toBeLessThan(deadline);
      await new Promise((wait) => setTimeout(wait, 50));
    }
    expect(warning.exec(server.stderr())?.[2]).toBe(String(pids[0]));
    // The replacement took the number of the worker it replaced: still 1 and 2, not 3.
    expect(await workerNumbers()).toEqual([1, 2]);
    await stop(server);
  });

  test('more than one worker without a shared store is a usage error that says why', async () => {
    const exit = await run(
      ['serve', ...MACHINE, '--workers', '2'],
      cliEnv({ ZEQ_FIELD_KEY: FIELD_KEY }),
    );
    expect(exit.code).toBe(2);
    expect(exit.stderr).toMatch(/--workers N needs --redis/);
    const bad = await run(
      ['serve', ...MACHINE, '--workers', '0', '--redis', redis.url],
      cliEnv({ ZEQ_FIELD_KEY: FIELD_KEY }),
    );
    expect(bad.code).toBe(2);
  });

  test('a worker that fails to start stops them all with its status', async () => {
    const exit = await run(
      ['serve', '--machine', 'bad slug=x', '--workers', '2', '--redis', redis.url],
      cliEnv({ ZEQ_FIELD_KEY: FIELD_KEY }),
    );
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
  });
});

/** At most this many records, then replays, are sent for both workers to have had one. */
const ATTEMPTS = 40;

/** The `records_total` series of each worker, scraped now. */
async function recordsByWorker(server: Server, outcome: string): Promise<Map<number, number>> {
  const scrape = await fetch(metricsUrl(server.stderr()));
  expect(scrape.status).toBe(200);
  return perWorker(await scrape.text(), 'zeq_keyex_records_total', `outcome="${outcome}"`);
}

/** The one worker whose count went up by one between two scrapes (fails unless exactly one). */
function workerThatServed(before: Map<number, number>, after: Map<number, number>): number {
  const grown = [...after].filter(([worker, value]) => value !== (before.get(worker) ?? 0));
  expect(grown, JSON.stringify([...after])).toHaveLength(1);
  const [worker, value] = grown[0] as [number, number];
  expect(value - (before.get(worker) ?? 0)).toBe(1);
  return worker;
}

/** The `"worker"` of the JSON log lines on stderr with this wire code. */
function loggedWorkers(stderr: string, code: string): Set<unknown> {
  const workers = new Set<unknown>();
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { code?: unknown; worker?: unknown };
    if (entry.code === code) workers.add(entry.worker);
  }
  return workers;
}

describe("serve --workers: one session's records across both workers", () => {
  // Redis: this file's private server; Valkey: a database of its own on the run's server.
  test.each([
    ['Redis', (): string => redis.url],
    ['Valkey', (): string => `${inject('valkeyUrl')}/9`],
  ])(
    '%s: both workers serve records of one session, all open in sequence; a replay through the other worker is refused',
    async (_, url) => {
      const server = await startServe(
        [...MACHINE, '--workers', '2', '--redis', url(), '--metrics-port', '0'],
        FIELD_KEY,
      );
      // Every record sent and the reply it got, as bytes, captured from the client's requests.
      const exchanged: { url: string; record: Uint8Array; reply: Uint8Array }[] = [];
      const client = createClient({
        origin: server.origin,
        retry: 0,
        timeoutMs: 5_000,
        insecureUnpinned: true,
        fetch: async (request: Request) => {
          const record = new Uint8Array(await request.clone().arrayBuffer());
          const response = await freshConnectionFetch(request);
          for (const [name, value] of response.headers)
            expect(`${name}: ${value}`).not.toMatch(/worker/i);
          if (new URL(request.url).pathname.endsWith('/records'))
            exchanged.push({
              url: request.url,
              record,
              reply: new Uint8Array(await response.clone().arrayBuffer()),
            });
          return response;
        },
      });
      const session = await client.handshake('edge-01');
      const records = sessionRecords(session);

      // Records, each over a new connection, until both workers have served one (seen in their
      // metrics: the one worker whose count of records went up).
      const servedBy: number[] = [];
      let before = await recordsByWorker(server, 'ok');
      for (let i = 0; i < ATTEMPTS && new Set(servedBy).size < 2; i++) {
        expect(text(await records.request(utf8(`record ${i}`)))).toBe(`record ${i}`);
        const after = await recordsByWorker(server, 'ok');
        servedBy.push(workerThatServed(before, after));
        before = after;
      }
      expect(
        new Set(servedBy).size,
        `after ${ATTEMPTS} records over new connections, only worker(s) ${[...new Set(servedBy)].join(', ')} served this session's records`,
      ).toBe(2);
      // In sequence across the workers: the client's records and the replies are numbered 0, 1,
      // 2… in epoch 0 whichever worker answered — the record state is one, in the shared store.
      expect(exchanged).toHaveLength(servedBy.length);
      exchanged.forEach(({ record, reply }, i) => {
        expect(headerOf(record)).toEqual({ epoch: 0, seq: i });
        expect(headerOf(reply)).toEqual({ epoch: 0, seq: i });
      });

      // Replays: a record accepted by one worker, sent again until the other worker has refused it
      // — for a record of each worker. Every answer is 409 replayed_record, whoever gives it.
      const refusedBy = new Map<number, number>(); // the worker that accepted → the one that refused
      for (const accepted of [1, 2]) {
        const original = exchanged[servedBy.indexOf(accepted)];
        if (original === undefined) throw new Error(`worker ${accepted} served no record`);
        let replayedBefore = await recordsByWorker(server, 'replayed_record');
        for (let i = 0; i < ATTEMPTS && !refusedBy.has(accepted); i++) {
          const replay = await freshConnectionFetch(
            new Request(original.url, {
              method: 'POST',
              headers: { 'content-type': 'application/octet-stream' },
              body: original.record as BodyInit,
            }),
          );
          expect(replay.status).toBe(409);
          // The body and headers are a single process's: nothing names the worker.
          const body = (await replay.json()) as { error: string };
          expect(body.error).toBe('replayed_record');
          expect(Object.keys(body).sort()).toEqual(['error', 'message']);
          expect(JSON.stringify(body)).not.toMatch(/worker/i);
          for (const [name, value] of replay.headers)
            expect(`${name}: ${value}`).not.toMatch(/worker/i);
          const replayedAfter = await recordsByWorker(server, 'replayed_record');
          const refuser = workerThatServed(replayedBefore, replayedAfter);
          replayedBefore = replayedAfter;
          if (refuser !== accepted) refusedBy.set(accepted, refuser);
        }
        expect(
          refusedBy.get(accepted),
          `after ${ATTEMPTS} replays over new connections, worker ${3 - accepted} refused none of worker ${accepted}'s records`,
        ).toBe(3 - accepted);
      }
      // The refusals are in the workers' log lines, each naming its worker (never a response).
      const deadline = Date.now() + 5_000;
      while (loggedWorkers(server.stderr(), 'replayed_record').size < 2) {
        expect(Date.now(), server.stderr()).toBeLessThan(deadline);
        await new Promise((wait) => setTimeout(wait, 20));
      }
      expect(loggedWorkers(server.stderr(), 'replayed_record')).toEqual(new Set([1, 2]));
      // The session goes on: the next record opens, numbered after the others.
      expect(text(await records.request(utf8('after')))).toBe('after');
      expect(headerOf(exchanged.at(-1)?.reply as Uint8Array).seq).toBe(servedBy.length);
      await stop(server);
    },
  );
});

describe('serve --metrics-path', () => {
  test('without --metrics-port: the metrics on the responder port at the path chosen', async () => {
    const server = await startServe([...MACHINE, '--metrics-path', '/ops/metrics'], FIELD_KEY);
    expect((await fetch(`${server.origin}/api/keyex/edge-01/pubkey`)).status).toBe(200);
    const scrape = await fetch(`${server.origin}/ops/metrics`);
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('# TYPE zeq_keyex_handshakes_total counter');
    expect((await fetch(`${server.origin}/metrics`)).status).toBe(404);
    await stop(server);
  });

  test('--metrics-host alone, or a bad port, is a usage error', async () => {
    const env = cliEnv({ ZEQ_FIELD_KEY: FIELD_KEY });
    expect((await run(['serve', ...MACHINE, '--metrics-host', '0.0.0.0'], env)).code).toBe(2);
    expect((await run(['serve', ...MACHINE, '--metrics-port', '70000'], env)).code).toBe(2);
    expect((await run(['serve', ...MACHINE, '--metrics-path', 'metrics'], env)).code).toBe(2);
  });
});
