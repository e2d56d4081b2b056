import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { encodeForm, messageEvent, type EventPortal } from '../support/bot-events.js';
import { webhookBotOn } from '../../devtools/fixtures.js';
import { startOffline, type OfflineService } from '../support/offline.js';
import { countBy, percentile, recordScenario } from '../support/report.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../support/secrets.js';

/**
 * Load through serverless-offline, loopback only, bounded in count: 1,000 signed `/typing` requests and 1,000
 * bot events, 50 in flight at a time. The portal's rate limit is lifted here (this measures the service, not a
 * portal's budget: see BENCHMARKS.md for that). Figures are recorded, never asserted as times.
 *
 * serverless-offline models Lambda: a request that finds every worker busy gets a new worker thread, i.e. a
 * cold container. So each run first fires one round of 50 at once (50 cold starts, reported separately), then
 * measures 1,000 requests on those warm containers.
 */
const REQUESTS = 1_000;
const CONCURRENCY = 50;
let portal: FakePortal;
let service: OfflineService;
let key: string;
let sender: EventPortal;

beforeAll(async () => {
  portal = await startPortal({ domain: 'load.bitrix24.test', burst: 1_000_000, drainPerSecond: 1_000_000 });
  const prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
  const bot = webhookBotOn(portal, 39);
  // The service keeps its own count of the portal's budget (2/s, burst 50 unless the secret says otherwise), per
  // container here since no STATE_TABLE is set: lift it as the portal's is, or an uneven spread over the
  // containers answers some requests 429.
  bot.secret.rateLimit = { burst: 1_000_000, perSecond: 1_000 };
  await putSecret(`${prefix}/portals/${portal.domain}`, bot.secret);
  sender = {
    domain: portal.domain,
    memberId: portal.memberId,
    clientEndpoint: 'https://x.example/rest/',
    applicationToken: bot.clientId,
  };
  service = await startOffline({
    CREDENTIALS_SOURCE: 'secrets-manager',
    TYPING_COALESCE_MS: '0',
    SECRETS_PREFIX: prefix,
    LOG_LEVEL: 'info',
  });
});
afterAll(async () => {
  await service?.stop();
  await portal?.close();
});

async function run(send: (i: number) => Promise<Response>, count = REQUESTS) {
  const statuses: Array<number | string> = [];
  const latencies: number[] = [];
  const problems: string[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        const response = await send(i);
        const text = await response.text();
        latencies.push(performance.now() - t0);
        // serverless-offline reports a Lambda timeout on an HTTP API as a 200 whose body is the error: count it
        // as what it is.
        const timedOut = response.status === 200 && text.includes('Lambda timeout');
        statuses.push(timedOut ? 'lambda-timeout' : response.status);
        if (response.status !== 200 || timedOut) problems.push(`${response.status} ${text.slice(0, 200)}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    statuses: countBy(statuses),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    perSecond: Math.round(count / seconds),
    problems,
  };
}

describe('load through serverless-offline', () => {
  it('1,000 signed /typing requests at concurrency 50: all 200, one portal call each', async () => {
    const send = (i: number) => {
      const body = JSON.stringify({ portal: portal.domain, dialogId: `chat${i + 1}` });
      return fetch(`${service.url}/typing`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signRequest({ body, key }) },
        body,
      });
    };
    const cold = await run((i) => send(100_000 + i), CONCURRENCY);
    const logBefore = service.output().length;
    const before = portal.typingCalls().length;
    const result = await run(send);
    const calls = portal.typingCalls().length - before;
    const coldStarts = service
      .output()
      .slice(logBefore)
      .split('\n')
      .filter((line) => line.includes('"container started"')).length;
    recordScenario({
      id: 'load/typing',
      section: 'Load',
      scenario: `POST /typing ×${REQUESTS}, concurrency ${CONCURRENCY}`,
      sent: 'signed requests, each for its own dialog, through serverless-offline',
      got: Object.entries(result.statuses)
        .map(([s, n]) => `${n}× ${s}`)
        .join(', '),
      figures: {
        requests: REQUESTS,
        portalCalls: calls,
        coldStartsDuringRun: coldStarts,
        p50Ms: result.p50,
        p99Ms: result.p99,
        requestsPerSecond: result.perSecond,
        unexplainedErrors: result.problems.length,
        coldRoundP50Ms: cold.p50,
        coldRoundP99Ms: cold.p99,
      },
      command: 'npm run load -- -t typing',
      observations: calls,
    });
    expect(result.problems).toEqual([]);
    expect(calls).toBe(REQUESTS);
  }, 180_000);

  it('1,000 bot events at concurrency 50: all 200, each typed or logged for replay', async () => {
    const send = (i: number) =>
      fetch(`${service.url}/bitrix/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: encodeForm(
          messageEvent(sender, { botId: 39 }, { dialogId: String(i + 1), messageId: String(500_000 + i) }),
        ),
      });
    const cold = await run((i) => send(100_000 + i), CONCURRENCY);
    const logBefore = service.output().length;
    const before = portal.typingCalls().length;
    const result = await run(send);
    const calls = portal.typingCalls().length - before;
    // An event whose typing call did not fit the answer budget still gets 200, and a warning with its replay data.
    const logged = service.output().slice(logBefore).split('\n');
    const loggedForReplay = logged.filter((line) => line.includes('typing for event failed')).length;
    const coldStarts = logged.filter((line) => line.includes('"container started"')).length;
    recordScenario({
      id: 'load/events',
      section: 'Load',
      scenario: `POST /bitrix/events ×${REQUESTS}, concurrency ${CONCURRENCY}`,
      sent: 'ONIMBOTMESSAGEADD for a webhook bot, each with its own MESSAGE_ID',
      got: Object.entries(result.statuses)
        .map(([s, n]) => `${n}× ${s}`)
        .join(', '),
      figures: {
        requests: REQUESTS,
        portalCalls: calls,
        loggedForReplay,
        coldStartsDuringRun: coldStarts,
        p50Ms: result.p50,
        p99Ms: result.p99,
        requestsPerSecond: result.perSecond,
        unexplainedErrors: result.problems.length + (REQUESTS - calls - loggedForReplay),
        coldRoundP50Ms: cold.p50,
        coldRoundP99Ms: cold.p99,
      },
      command: 'npm run load -- -t events',
      // Events all logged for replay but none typed would pass the expectations and prove nothing.
      observations: calls,
    });
    expect(result.problems).toEqual([]);
    expect(calls + loggedForReplay).toBeGreaterThanOrEqual(REQUESTS);
  }, 180_000);
});
