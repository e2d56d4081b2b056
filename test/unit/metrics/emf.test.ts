import { Metrics as PowertoolsMetrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { emfMetrics } from '../../../lib/metrics/emf.js';
import { METRIC_UNITS, type MetricName } from '../../../lib/metrics/index.js';

const AT = Date.now();

/** What Powertools Metrics serialises for the same points: the reference for the format. */
function powertoolsRecord(points: Array<[MetricName, number]>, dimensions: Record<string, string>): string {
  const reference = new PowertoolsMetrics({
    namespace: 'Bitrix24Typing',
    serviceName: 'bitrix24-typing',
    defaultDimensions: { stage: 'prod' },
  });
  for (const [name, value] of points)
    reference.addMetric(name, METRIC_UNITS[name] as (typeof MetricUnit)[keyof typeof MetricUnit], value);
  for (const [name, value] of Object.entries(dimensions)) reference.addDimension(name, value);
  reference.setTimestamp(AT);
  return JSON.stringify(reference.serializeMetrics());
}

function ours() {
  const lines: string[] = [];
  const metrics = emfMetrics({ service: 'bitrix24-typing', stage: 'prod', write: (l) => lines.push(l), now: () => AT });
  return { metrics, lines };
}

describe('embedded-metric records', () => {
  it('are byte for byte what Powertools Metrics writes for the same points', () => {
    // Prepare
    const { metrics, lines } = ours();
    const points: Array<[MetricName, number]> = [
      ['UpstreamLatency', 12],
      ['UpstreamAttempts', 1],
      ['UpstreamLatency', 30],
      ['ColdStart', 1],
      ['Requests', 1],
      ['ServerErrors', 0],
      ['Latency', 55.5],
    ];

    // Act
    for (const [name, value] of points) metrics.add(name, value);
    metrics.publish({ route: 'POST /typing', outcome: 'OK' });

    // Assess
    expect(lines).toEqual([
      powertoolsRecord(points, { route: 'POST /typing' }),
      powertoolsRecord([['Requests', 1]], { route: 'POST /typing', outcome: 'OK' }),
    ]);
  });

  it("starts each request's record afresh, and writes only the outcome record when nothing else was added", () => {
    // Prepare
    const { metrics, lines } = ours();
    metrics.add('Latency', 10);
    metrics.publish({ route: 'POST /bitrix/events', outcome: 'OK' });
    lines.length = 0;

    // Act
    metrics.publish({ route: 'POST /bitrix/events', outcome: 'EVENT_UNVERIFIED' });

    // Assess
    expect(lines).toEqual([
      powertoolsRecord([['Requests', 1]], { route: 'POST /bitrix/events', outcome: 'EVENT_UNVERIFIED' }),
    ]);
  });

  it('keeps at most 100 values of a metric in one record, as CloudWatch allows', () => {
    // Prepare
    const { metrics, lines } = ours();

    // Act
    for (let i = 0; i < 150; i += 1) metrics.add('UpstreamLatency', i);
    metrics.publish({ route: 'POST /typing', outcome: 'OK' });

    // Assess
    expect((JSON.parse(lines[0]!) as { UpstreamLatency: number[] }).UpstreamLatency).toHaveLength(100);
  });
});
