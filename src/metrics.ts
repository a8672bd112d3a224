// A tiny in-process metrics registry, rendered in the Prometheus text format (version 0.0.4).
// Every label is declared with its closed set of values when the metric is created, so a label can
// never carry request data (a token, a vault name) and the number of series stays bounded.

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label name → the only values it may take. */
export type LabelValues = Readonly<Record<string, readonly string[]>>;

/** One value per declared label, each from its declared set. */
export type LabelsOf<L extends LabelValues> = { readonly [K in keyof L]: L[K][number] };

export interface Counter<L extends LabelValues> {
  inc(labels: LabelsOf<L>, by?: number): void;
  /** The current value of one series (0 when it was never incremented). */
  value(labels: LabelsOf<L>): number;
}

export interface MetricsRegistry {
  /** Creates a counter, or returns the one already registered under `name` with the same labels. */
  counter<const L extends LabelValues>(name: string, help: string, labels: L): Counter<L>;
  /** The text exposition of every metric, for GET /metrics. */
  render(): string;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface CounterState {
  help: string;
  labels: LabelValues;
  /** Rendered label set (`{a="x",b="y"}`) → value. */
  series: Map<string, number>;
  handle: Counter<LabelValues>;
}

const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeValue = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export function createMetricsRegistry(): MetricsRegistry {
  const counters = new Map<string, CounterState>();

  function seriesKey(name: string, declared: LabelValues, labels: Readonly<Record<string, string>>): string {
    const parts = Object.keys(declared).map((label) => {
      const value = labels[label];
      // A value outside the declared set is a programming error; refusing it keeps labels closed.
      if (value === undefined || !declared[label]?.includes(value)) throw new TypeError(`metric ${name}: undeclared value for ${label}`);
      return `${label}="${escapeValue(value)}"`;
    });
    return parts.length === 0 ? '' : `{${parts.join(',')}}`;
  }

  return {
    counter<const L extends LabelValues>(name: string, help: string, labels: L): Counter<L> {
      const existing = counters.get(name);
      if (existing) {
        if (JSON.stringify(existing.labels) !== JSON.stringify(labels))
          throw new TypeError(`metric ${name} is registered with other labels`);
        return existing.handle as unknown as Counter<L>;
      }
      if (!NAME.test(name)) throw new TypeError(`invalid metric name ${name}`);
      for (const label of Object.keys(labels)) if (!LABEL_NAME.test(label)) throw new TypeError(`invalid label name ${label}`);
      const series = new Map<string, number>();
      const handle: Counter<LabelValues> = {
        inc(values, by = 1) {
          if (!(by >= 0)) throw new RangeError('a counter only goes up');
          const key = seriesKey(name, labels, values);
          series.set(key, (series.get(key) ?? 0) + by);
        },
        value(values) {
          return series.get(seriesKey(name, labels, values)) ?? 0;
        },
      };
      counters.set(name, { help, labels, series, handle });
      return handle as unknown as Counter<L>;
    },

    render() {
      const lines: string[] = [];
      for (const [name, counter] of [...counters].sort(([a], [b]) => a.localeCompare(b))) {
        lines.push(`# HELP ${name} ${escapeHelp(counter.help)}`, `# TYPE ${name} counter`);
        for (const [key, value] of [...counter.series].sort(([a], [b]) => a.localeCompare(b))) lines.push(`${name}${key} ${value}`);
      }
      return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
    },
  };
}

/** The process's registry, served at GET /metrics. Tests that count pass their own. */
export const defaultMetrics: MetricsRegistry = createMetricsRegistry();
