/** The bar each figure is checked against. The suite reports against these and never adjusts them. */
export const TARGET = {
  /** Minified bytes of each function's bundle. */
  bundleBytes: 520_000,
  /** Cold-start wall time, ours over baseline (b) (Secrets Manager and DynamoDB SDKs + fetch, same AWS calls). */
  coldVsSdkOnly: 1.1,
  peakRssMiB: 75,
  /** Warm `/typing` latency over baseline (b) making the same portal call and DynamoDB requests, at p50 and p99. */
  warmP50: 1.25,
  warmP99: 1.5,
  /** DynamoDB round trips one after another on one warm `/typing` request's critical path. */
  stateRoundTrips: 2,
  /** The web client clears "typing…" about 35 s after the last call, so calls must never be further apart. */
  indicatorLapseSeconds: 35,
};
