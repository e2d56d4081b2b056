/** The bar each figure is checked against. The suite reports against these and never adjusts them. */
export const TARGET = {
  /** Minified bytes of each function's bundle. */
  bundleBytes: 520_000,
  /** Cold-start wall time, ours over baseline (b) (Secrets Manager SDK + fetch). */
  coldVsSdkOnly: 1.1,
  /** Cold-start wall time, ours over baseline (c) (`@bitrix24/b24jssdk` + SDK). */
  coldVsB24jssdk: 0.7,
  peakRssMiB: 70,
  /** Warm `/typing` latency over the bare portal fetch, at p50 and p99. */
  warmP50: 1.25,
  warmP99: 1.5,
  /** The web client clears "typing…" about 35 s after the last call, so calls must never be further apart. */
  indicatorLapseSeconds: 35,
};
