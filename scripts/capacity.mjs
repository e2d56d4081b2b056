// `npm run capacity`: drives the capacity model (capacity-model.mjs) with a synthetic day of traffic at 100,
// 10,000 and 100,000 portals and prints the monthly cost per component and the load on each quota, the table
// CAPACITY.md quotes. Pure computation, seeded: the same figures every run.
import {
  LOG_BYTES_PER_REQUEST,
  MEASURED,
  PER_REQUEST,
  PRICES,
  QUOTAS,
  SERVICE,
  simulateDay,
} from './capacity-model.mjs';

const MEAN_TYPING_PER_PORTAL_PER_SEC = Number(process.env.CAPACITY_TYPING_PER_PORTAL ?? 0.01);
const TTL_OVERRIDE = process.env.CAPACITY_SECRETS_TTL ? Number(process.env.CAPACITY_SECRETS_TTL) : undefined;
const MONTH_DAYS = 30;
const durationSec = (MEASURED.handlerMs + 2 * MEASURED.dynamoRoundTripMs + MEASURED.bitrix24LatencyMs) / 1000;
// Warm containers: twice the mean concurrency of the minute (arrivals inside a minute are bursty), at least one.
const containersFor = (rps) => Math.max(1, Math.ceil(2 * rps * durationSec));

/** GetSecretValue per second: each container reads each portal it serves once per TTL, plus its own secret. */
function secretReadsPerSec(portalRates, scale, containers, ttl) {
  let seen = 0;
  for (const rate of portalRates) seen += scale * (1 - Math.exp((-rate * ttl) / containers));
  return (containers * (seen + PER_REQUEST.containerSecrets)) / ttl;
}

/** The Secrets Manager load over the day: each minute's warm containers and the secret reads they make. */
function secretsLoad(day, ttl) {
  const meanSize = day.sizes.reduce((a, b) => a + b, 0) / day.sizes.length;
  const dayTotal = day.perMinute.reduce((a, b) => a + b, 0) / 1440;
  let secretCalls = 0;
  let peakSecretRps = 0;
  let peakContainers = 0;
  for (let m = 0; m < 1440; m += 1) {
    const typing = day.perMinute[m];
    const share = typing / dayTotal;
    // Per-portal rates of this minute (the sample, each standing for `scale` portals).
    const rates = day.sizes.map((s) => (MEAN_TYPING_PER_PORTAL_PER_SEC * s * share) / meanSize);
    let reads = 0;
    // Two functions (/typing, events), each with its own containers and cache.
    for (const fnRate of [typing, typing]) {
      const c = containersFor(fnRate);
      peakContainers = Math.max(peakContainers, c);
      reads += secretReadsPerSec(rates, day.scale, c, ttl);
    }
    secretCalls += reads * 60;
    peakSecretRps = Math.max(peakSecretRps, reads);
  }
  return { secretCalls, peakSecretRps, peakContainers };
}

/** Each quota's load at the peak minute, its limit, and what a caller gets once it is reached. */
function quotaUse(day, peakSecretRps) {
  const peakRps = day.typingPeak + day.eventsPeak;
  return [
    {
      quota: 'API stage throttle (API_THROTTLE_RATE)',
      load: peakRps,
      limit: QUOTAS.apiStageThrottleRps.value,
      caller: '429 from API Gateway, before the function',
    },
    {
      quota: 'API Gateway account rps',
      load: peakRps,
      limit: QUOTAS.apiAccountRps.value,
      caller: '429 from API Gateway',
    },
    {
      quota: 'Lambda concurrency',
      load: peakRps * durationSec,
      limit: QUOTAS.lambdaConcurrency.value,
      caller: 'gateway 5xx (Lambda throttled); Bitrix24 re-sends events',
    },
    {
      quota: 'Secrets Manager GetSecretValue rps',
      load: peakSecretRps,
      limit: QUOTAS.getSecretValueRps.value,
      caller: 'stale secret (≤ 900 s past TTL); none cached: 503 CREDENTIALS_UNAVAILABLE, Retry-After 5',
    },
    {
      quota: 'DynamoDB partition WCU (hottest budget# item)',
      load: day.hottestPortalRps * 2,
      limit: QUOTAS.dynamoPartitionWcu.value,
      caller: '200 from container memory (StateStoreFailures)',
    },
  ].map((q) => ({ ...q, used: q.load / q.limit }));
}

