import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import { emfMetrics } from '../metrics/emf.js';
import { noMetrics, type Metrics } from '../metrics/index.js';
import { lazyTracing, noTracing, type Tracing } from '../tracing/index.js';

/** The `service` dimension of every metric and trace, as in every log line. */
export const SERVICE_NAME = 'bitrix24-typing';

/** A function's metrics, built once per container: embedded-metric records in its log stream, or none. */
export function functionMetrics(config: Pick<Config, 'metricsEnabled' | 'stage'>, logger: Logger): Metrics {
  if (!config.metricsEnabled) return noMetrics;
  return emfMetrics({ service: SERVICE_NAME, stage: config.stage, write: (line) => logger.raw(line) });
}

/** A function's tracing: X-Ray segment documents where the deployment turned tracing on, else none. */
export function functionTracing(config: Pick<Config, 'tracingEnabled'>): Tracing {
  if (!config.tracingEnabled) return noTracing;
  return lazyTracing(async () => (await import('../tracing/xray.js')).xrayTracing());
}
