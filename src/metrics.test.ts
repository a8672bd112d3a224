import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from './metrics.js';

describe('metrics registry', () => {
  it('renders counters in the Prometheus text format, sorted, only the series that were counted', () => {
    const metrics = createMetricsRegistry();
    const calls = metrics.counter('test_calls_total', 'Calls, by outcome', { operation: ['read', 'write'], outcome: ['ok', 'failed'] });
    const plain = metrics.counter('test_plain_total', 'No labels', {});
    calls.inc({ operation: 'write', outcome: 'ok' });
    calls.inc({ operation: 'read', outcome: 'ok' }, 2);
    calls.inc({ operation: 'read', outcome: 'ok' });
    plain.inc({});
    expect(metrics.render()).toBe(
      [
        '# HELP test_calls_total Calls, by outcome',
        '# TYPE test_calls_total counter',
        'test_calls_total{operation="read",outcome="ok"} 3',
        'test_calls_total{operation="write",outcome="ok"} 1',
        '# HELP test_plain_total No labels',
        '# TYPE test_plain_total counter',
        'test_plain_total 1',
        '',
      ].join('\n'),
    );
    expect(calls.value({ operation: 'read', outcome: 'failed' })).toBe(0);
  });

  it('refuses a label value outside the declared set, so no request data can become a label', () => {
    const metrics = createMetricsRegistry();
    const calls = metrics.counter('test_total', 'x', { outcome: ['ok'] });
    const token = 'ops_eyJzaWduSW5BZGRyZXNzIjoiZXhhbXBsZSJ9';
    expect(() => calls.inc({ outcome: token } as never)).toThrow(TypeError);
    expect(() => calls.inc({} as never)).toThrow(TypeError);
    expect(() => calls.inc({ outcome: 'ok' }, -1)).toThrow(RangeError);
    expect(metrics.render()).not.toContain(token);
  });

  it('escapes help text and label values', () => {
    const metrics = createMetricsRegistry();
    metrics.counter('test_total', 'a \\ b\nc', { v: ['a"b\\c\nd'] }).inc({ v: 'a"b\\c\nd' });
    expect(metrics.render()).toContain('# HELP test_total a \\\\ b\\nc\n');
    expect(metrics.render()).toContain('test_total{v="a\\"b\\\\c\\nd"} 1');
  });

  it('returns the same counter for the same name and labels, and refuses a clash', () => {
    const metrics = createMetricsRegistry();
    const a = metrics.counter('test_total', 'x', { k: ['a'] });
    a.inc({ k: 'a' });
    expect(metrics.counter('test_total', 'x', { k: ['a'] }).value({ k: 'a' })).toBe(1);
    expect(() => metrics.counter('test_total', 'x', { other: ['a'] })).toThrow(TypeError);
    expect(() => metrics.counter('bad name', 'x', {})).toThrow(TypeError);
    expect(() => metrics.counter('ok_total', 'x', { 'bad-label': ['a'] })).toThrow(TypeError);
  });

  it('renders nothing when nothing is registered', () => {
    expect(createMetricsRegistry().render()).toBe('');
  });
});
