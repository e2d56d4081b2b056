import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import { emfMetrics } from '../metrics/emf.js';
import { noMetrics, type Metrics } from '../metrics/index.js';
import { lazyTracing, noTracing, type Tracing } from '../tracing/index.js';
import { powertoolsTracing } from '../tracing/powertools.js';

/** The `service` dimension of every metric and trace, as in every log line. */
export const SERVICE_NAME = 'bitrix24-typing';

/** A function's metrics, built once per container: embedded-metric records in its log stream, or none. */
export function functionMetrics(config: Pick<Config, 'metricsEnabled' | 'stage'>, logger: Logger): Metrics {
  if (!config.metricsEnabled) return noMetrics;
  return emfMetrics({ service: SERVICE_NAME, stage: config.stage, write: (line) => logger.raw(line) });
}

/** A function's tracing: X-Ray through Powertools Tracer where the deployment turned it on, else none. */
export function functionTracing(config: Pick<Config, 'tracingEnabled'>): Tracing {
  return config.tracingEnabled ? lazyTracing(() => powertoolsTracing(SERVICE_NAME)) : noTracing;
}
