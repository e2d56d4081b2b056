import { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import { METRIC_UNITS, METRICS_NAMESPACE, type MetricName, type Metrics, type RequestDimensions } from './index.js';

export interface EmfMetricsOptions {
  service: string;
  stage: string;
  /** Where each record goes, one JSON line: the function's log stream, which CloudWatch turns into metrics. */
  write: (line: string) => void;
  namespace?: string;
}

/**
 * Metrics in CloudWatch's embedded metric format, through Powertools Metrics (it validates names, units and
 * dimension counts, and groups repeated values of a metric into one array). Powertools' own flush writes to
 * stdout past the service's log sink; here each record is serialised and handed to `write` instead, so it goes
 * through the same redacting sink as every log line, and a test sees it where it sees the logs.
 *
 * Lambda runs one request at a time per container, so what was added since the last publish belongs to the
 * request being answered. Where requests share a process (serverless-offline), a record may carry another
 * request's points of the same route: the sums stay right.
 */
export function emfMetrics(options: EmfMetricsOptions): Metrics {
  const settings = {
    namespace: options.namespace ?? METRICS_NAMESPACE,
    serviceName: options.service,
    defaultDimensions: { stage: options.stage },
  };
  const perRoute = new PowertoolsMetrics(settings);
  const perOutcome = new PowertoolsMetrics(settings);
  let pending = false;

  const flush = (metrics: PowertoolsMetrics, dimensions: Record<string, string>) => {
    try {
      for (const [name, value] of Object.entries(dimensions)) metrics.addDimension(name, value);
      options.write(JSON.stringify(metrics.serializeMetrics()));
    } finally {
      metrics.clearMetrics();
      metrics.clearDimensions();
    }
  };

  return {
    add(name: MetricName, value = 1) {
      perRoute.addMetric(name, METRIC_UNITS[name], value);
      pending = true;
    },
    publish({ route, outcome }: RequestDimensions) {
      if (pending) flush(perRoute, { route });
      pending = false;
      perOutcome.addMetric('Requests', METRIC_UNITS.Requests, 1);
      flush(perOutcome, { route, outcome });
    },
  };
}
