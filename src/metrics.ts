// Metrics, served at GET /metrics in the Prometheus text format by prom-client. Every label is
// declared with its closed set of values when the metric is created, and a value outside it is
// refused, so a label can never carry request data (a token, a vault name, a raw URL) and the number
// of series stays bounded. A set may grow while the app is built (the route patterns), never from a
// request.
import { collectDefaultMetrics, Counter as PromCounter, Histogram as PromHistogram, Registry } from 'prom-client';

/** Label name → the only values it may take. */
export type LabelValues = Readonly<Record<string, readonly string[]>>;

/** One value per declared label, each from its declared set. */
export type LabelsOf<L extends LabelValues> = { readonly [K in keyof L]: L[K][number] };

export interface Counter<L extends LabelValues> {
  inc(labels: LabelsOf<L>, by?: number): void;
  /** The current value of one series (0 when it was never incremented). */
  value(labels: LabelsOf<L>): number;
}

export interface Histogram<L extends LabelValues> {
  observe(labels: LabelsOf<L>, value: number): void;
}

export interface MetricsRegistry {
  /** Creates a counter, or returns the one already registered under `name` with the same labels. */
  counter<const L extends LabelValues>(name: string, help: string, labels: L): Counter<L>;
  /** Creates a histogram, or returns the one already registered under `name` with the same labels. */
  histogram<const L extends LabelValues>(name: string, help: string, labels: L, buckets: readonly number[]): Histogram<L>;
  /** The text exposition of every metric, for GET /metrics. */
  render(): Promise<string>;
}

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Registered {
  kind: 'counter' | 'histogram';
  labels: LabelValues;
  handle: unknown;
}

export interface RegistryOptions {
  /** Also serve prom-client's process metrics (CPU, memory, event loop lag, GC, handles). */
  processMetrics?: boolean;
}

export function createMetricsRegistry(options: RegistryOptions = {}): MetricsRegistry {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const metrics = new Map<string, Registered>();

  /** The label object in declared order, every value checked against its declared set. */
  function checked(name: string, declared: LabelValues, values: Readonly<Record<string, string>>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const label of Object.keys(declared)) {
      const value = values[label];
      // A value outside the declared set is a programming error; refusing it keeps labels closed.
      if (value === undefined || !declared[label]?.includes(value)) throw new TypeError(`metric ${name}: undeclared value for ${label}`);
      out[label] = value;
    }
    return out;
  }

  function existing(name: string, kind: Registered['kind'], labels: LabelValues): unknown {
    const found = metrics.get(name);
    if (!found) {
      if (!NAME.test(name)) throw new TypeError(`invalid metric name ${name}`);
      for (const label of Object.keys(labels)) if (!LABEL_NAME.test(label)) throw new TypeError(`invalid label name ${label}`);
      return undefined;
    }
    if (found.kind !== kind || JSON.stringify(Object.keys(found.labels)) !== JSON.stringify(Object.keys(labels))) {
      throw new TypeError(`metric ${name} is registered with other labels`);
    }
    return found.handle;
  }

  return {
    counter<const L extends LabelValues>(name: string, help: string, labels: L): Counter<L> {
      const found = existing(name, 'counter', labels);
      if (found) return found as Counter<L>;
      const counter = new PromCounter({ name, help, labelNames: Object.keys(labels), registers: [registry] });
      // prom-client reads values asynchronously; tests and the budget read one series at once.
      const values = new Map<string, number>();
      const handle: Counter<LabelValues> = {
        inc(given, by = 1) {
          if (!(by >= 0)) throw new RangeError('a counter only goes up');
          const series = checked(name, labels, given);
          counter.inc(series, by);
          const key = JSON.stringify(series);
          values.set(key, (values.get(key) ?? 0) + by);
        },
        value(given) {
          return values.get(JSON.stringify(checked(name, labels, given))) ?? 0;
        },
      };
      metrics.set(name, { kind: 'counter', labels, handle });
      return handle as unknown as Counter<L>;
    },

    histogram<const L extends LabelValues>(name: string, help: string, labels: L, buckets: readonly number[]): Histogram<L> {
      const found = existing(name, 'histogram', labels);
      if (found) return found as Histogram<L>;
      const histogram = new PromHistogram({ name, help, labelNames: Object.keys(labels), buckets: [...buckets], registers: [registry] });
      const handle: Histogram<LabelValues> = {
        observe(given, value) {
          histogram.observe(checked(name, labels, given), value);
        },
      };
      metrics.set(name, { kind: 'histogram', labels, handle });
      return handle as unknown as Histogram<L>;
    },

    render: () => registry.metrics(),
  };
}

/** The process's registry, served at GET /metrics, with the process metrics. Tests that count pass their own. */
export const defaultMetrics: MetricsRegistry = createMetricsRegistry({ processMetrics: true });
