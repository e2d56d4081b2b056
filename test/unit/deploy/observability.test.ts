import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../../lib/errors/index.js';
import { METRIC_UNITS } from '../../../lib/metrics/index.js';
import { readServerlessYml } from '../../../scripts/state-table.mjs';

const root = join(import.meta.dirname, '..', '..', '..');
const require = createRequire(import.meta.url);
const { dashboardBody } = require('../../../deploy/dashboard.cjs') as {
  dashboardBody: (service: string, stage: string) => string;
};

type Metric = { Namespace: string; MetricName: string; Dimensions?: Array<{ Name: string; Value: unknown }> };
type Alarm = {
  Type: string;
  Properties: {
    AlarmName: string;
    Threshold: number;
    EvaluationPeriods: number;
    Metrics: Array<{ Id: string; Expression?: string; MetricStat?: { Metric: Metric; Period: number; Stat: string } }>;
  };
};

const serverless = readServerlessYml() as {
  custom: Record<string, unknown>;
  provider: { logRetentionInDays: number; logs: { httpApi: { format: string } }; environment: Record<string, string> };
  functions: Record<string, { reservedConcurrency: string }>;
  resources: { Resources: Record<string, Alarm> };
};
const alarms = Object.values(serverless.resources.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('observability in serverless.yml', () => {
  it('holds an alarm for each failure the runbook covers, with the thresholds README defends', () => {
    // Assess
    const summary = alarms.map((a) => [
      a.Properties.AlarmName.replace('${self:service}-${sls:stage}-', ''),
      a.Properties.Threshold,
      a.Properties.EvaluationPeriods,
    ]);
    expect(summary).toEqual([
      ['typing-5xx-rate', 5, 2],
      ['bot-events-5xx-rate', 5, 2],
      ['upstream-error-rate', 10, 2],
      ['credentials-unavailable', 3, 1],
      ['token-refresh-failures', 1, 1],
      ['lambda-errors', 1, 1],
      ['lambda-throttles', 1, 1],
      ['api-5xx-rate', 5, 2],
    ]);
  });

  it('alarms only on catalogued metrics of ours, under bounded dimensions', () => {
    // Assess
    const ours = alarms
      .flatMap((a) => a.Properties.Metrics)
      .flatMap((m) => (m.MetricStat?.Metric.Namespace === 'Bitrix24Typing' ? [m.MetricStat.Metric] : []));
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.filter((m) => !(m.MetricName in METRIC_UNITS))).toEqual([]);
    const dimensionNames = new Set(ours.flatMap((m) => (m.Dimensions ?? []).map((d) => d.Name)));
    expect([...dimensionNames].sort()).toEqual(['outcome', 'route', 'service', 'stage']);
  });

  it('keeps every log group 30 days and writes access logs as JSON without query strings', () => {
    // Assess
    expect(serverless.provider.logRetentionInDays).toBe(30);
    const format = JSON.parse(serverless.provider.logs.httpApi.format) as Record<string, string>;
    expect(format).toMatchObject({ routeKey: '$context.routeKey', status: '$context.status' });
    expect(Object.values(format).filter((value) => /path|querystring/i.test(value))).toEqual([]);
  });

  it('sets the log level, metrics and tracing from the deploy environment, tracing off by default', () => {
    // Assess
    expect(serverless.provider.environment).toMatchObject({
      LOG_LEVEL: "${env:LOG_LEVEL, ''}",
      METRICS_ENABLED: "${env:METRICS_ENABLED, ''}",
      TRACING_ENABLED: '${self:custom.tracing}',
    });
    expect(serverless.custom.tracing).toBe("${env:TRACING, 'false'}");
    expect(serverless.custom.alarmTopic).toBe("${env:ALARM_TOPIC, 'off'}");
  });
});

describe('the dashboard', () => {
  const body = dashboardBody('bitrix24-typing', 'prod');
  const widgets = (JSON.parse(body) as { widgets: Array<{ properties: { title: string; metrics?: unknown[][] } }> })
    .widgets;

  it('shows traffic, outcomes, latency percentiles and upstream health, in that order', () => {
    // Assess
    expect(widgets.map((w) => w.properties.title)).toEqual([
      'Requests per route (per minute)',
      'Outcomes: requests by route and outcome code (per minute)',
      '5xx rate per route (%)',
      'API Gateway 4xx and 5xx (per 5 minutes)',
      'Lambda errors, throttles and cold starts',
      'Latency per route: p50, p90, p99 (ms)',
      'Lambda duration p99 and concurrent executions',
      'Portal calls: latency p50 and p99 (ms)',
      'Portal calls: failure rate (%) and attempts per call',
      'Portal budget: coalesced requests and budget refusals',
      'Token refreshes: ok and failed',
      'Credential and shared-state failures',
      'Portals with the most refusals and failures',
    ]);
  });

  it('plots only catalogued metrics, and leaves CloudFormation only the region and the API id to fill in', () => {
    // Assess
    const named = widgets
      .flatMap((w) => w.properties.metrics ?? [])
      .filter((m) => m[0] === 'Bitrix24Typing')
      .map((m) => m[1] as string);
    expect(named.filter((name) => !(name in METRIC_UNITS))).toEqual([]);
    expect([...new Set(body.match(/\$\{[^}]*\}/g))].sort()).toEqual(['${AWS::Region}', '${HttpApi}']);
  });
});

describe('README', () => {
  it('lists every metric with its unit', () => {
    // Assess
    const missing = Object.entries(METRIC_UNITS).filter(
      ([name, unit]) => !readme.includes(`| \`${name}\` | ${unit} |`),
    );
    expect(missing).toEqual([]);
  });

  it('has a runbook entry for every alarm and every error code', () => {
    // Prepare
    const runbook = readme.slice(readme.indexOf('## Runbook'));
    // Assess
    const alarmNames = alarms.map((a) => a.Properties.AlarmName.replace('${self:service}-${sls:stage}-', ''));
    expect(alarmNames.filter((name) => !runbook.includes(`\`${name}\``))).toEqual([]);
    expect(Object.keys(ERROR_CATALOGUE).filter((code) => !runbook.includes(`\`${code}\``))).toEqual([]);
  });
});
