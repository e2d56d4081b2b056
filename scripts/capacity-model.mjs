// The capacity model of the service as built: AWS calls per request, prices, quotas and a synthetic day of
// traffic. Plain JavaScript so `npm run capacity` runs with no build step; the test imports it to compare its
// per-request prediction with the calls counted on the wire.

/** List prices, eu-central-1, as of 2026-11 from memory of the public price pages: check before relying on them. */
export const PRICES = {
  asOf: '2026-11-28',
  lambdaPerMillionRequests: { usd: 0.2, source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaPerGbSecondArm: { usd: 0.0000133334, source: 'https://aws.amazon.com/lambda/pricing/' },
  httpApiPerMillionRequests: { usd: 1.2, source: 'https://aws.amazon.com/api-gateway/pricing/' },
  secretsPerTenThousandCalls: { usd: 0.05, source: 'https://aws.amazon.com/secrets-manager/pricing/' },
  secretPerMonth: { usd: 0.4, source: 'https://aws.amazon.com/secrets-manager/pricing/' },
  dynamoPerMillionWrites: { usd: 1.525, source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  dynamoPerMillionReads: { usd: 0.305, source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  dynamoPerGbMonth: { usd: 0.306, source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  logsPerGbIngested: { usd: 0.63, source: 'https://aws.amazon.com/cloudwatch/pricing/' },
  metricPerMonth: { usd: 0.3, source: 'https://aws.amazon.com/cloudwatch/pricing/' },
};

/** Default quotas (per account and region unless said): check the account's Service Quotas console. */
export const QUOTAS = {
  apiStageThrottleRps: { value: 100, source: 'serverless.yml: API_THROTTLE_RATE default (burst 200)' },
  apiAccountRps: { value: 10_000, source: 'https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html' },
  lambdaConcurrency: {
    value: 1_000,
    source: 'https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html',
  },
  getSecretValueRps: {
    value: 10_000,
    source: 'https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html',
  },
  dynamoPartitionWcu: {
    value: 1_000,
    source: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html',
  },
  portalBucketRps: { value: 2 * 0.8, source: 'Bitrix24 leaky bucket 2/s, burst 50; PORTAL_BUDGET_SHARE_PERCENT 80' },
};

/** The service as built (lib/config defaults, serverless.yml, lib/state top comment). */
export const SERVICE = {
  memoryMb: 256,
  secretsCacheTtlSeconds: 300,
  typingCoalesceMs: 10_000,
  /** Secrets stored: one per portal, plus typing-keys, app credentials and event keys. */
  fixedSecrets: 3,
  /** Custom metric names with dimension sets the service emits (lib/metrics catalogue), one series each. */
  metricSeries: 12,
};

/**
 * AWS calls of one request, common case (lib/state top comment, README "Shared state across containers").
 * `/typing` with a fresh webhook id: idempotency PutItem and the answer's UpdateItem always; the typing slot's
 * UpdateItem only when this container has not itself typed in that dialog within the coalescing window
 * (lib/imbot/typing-gate.ts answers those from memory). The month figures count the slot write on every
 * request: with many containers a repeat rarely lands where the first went, so this is the upper bound.
 * A bot event, per bot named: claim PutItem, typing-slot UpdateItem.
 */
export const PER_REQUEST = {
  typing: { dynamoWrites: 3, dynamoWritesAlways: 2, dynamoReads: 0 },
  event: { dynamoWrites: 2, dynamoReads: 0 },
  /** The first request a container serves for a portal guesses the bucket's state wrong: one more write. */
  firstPerContainerPortalWrites: 1,
  /** Secrets each container reads once per TTL whatever the portal: typing-keys (for /typing). */
  containerSecrets: 1,
};

/**
 * Measured by `npm run bench` (Warm overhead, Cold start sections; BENCHMARKS.md history): the handler's own
 * time per warm request (p50 1.05 ms on loopback) and peak RSS per cold start (67 MiB, under 256 MB). Billed
 * duration is dominated by waiting on the portal: BITRIX24_LATENCY_MS is an assumption (a real portal's answer).
 */
export const MEASURED = { handlerMs: 1.05, peakRssMiB: 67, dynamoRoundTripMs: 8, bitrix24LatencyMs: 150 };
/** Bytes logged per request: the summary line and one embedded-metric record (assumed from their shapes). */
export const LOG_BYTES_PER_REQUEST = 900;

/**
 * AWS calls predicted for `requests` /typing requests spread over `portals` portals with `dialogsPerPortal`
 * dialogs each, all inside one secrets TTL and one coalescing window, on `containers` warm containers that each
 * see every dialog.
 */
export function predictTypingCalls({ portals, dialogsPerPortal, requests, containers = 1 }) {
  const slots = portals * dialogsPerPortal * containers;
  const guesses = portals * containers * PER_REQUEST.firstPerContainerPortalWrites;
  const dynamo = requests * PER_REQUEST.typing.dynamoWritesAlways + slots + guesses;
  const getSecretValue = containers * (PER_REQUEST.containerSecrets + portals);
  return { dynamo, getSecretValue };
}

/** A seeded generator, so every run prints the same figures. */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One synthetic day, per minute: each portal's mean rate follows a working-day curve (peak 14:00, night 10% of
 * it) and, with probability `burstsPerDay / 1440` a minute, bursts at `burstFactor` × its mean for that minute.
 * Portal sizes are heavy-tailed (Pareto, alpha 1.2): a few portals carry most traffic. Returns per-minute totals
 * and the busiest portal's peak rate. Bounded: portals are sampled (at most 2,000) and scaled up.
 */
export function simulateDay({
  portals,
  meanTypingPerPortalPerSec,
  eventsPerTyping = 1,
  burstsPerDay = 4,
  burstFactor = 20,
  seed = 1,
}) {
  const rnd = random(seed);
  const sampled = Math.min(portals, 2_000);
  const scale = portals / sampled;
  const sizes = Array.from({ length: sampled }, () => Math.min(50, 1 / Math.pow(1 - rnd(), 1 / 1.2)));
  const meanSize = sizes.reduce((a, b) => a + b, 0) / sampled;
  const diurnal = (minute) => 0.1 + 0.9 * Math.max(0, Math.sin(((minute / 60 - 6) / 16) * Math.PI));
  const curveMean = Array.from({ length: 1440 }, (_, m) => diurnal(m)).reduce((a, b) => a + b, 0) / 1440;
  const perMinute = new Float64Array(1440);
  let hottestPortalRps = 0;
  for (const size of sizes) {
    const base = (meanTypingPerPortalPerSec * size) / meanSize / curveMean;
    for (let m = 0; m < 1440; m += 1) {
      const burst = rnd() < burstsPerDay / 1440 ? burstFactor : 1;
      const rps = base * diurnal(m) * burst;
      perMinute[m] += rps * scale;
      hottestPortalRps = Math.max(hottestPortalRps, rps);
    }
  }
  const typingMean = perMinute.reduce((a, b) => a + b, 0) / 1440;
  const typingPeak = Math.max(...perMinute);
  return {
    typingMean,
    typingPeak,
    eventsMean: typingMean * eventsPerTyping,
    eventsPeak: typingPeak * eventsPerTyping,
    hottestPortalRps,
    sizes,
    scale,
    perMinute,
  };
}
