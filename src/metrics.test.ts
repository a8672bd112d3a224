import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from './metrics.js';

describe('metrics registry (prom-client)', () => {
  it('renders counters in the Prometheus text format, only the labelled series that were counted', async () => {
    const metrics = createMetricsRegistry();
    const calls = metrics.counter('test_calls_total', 'Calls, by outcome', { operation: ['read', 'write'], outcome: ['ok', 'failed'] });
    const plain = metrics.counter('test_plain_total', 'No labels', {});
    calls.inc({ operation: 'write', outcome: 'ok' });
    calls.inc({ operation: 'read', outcome: 'ok' }, 2);
    calls.inc({ operation: 'read', outcome: 'ok' });
    plain.inc({});
    const text = await metrics.render();
    expect(text).toContain('# HELP test_calls_total Calls, by outcome\n# TYPE test_calls_total counter\n');
    expect(text).toContain('test_calls_total{operation="read",outcome="ok"} 3\n');
    expect(text).toContain('test_calls_total{operation="write",outcome="ok"} 1\n');
    expect(text).not.toContain('outcome="failed"');
    expect(text).toContain('# TYPE test_plain_total counter\ntest_plain_total 1\n');
    expect(calls.value({ operation: 'read', outcome: 'ok' })).toBe(3);
    expect(calls.value({ operation: 'read', outcome: 'failed' })).toBe(0);
  });

  it('refuses a label value outside the declared set, so no request data can become a label', async () => {
    const metrics = createMetricsRegistry();
    const calls = metrics.counter('test_total', 'x', { outcome: ['ok'] });
    const latency = metrics.histogram('test_seconds', 'x', { route: ['/a'] }, [0.1, 1]);
    const token = 'ops_eyJzaWduSW5BZGRyZXNzIjoiZXhhbXBsZSJ9';
    expect(() => calls.inc({ outcome: token } as never)).toThrow(TypeError);
    expect(() => calls.inc({} as never)).toThrow(TypeError);
    expect(() => calls.inc({ outcome: 'ok' }, -1)).toThrow(RangeError);
    expect(() => latency.observe({ route: `/a?token=${token}` } as never, 1)).toThrow(TypeError);
    expect(await metrics.render()).not.toContain(token);
  });

  it('renders histograms with their buckets, sum and count', async () => {
    const metrics = createMetricsRegistry();
    const latency = metrics.histogram('test_seconds', 'Latency', { route: ['/a', '/b'] }, [0.1, 1]);
    latency.observe({ route: '/a' }, 0.05);
    latency.observe({ route: '/a' }, 0.5);
    const text = await metrics.render();
    expect(text).toContain('# TYPE test_seconds histogram\n');
    expect(text).toContain('test_seconds_bucket{le="0.1",route="/a"} 1\n');
    expect(text).toContain('test_seconds_bucket{le="1",route="/a"} 2\n');
    expect(text).toContain('test_seconds_bucket{le="+Inf",route="/a"} 2\n');
    expect(text).toContain('test_seconds_sum{route="/a"} 0.55\n');
    expect(text).toContain('test_seconds_count{route="/a"} 2\n');
    expect(text).not.toContain('route="/b"');
  });

  it('returns the same metric for the same name and labels, and refuses a clash', () => {
    const metrics = createMetricsRegistry();
    const a = metrics.counter('test_total', 'x', { k: ['a'] });
    a.inc({ k: 'a' });
    expect(metrics.counter('test_total', 'x', { k: ['a'] }).value({ k: 'a' })).toBe(1);
    expect(() => metrics.counter('test_total', 'x', { other: ['a'] })).toThrow(TypeError);
    expect(() => metrics.histogram('test_total', 'x', { k: ['a'] }, [1])).toThrow(TypeError);
    expect(() => metrics.counter('bad name', 'x', {})).toThrow(TypeError);
    expect(() => metrics.counter('ok_total', 'x', { 'bad-label': ['a'] })).toThrow(TypeError);
  });

  it('serves the process metrics only where asked', async () => {
    expect(await createMetricsRegistry().render()).toBe('\n');
    const text = await createMetricsRegistry({ processMetrics: true }).render();
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
  });
});
