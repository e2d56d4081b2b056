import { METRIC_UNITS, METRICS_NAMESPACE, type MetricName, type Metrics, type RequestDimensions } from './index.js';

export interface EmfMetricsOptions {
  service: string;
  stage: string;
  /** Where each record goes, one JSON line: the function's log stream, which CloudWatch turns into metrics. */
  write: (line: string) => void;
  namespace?: string;
  now?: () => number;
}

// CloudWatch takes at most 100 values of one metric in a record; a request never comes near it, a process
// serving many at once (serverless-offline) might.
const MAX_VALUES = 100;

/**
 * Metrics in CloudWatch's embedded metric format: per request, one record under its route and one `Requests`
 * under its route and outcome, written through the function's log sink (redacted like every line, and seen by
 * tests where they see the logs). The records are byte for byte what Powertools Metrics serialises for the same
 * points (a test compares them); Powertools itself is not used at run time because constructing it opens
 * stderr and reads its settings, ~10 ms of every cold start, and adds 14 KB to bundles near their limit
 * (BENCHMARKS.md, "Observability"). Names and units come from the typed catalogue, dimensions from fixed sets.
 *
 * Lambda runs one request at a time per container, so what was added since the last publish belongs to the
 * request being answered. Where requests share a process (serverless-offline), a record may carry another
 * request's points of the same route: the sums stay right.
 */
export function emfMetrics(options: EmfMetricsOptions): Metrics {
  const namespace = options.namespace ?? METRICS_NAMESPACE;
  const now = options.now ?? Date.now;
  const base = { service: options.service, stage: options.stage };
  let points = new Map<MetricName, number[]>();

  const record = (dimensions: Record<string, string>, values: Map<MetricName, number[]>): string =>
    JSON.stringify({
      _aws: {
        Timestamp: now(),
        CloudWatchMetrics: [
          {
            Namespace: namespace,
            Dimensions: [Object.keys(dimensions)],
            Metrics: [...values.keys()].map((name) => ({ Name: name, Unit: METRIC_UNITS[name] })),
          },
        ],
      },
      ...dimensions,
      ...Object.fromEntries([...values].map(([name, list]) => [name, list.length === 1 ? list[0] : list])),
    });

  return {
    add(name: MetricName, value = 1) {
      const list = points.get(name) ?? [];
      if (list.length < MAX_VALUES) list.push(value);
      points.set(name, list);
    },
    publish({ route, outcome }: RequestDimensions) {
      const added = points;
      points = new Map();
      if (added.size > 0) options.write(record({ ...base, route }, added));
      options.write(record({ ...base, route, outcome }, new Map([['Requests', [1]]])));
    },
  };
}
