/**
 * The service's metrics: one catalogue of names and units, and the port every layer records through. The
 * functions publish them in CloudWatch's embedded metric format (`emf.ts`); tests record them in memory
 * (`recording.ts`). README ("Metrics") lists what each one means and which alarm and widget read it.
 *
 * Dimensions are bounded on purpose: service, stage, route and, for `Requests` alone, the outcome code (one of
 * the error catalogue's codes or `OK`). A per-portal, per-dialog or per-user dimension would create a metric
 * per tenant (billed per metric, and unbounded); per-portal trouble is found in the logs instead, whose summary
 * line carries `portal` (README, "Runbook").
 */
export const METRIC_UNITS = {
  /** One per request (route, and route + outcome). */
  Requests: 'Count',
  /** 1 when the answer was 5xx, else 0: the average is the route's 5xx rate. */
  ServerErrors: 'Count',
  /** The handler's time from the request to its answer. */
  Latency: 'Milliseconds',
  /** 1 on a container's first request. */
  ColdStart: 'Count',
  /** One per portal call, from the first attempt to its outcome (retries and a token refresh included). */
  UpstreamLatency: 'Milliseconds',
  /** Attempts one portal call took (rate-limit and socket retries). */
  UpstreamAttempts: 'Count',
  /** 1 when a portal call ended in an UPSTREAM_* error, else 0: the average is the upstream failure rate. */
  UpstreamErrors: 'Count',
  /** Requests answered from a recent call for the same dialog, with no portal call. */
  CoalescedRequests: 'Count',
  /** Portal calls or retries our own count of the portal's budget refused (the portal was not asked). */
  RateBudgetRefusals: 'Count',
  /** OAuth pairs this container refreshed and stored. */
  TokenRefreshes: 'Count',
  /** OAuth refreshes that failed (the OAuth server refused, or did not answer). */
  TokenRefreshFailures: 'Count',
  /** Secret reads or writes that failed with nothing to fall back on (CREDENTIALS_UNAVAILABLE follows). */
  CredentialFailures: 'Count',
  /** Shared-state calls that failed and were answered from this container's memory instead. */
  StateStoreFailures: 'Count',
} as const;

export type MetricName = keyof typeof METRIC_UNITS;
export type MetricUnit = (typeof METRIC_UNITS)[MetricName];

/** CloudWatch namespace of every metric. */
export const METRICS_NAMESPACE = 'Bitrix24Typing';

/** What a request's record is published under. Both values come from fixed sets (routes, error codes). */
export interface RequestDimensions {
  route: string;
  outcome: string;
}

export interface Metrics {
  /** Adds a data point to the record the current request publishes. */
  add(name: MetricName, value?: number): void;
  /**
   * Publishes what was added since the last publish under the request's route, and one `Requests` under its
   * route and outcome. Called once per request, by the request wrapper.
   */
  publish(dimensions: RequestDimensions): void;
}

/** Records nothing: for code run outside a function (the CLI, tools) and for metrics turned off. */
export const noMetrics: Metrics = {
  add: () => undefined,
  publish: () => undefined,
};