export function runScenario(portals, ttl = TTL_OVERRIDE ?? SERVICE.secretsCacheTtlSeconds) {
  const day = simulateDay({ portals, meanTypingPerPortalPerSec: MEAN_TYPING_PER_PORTAL_PER_SEC });
  const { secretCalls, peakSecretRps, peakContainers } = secretsLoad(day, ttl);
  const monthSec = MONTH_DAYS * 86_400;
  const typingReq = day.typingMean * monthSec;
  const eventReq = day.eventsMean * monthSec;
  const requests = typingReq + eventReq;
  const gbSeconds = requests * durationSec * (SERVICE.memoryMb / 1024);
  const writes = typingReq * PER_REQUEST.typing.dynamoWrites + eventReq * PER_REQUEST.event.dynamoWrites;
  const monthSecretCalls = secretCalls * MONTH_DAYS;
  const cost = {
    lambda: (requests / 1e6) * PRICES.lambdaPerMillionRequests.usd + gbSeconds * PRICES.lambdaPerGbSecondArm.usd,
    apiGateway: (requests / 1e6) * PRICES.httpApiPerMillionRequests.usd,
    secretsCalls: (monthSecretCalls / 1e4) * PRICES.secretsPerTenThousandCalls.usd,
    secretsStored: (portals + SERVICE.fixedSecrets) * PRICES.secretPerMonth.usd,
    dynamodb: (writes / 1e6) * PRICES.dynamoPerMillionWrites.usd + 0.01 * PRICES.dynamoPerGbMonth.usd,
    logs: ((requests * LOG_BYTES_PER_REQUEST) / 1e9) * PRICES.logsPerGbIngested.usd,
    metrics: SERVICE.metricSeries * 2 * PRICES.metricPerMonth.usd,
  };
  const quotas = quotaUse(day, peakSecretRps);
  return {
    portals,
    ttl,
    day,
    requests,
    gbSeconds,
    writes,
    monthSecretCalls,
    peakSecretRps,
    peakContainers,
    cost,
    quotas,
  };
}

const usd = (n) => `$${n < 10 ? n.toFixed(2) : Math.round(n).toLocaleString('en-US')}`;
const num = (n) => (n < 10 ? n.toFixed(2) : Math.round(n).toLocaleString('en-US'));

function print(results) {
  console.log(
    `Capacity model: ${MEAN_TYPING_PER_PORTAL_PER_SEC} /typing per portal per s (mean), one bot event per /typing, 30-day month.`,
  );
  console.log(
    `Request duration ${Math.round(durationSec * 1000)} ms (handler ${MEASURED.handlerMs} ms + 2 DynamoDB round trips + Bitrix24 ${MEASURED.bitrix24LatencyMs} ms), ${SERVICE.memoryMb} MB.`,
  );
  console.log(`List prices eu-central-1 as of ${PRICES.asOf}: check before relying on them.\n`);
  const header = ['', ...results.map((r) => `${r.portals.toLocaleString('en-US')} portals`)];
  const rows = [
    ['requests / month', ...results.map((r) => num(r.requests))],
    ['peak rps (typing + events)', ...results.map((r) => num(r.day.typingPeak + r.day.eventsPeak))],
    ['peak-to-mean', ...results.map((r) => num(r.day.typingPeak / r.day.typingMean))],
    ['peak warm containers (per function)', ...results.map((r) => num(r.peakContainers))],
    ['GetSecretValue / month', ...results.map((r) => num(r.monthSecretCalls))],
    ['GetSecretValue peak rps', ...results.map((r) => num(r.peakSecretRps))],
    ['DynamoDB writes / month', ...results.map((r) => num(r.writes))],
    ...Object.keys(results[0].cost).map((k) => [`cost: ${k}`, ...results.map((r) => usd(r.cost[k]))]),
    ['cost: total / month', ...results.map((r) => usd(Object.values(r.cost).reduce((a, b) => a + b, 0)))],
  ];
  for (const row of [header, header.map(() => '---'), ...rows]) console.log(`| ${row.join(' | ')} |`);
  console.log('\nQuota use at the peak minute (load / limit):\n');
  console.log(
    `| quota | ${results.map((r) => `${r.portals.toLocaleString('en-US')}`).join(' | ')} | the caller gets |`,
  );
  console.log(`|---|${results.map(() => '---|').join('')}---|`);
  results[0].quotas.forEach((q, i) =>
    console.log(
      `| ${q.quota} (${num(q.limit)}) | ${results.map((r) => `${(r.quotas[i].used * 100).toFixed(1)}%`).join(' | ')} | ${q.caller} |`,
    ),
  );
  console.log('\nNext step, a secrets TTL of 3,600 s with invalidation on write (model before → after):\n');
  for (const r of results) {
    const after = runScenario(r.portals, 3_600);
    const line = (x) =>
      `${num(x.monthSecretCalls)} calls, ${usd(x.cost.secretsCalls)}, peak ${num(x.peakSecretRps)} rps`;
    console.log(`- ${r.portals.toLocaleString('en-US')} portals: ${line(r)} → ${line(after)}`);
  }
  console.log('\nFirst quota hit, and the portal count where it is reached (bisection on the same model):\n');
  for (const q of results[0].quotas.map((x) => x.quota)) {
    const at = firstPortalsReaching(q);
    console.log(`- ${q}: ${at ? `${at.toLocaleString('en-US')} portals` : 'not reached below 1,000,000 portals'}`);
  }
}

function firstPortalsReaching(quota) {
  const usedAt = (n) => runScenario(n).quotas.find((q) => q.quota === quota).used;
  let lo = 10;
  let hi = 1_000_000;
  if (usedAt(hi) < 1) return undefined;
  if (usedAt(lo) >= 1) return lo;
  while (hi / lo > 1.05) {
    const mid = Math.round(Math.sqrt(lo * hi));
    if (usedAt(mid) >= 1) hi = mid;
    else lo = mid;
  }
  return Math.round(hi / 10) * 10;
}

if (import.meta.url === `file://${process.argv[1]}`) print([100, 10_000, 100_000].map((n) => runScenario(n)));
