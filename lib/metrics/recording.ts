import type { MetricName, Metrics, RequestDimensions } from './index.js';

export interface RecordedRequest extends RequestDimensions {
  /** Every value added for the request, by metric name, in the order added. */
  points: Partial<Record<MetricName, number[]>>;
}

/** Metrics kept in memory, for tests: what each request published, and what was added since. */
export function recordingMetrics(): {
  metrics: Metrics;
  published: RecordedRequest[];
  /** Values added and not yet published, by metric name. */
  pending: () => Partial<Record<MetricName, number[]>>;
} {
  let points: Partial<Record<MetricName, number[]>> = {};
  const published: RecordedRequest[] = [];
  const metrics: Metrics = {
    add(name, value = 1) {
      (points[name] ??= []).push(value);
    },
    publish(dimensions) {
      published.push({ ...dimensions, points });
      points = {};
    },
  };
  return { metrics, published, pending: () => points };
}
