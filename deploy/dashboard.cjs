// The stage's CloudWatch dashboard, as the DashboardBody serverless.yml passes to CloudFormation. Generated here
// rather than written out in YAML because every route repeats the same widgets; README ("Dashboard") describes
// each widget in words. CommonJS because the Serverless Framework loads `${file(...)}` scripts with require().
'use strict';

const NAMESPACE = 'Bitrix24Typing';
const SERVICE = 'bitrix24-typing';
const ROUTES = [
  { route: 'POST /typing', fn: 'typing' },
  { route: 'POST /bitrix/events', fn: 'botEvents' },
];

/** One widget row is 24 units wide; each widget here is 8 or 12 wide and 6 high. */
function widget(title, x, y, width, properties) {
  return { type: 'metric', x, y, width, height: 6, properties: { title, region: '${AWS::Region}', ...properties } };
}

/** A metric of ours for one route; `options` are the widget's per-metric options (stat, label, id, visible). */
function ours(name, route, stage, options) {
  return [NAMESPACE, name, 'service', SERVICE, 'stage', stage, 'route', route, options];
}

function lambda(name, fn, functionPrefix, options) {
  return ['AWS/Lambda', name, 'FunctionName', `${functionPrefix}-${fn}`, options];
}

/** Builds the dashboard for a stage: a JSON string with `${AWS::Region}` and `${HttpApi}` left for Fn::Sub. */
function dashboardBody(service, stage) {
  const functionPrefix = `${service}-${stage}`;
  const perRoute = (build) => ROUTES.flatMap((r, i) => build(r, i));
  const widgets = [
    // Traffic
    widget('Requests per route (per minute)', 0, 0, 12, {
      view: 'timeSeries',
      stat: 'Sum',
      period: 60,
      metrics: [
        ...perRoute(({ route }) => [ours('Requests', route, stage, { label: route })]),
        ['AWS/ApiGateway', 'Count', 'ApiId', '${HttpApi}', { label: 'API Gateway: all requests' }],
      ],
    }),
    widget('Outcomes: requests by route and outcome code (per minute)', 12, 0, 12, {
      view: 'timeSeries',
      stacked: true,
      period: 60,
      metrics: [
        [
          {
            expression: `SEARCH('{${NAMESPACE},service,stage,route,outcome} MetricName="Requests" stage="${stage}"', 'Sum', 60)`,
            id: 'outcomes',
            label: '',
          },
        ],
      ],
    }),
    // Errors
    widget('5xx rate per route (%)', 0, 6, 8, {
      view: 'timeSeries',
      period: 300,
      yAxis: { left: { min: 0 } },
      metrics: perRoute(({ route }, i) => [
        [{ expression: `100 * e${i}`, label: route, id: `rate${i}` }],
        ours('ServerErrors', route, stage, { stat: 'Average', id: `e${i}`, visible: false }),
      ]),
    }),
    widget('API Gateway 4xx and 5xx (per 5 minutes)', 8, 6, 8, {
      view: 'timeSeries',
      stat: 'Sum',
      period: 300,
      metrics: [
        ['AWS/ApiGateway', '4xx', 'ApiId', '${HttpApi}', { label: '4xx (throttled requests are 429)' }],
        ['AWS/ApiGateway', '5xx', 'ApiId', '${HttpApi}', { label: '5xx' }],
      ],
    }),
    widget('Lambda errors, throttles and cold starts', 16, 6, 8, {
      view: 'timeSeries',
      stat: 'Sum',
      period: 300,
      metrics: perRoute(({ route, fn }) => [
        lambda('Errors', fn, functionPrefix, { label: `${fn} errors` }),
        lambda('Throttles', fn, functionPrefix, { label: `${fn} throttles` }),
        ours('ColdStart', route, stage, { label: `${fn} cold starts` }),
      ]),
    }),
    // Latency
    widget('Latency per route: p50, p90, p99 (ms)', 0, 12, 12, {
      view: 'timeSeries',
      period: 300,
      metrics: perRoute(({ route }) =>
        ['p50', 'p90', 'p99'].map((stat) => ours('Latency', route, stage, { stat, label: `${route} ${stat}` })),
      ),
    }),
    widget('Lambda duration p99 and concurrent executions', 12, 12, 12, {
      view: 'timeSeries',
      period: 300,
      metrics: perRoute(({ fn }) => [
        lambda('Duration', fn, functionPrefix, { stat: 'p99', label: `${fn} duration p99 (ms)` }),
        lambda('ConcurrentExecutions', fn, functionPrefix, {
          stat: 'Maximum',
          label: `${fn} concurrency`,
          yAxis: 'right',
        }),
      ]),
    }),
    // Upstream health
    widget('Portal calls: latency p50 and p99 (ms)', 0, 18, 8, {
      view: 'timeSeries',
      period: 300,
      metrics: perRoute(({ route }) =>
        ['p50', 'p99'].map((stat) => ours('UpstreamLatency', route, stage, { stat, label: `${route} ${stat}` })),
      ),
    }),
    widget('Portal calls: failure rate (%) and attempts per call', 8, 18, 8, {
      view: 'timeSeries',
      period: 300,
      metrics: perRoute(({ route }, i) => [
        [{ expression: `100 * u${i}`, label: `${route} UPSTREAM_* rate`, id: `urate${i}` }],
        ours('UpstreamErrors', route, stage, { stat: 'Average', id: `u${i}`, visible: false }),
        ours('UpstreamAttempts', route, stage, { stat: 'Average', label: `${route} attempts`, yAxis: 'right' }),
      ]),
    }),
    widget('Portal budget: coalesced requests and budget refusals', 16, 18, 8, {
      view: 'timeSeries',
      stat: 'Sum',
      period: 300,
      metrics: perRoute(({ route }) => [
        ours('CoalescedRequests', route, stage, { label: `${route} coalesced` }),
        ours('RateBudgetRefusals', route, stage, { label: `${route} budget refusals` }),
      ]),
    }),
    // Credentials and state
    widget('Token refreshes: ok and failed', 0, 24, 8, {
      view: 'timeSeries',
      stat: 'Sum',
      period: 300,
      metrics: perRoute(({ route }) => [
        ours('TokenRefreshes', route, stage, { label: `${route} ok` }),
        ours('TokenRefreshFailures', route, stage, { label: `${route} failed` }),
      ]),
    }),
    widget('Credential and shared-state failures', 8, 24, 8, {
      view: 'timeSeries',
      stat: 'Sum',
      period: 300,
      metrics: perRoute(({ route }) => [
        ours('CredentialFailures', route, stage, { label: `${route} credentials` }),
        ours('StateStoreFailures', route, stage, { label: `${route} shared state` }),
      ]),
    }),
    {
      type: 'log',
      x: 16,
      y: 24,
      width: 8,
      height: 6,
      properties: {
        title: 'Portals with the most refusals and failures',
        region: '${AWS::Region}',
        view: 'table',
        query:
          `SOURCE '/aws/lambda/${functionPrefix}-typing' | SOURCE '/aws/lambda/${functionPrefix}-botEvents' | ` +
          // Summary lines carry `portal`; an event's failed typing call, `replay.portal` (its answer was 200).
          "filter ispresent(outcome) and outcome != 'OK' | fields coalesce(portal, replay.portal) as portalName | " +
          'stats count(*) as requests by portalName, outcome | sort requests desc | limit 20',
      },
    },
  ];
  return JSON.stringify({ widgets });
}

/** The `${file(./deploy/dashboard.cjs)}` entry point: the service and stage come from serverless.yml. */
module.exports = async ({ resolveVariable }) => {
  const service = await resolveVariable('self:service');
  const stage = await resolveVariable('sls:stage');
  return { 'Fn::Sub': dashboardBody(service, stage) };
};
module.exports.dashboardBody = dashboardBody;
