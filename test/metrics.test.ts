/**
 * The metrics of `serve` (src/node/metrics.ts): the text format, the sum over processes, the
 * workers' series kept apart by a `worker` label, and a real
 * responder's handshakes, records, decapsulation time, live sessions and store errors.
 */
import { describe, expect, test } from 'vitest';
import { ZeqKeyExError } from '../src/core/errors.js';
import { createClient } from '../src/initiator/client.js';
import { sessionRecords } from '../src/initiator/records.js';
import {
  type MetricFamily,
  createMetricsRegistry,
  createResponderMetrics,
  mergeMetrics,
  renderMetrics,
  withLabels,
} from '../src/node/metrics.js';
import { createResponder } from '../src/responder/responder.js';
import { createMemoryKeyStore } from '../src/responder/stores.js';
import { text, utf8 } from './helpers/records.js';
import { FIELD_KEY, ORIGIN } from './helpers/responder.js';

/** The value of one series in the text, or `undefined`. */
function valueOf(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('registry and text format', () => {
  test('counters, gauges and cumulative histogram buckets, with HELP and TYPE lines', () => {
    const registry = createMetricsRegistry();
    const counter = registry.counter('demo_total', 'Demo.\nSecond line');
    counter.inc({ outcome: 'ok' });
    counter.inc({ outcome: 'ok' }, 2);
    counter.inc({ outcome: 'a"b\\c' });
    registry.gauge('demo_live', 'Live.', () => 7);
    const histogram = registry.histogram('demo_seconds', 'Time.', [0.1, 1]);
    histogram.observe(0.05);
    histogram.observe(0.5);
    histogram.observe(3);
    const text = renderMetrics(registry.collect());
    expect(text).toContain('# HELP demo_total Demo.\\nSecond line\n# TYPE demo_total counter\n');
    expect(valueOf(text, 'demo_total{outcome="ok"}')).toBe(3);
    expect(valueOf(text, 'demo_total{outcome="a\\"b\\\\c"}')).toBe(1);
    expect(valueOf(text, 'demo_live')).toBe(7);
    expect(text).toContain('# TYPE demo_seconds histogram\n');
    expect(valueOf(text, 'demo_seconds_bucket{le="0.1"}')).toBe(1);
    expect(valueOf(text, 'demo_seconds_bucket{le="1"}')).toBe(2);
    expect(valueOf(text, 'demo_seconds_bucket{le="+Inf"}')).toBe(3);
    expect(valueOf(text, 'demo_seconds_count')).toBe(3);
    expect(valueOf(text, 'demo_seconds_sum')).toBeCloseTo(3.55);
    expect(text.endsWith('\n')).toBe(true);
  });

  test('a name used twice or not a Prometheus name is refused', () => {
    const registry = createMetricsRegistry();
    registry.counter('once_total', 'Once.');
    expect(() => registry.counter('once_total', 'Twice.')).toThrow(TypeError);
    expect(() => registry.counter('bad-name', 'Bad.')).toThrow(TypeError);
  });

  test('the metrics of several workers add up, series by series', () => {
    const worker = (ok: number, failed: number): MetricFamily[] => {
      const registry = createMetricsRegistry();
      const counter = registry.counter('hs_total', 'Handshakes.');
      counter.inc({ outcome: 'ok' }, ok);
      counter.inc({ outcome: `failed_${String(failed)}` });
      registry.histogram('t_seconds', 'Time.', [1]).observe(0.5);
      return registry.collect();
    };
    const text = renderMetrics(mergeMetrics([worker(2, 1), worker(5, 1), worker(1, 2)]));
    expect(valueOf(text, 'hs_total{outcome="ok"}')).toBe(8);
    expect(valueOf(text, 'hs_total{outcome="failed_1"}')).toBe(2);
    expect(valueOf(text, 'hs_total{outcome="failed_2"}')).toBe(1);
    expect(valueOf(text, 't_seconds_count')).toBe(3);
    expect(text.match(/# TYPE hs_total/g)).toHaveLength(1);
  });

  test("labelled by worker, the workers' series stay apart: one family, a series per worker", () => {
    const worker = (ok: number): MetricFamily[] => {
      const registry = createMetricsRegistry();
      registry.counter('hs_total', 'Handshakes.').inc({ outcome: 'ok' }, ok);
      registry.gauge('live', 'Live.', () => ok);
      registry.histogram('t_seconds', 'Time.', [1]).observe(0.5);
      return registry.collect();
    };
    const one = worker(2);
    const before = JSON.stringify(one);
    const text = renderMetrics(
      mergeMetrics([withLabels(one, { worker: '1' }), withLabels(worker(5), { worker: '2' })]),
    );
    expect(JSON.stringify(one)).toBe(before);
    expect(valueOf(text, 'hs_total{worker="1",outcome="ok"}')).toBe(2);
    expect(valueOf(text, 'hs_total{worker="2",outcome="ok"}')).toBe(5);
    expect(valueOf(text, 'live{worker="1"}')).toBe(2);
    expect(valueOf(text, 'live{worker="2"}')).toBe(5);
    expect(valueOf(text, 't_seconds_bucket{worker="2",le="+Inf"}')).toBe(1);
    expect(valueOf(text, 't_seconds_count{worker="1"}')).toBe(1);
    expect(text.match(/# TYPE hs_total/g)).toHaveLength(1);
    expect(text).not.toMatch(/^hs_total\{outcome/m);
    // The label added wins over a sample's own label of that name.
    const relabelled = withLabels(withLabels(one, { worker: '1' }), { worker: '3' });
    expect(renderMetrics(relabelled)).toContain('hs_total{worker="3",outcome="ok"} 2\n');
  });
});

describe('the instruments of a responder', () => {
  test('handshakes and records by outcome, decapsulation time, live sessions, store latency', async () => {
    let time = 1_700_000_000_000;
    const now = (): number => time;
    const metrics = createResponderMetrics(60_000, now);
    const responder = createResponder({
      fieldKey: FIELD_KEY,
      machines: { 'edge-01': 'machine:edge-01' },
      keyStore: metrics.timedStore('key', createMemoryKeyStore()),
      onRecord: (plaintext) => plaintext,
      observer: metrics.observer,
      rateLimits: false,
      now,
      sessionTtlMs: 60_000,
    });
    const handler = metrics.instrument(responder.fetch);
    const client = createClient({
      origin: ORIGIN,
      retry: 0,
      insecureUnpinned: true,
      fetch: handler,
    });
    const session = await client.handshake('edge-01');
    const records = sessionRecords(session);
    for (let i = 0; i < 3; i++) expect(text(await records.request(utf8(`r${i}`)))).toBe(`r${i}`);
    // A forged handshake: refused with its wire code.
    const forged = await handler(
      new Request(`${ORIGIN}/api/keyex/edge-01/handshake`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cipher_text: 'AAAA' }),
      }),
    );
    expect(forged.status).toBe(400);
    const body = (await forged.json()) as { error: string };
    let exposition = renderMetrics(metrics.registry.collect());
    expect(valueOf(exposition, 'zeq_keyex_handshakes_total{outcome="ok"}')).toBe(1);
    expect(valueOf(exposition, `zeq_keyex_handshakes_total{outcome="${body.error}"}`)).toBe(1);
    expect(valueOf(exposition, 'zeq_keyex_records_total{outcome="ok"}')).toBe(3);
    expect(valueOf(exposition, 'zeq_keyex_decapsulation_seconds_count')).toBe(1);
    expect(valueOf(exposition, 'zeq_keyex_live_sessions')).toBe(1);
    expect(
      valueOf(
        exposition,
        'zeq_keyex_store_operation_seconds_count{store="key",operation="putIfAbsent"}',
      ),
    ).toBe(1);
    expect(exposition).not.toContain('zeq_keyex_store_errors_total{');
    // Once the session's lifetime has passed, it is no longer live.
    time += 60_001;
    exposition = renderMetrics(metrics.registry.collect());
    expect(valueOf(exposition, 'zeq_keyex_live_sessions')).toBe(0);
    responder.close();
  });

  test('store failures are counted; refusals that are answers are not', async () => {
    const metrics = createResponderMetrics(60_000);
    const store = metrics.timedStore('demo', {
      broken: (): Promise<never> => Promise.reject(new Error('connection reset')),
      storeError: (): Promise<never> =>
        Promise.reject(new ZeqKeyExError('store_error', 'the store failed')),
      refused: (): Promise<never> =>
        Promise.reject(new ZeqKeyExError('record_replayed', 'seen before')),
      plain: (): number => 4,
    });
    await expect(store.broken()).rejects.toThrow('connection reset');
    await expect(store.storeError()).rejects.toMatchObject({ code: 'store_error' });
    await expect(store.refused()).rejects.toMatchObject({ code: 'record_replayed' });
    expect(store.plain()).toBe(4);
    const exposition = renderMetrics(metrics.registry.collect());
    const errors = exposition
      .split('\n')
      .filter((line) => line.startsWith('zeq_keyex_store_errors_total{'));
    expect(errors).toHaveLength(2);
    expect(errors.join('\n')).toContain('operation="broken"');
    expect(errors.join('\n')).toContain('operation="storeError"');
    expect(exposition).toMatch(/zeq_keyex_store_operation_seconds_count\{[^}]*refused[^}]*\} 1/);
  });
});
