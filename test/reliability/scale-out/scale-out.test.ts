/**
 * Reliability: the shared-state guarantees across container processes. Each container is an OS process of its
 * own running one function's real handler (harness.ts), with STATE_TABLE set, so nothing is shared but Secrets
 * Manager (moto), the state table (moto, through the serialising proxy, as DynamoDB applies conditional writes to
 * one item one after another) and the loopback portal with its leaky bucket at the platform's default.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { webhookBotOn } from '../../../devtools/fixtures.js';
import { httpEvent, signedTypingEvent } from '../../../devtools/lambda.js';
import { sleep } from '../../../lib/deadline/index.js';
import { signRequest } from '../../../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal } from '../../../sandbox/portal/index.js';
import { useStateTable } from '../../integration/state/state-table.js';
import { encodeForm, messageEvent } from '../../support/bot-events.js';
import { countBy, percentile, recordScenario } from '../../support/report.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../../support/secrets.js';
import { fireAtOnce, startContainers, useContainers, type Container, type ContainerResult } from './harness.js';

const FILE = 'test/reliability/scale-out/scale-out.test.ts';
const command = (name: string) => `node scripts/test.mjs ${FILE} -t "${name}"`;

useContainers();
const table = useStateTable();
const portals: FakePortal[] = [];
afterEach(async () => {
  await Promise.all(portals.splice(0).map((portal) => portal.close()));
});

interface Scene {
  portal: FakePortal;
  key: string;
  clientId: string;
  env: (fn: 'typing' | 'botEvents') => NodeJS.ProcessEnv;
}

/** A portal with a webhook bot, its secret and a signing key under a prefix of their own. */
async function scene(domain: string): Promise<Scene> {
  const portal = await startPortal({ domain });
  portals.push(portal);
  const prefix = uniquePrefix();
  const [key] = (await seedTypingKeys(prefix)) as [string];
  const bot = webhookBotOn(portal, 39);
  await putSecret(`${prefix}/portals/${portal.domain}`, bot.secret);
  const pass = (name: string) => (process.env[name] === undefined ? {} : { [name]: process.env[name] });
  return {
    portal,
    key,
    clientId: bot.clientId,
    env: (fn) => ({
      ...pass('PATH'),
      ...pass('AWS_REGION'),
      ...pass('AWS_ACCESS_KEY_ID'),
      ...pass('AWS_SECRET_ACCESS_KEY'),
      ...pass('AWS_SESSION_TOKEN'),
      ...pass('AWS_ENDPOINT_URL_SECRETS_MANAGER'),
      AWS_ENDPOINT_URL_DYNAMODB: table.endpoint,
      CREDENTIALS_SOURCE: 'secrets-manager',
      SECRETS_PREFIX: prefix,
      STAGE: 'test',
      STATE_TABLE: table.tableName,
      // The serialising proxy queues every container's calls behind one another, where DynamoDB answers in
      // milliseconds (the deployed 250 ms); past this a container would answer from its own memory.
      STATE_CALL_TIMEOUT_MS: '5000',
      // For the same reason a bot event's claim and typing slot can take seconds here: the events function's
      // 1.5 s would cut its typing call short.
      EVENTS_ANSWER_BUDGET_MS: '5000',
      LOG_LEVEL: 'info',
      FUNCTION: fn,
      REMAINING_MS: '10000',
    }),
  };
}

const statuses = (results: ContainerResult[]) =>
  Object.entries(countBy(results.map((r) => r.status)))
    .map(([status, n]) => `${status}:${n}`)
    .join(' ');
/**
 * Calls a container answered from its own memory, as far as its output tells: the warning (at most once a minute
 * per container) or the metric of a fresh failure. A container is left 5 s after a failure before anything
 * counted here runs (`warmUp`), so every fail-over in a scenario is a fresh one and shows.
 */
const coveredFromMemory = (results: ContainerResult[]) =>
  results
    .flatMap((r) => r.logs)
    .filter(
      (line) =>
        line.message === 'shared state unavailable: answering from this container' ||
        line.StateStoreFailures !== undefined,
    ).length;
// lib/state's failureBackoffMs: how long a container that failed over keeps answering from memory.
/** A percentile of the containers' answer times, ms. */
const elapsedPercentile = (results: ContainerResult[], p: number) =>
  percentile(
    results.map((r) => r.elapsedMs),
    p,
  );

const FAIL_OVER_BACKOFF_MS = 5_000;
/**
 * One request per container first, as on a warm fleet: twenty cold processes reading their secrets at once on two
 * cores can outlast Secrets Manager's timeout, which is not what this suite is about. A container whose warm-up
 * failed tries again.
 */
async function warmUp(containers: Container[], eventOf: (index: number) => APIGatewayProxyEventV2) {
  let cold = containers.map((container, index) => ({ container, index }));
  let failedOver = 0;
  for (let round = 0; round < 3 && cold.length > 0; round++) {
    const results = await fireAtOnce(
      cold.map((c) => c.container),
      (i) => eventOf(cold[i]!.index),
    );
    failedOver += coveredFromMemory(results);
    cold = cold.filter((_, i) => results[i]!.status !== 200);
  }
  if (cold.length > 0) throw new Error(`${cold.length} containers did not warm up`);
  // A container whose warm-up outlasted the call timeout answers from memory for a while, and silently: wait.
  if (failedOver > 0) await sleep(FAIL_OVER_BACKOFF_MS + 500);
}

/** The invocation's summary line (the one with its route and outcome). */
const summaryOf = (result: ContainerResult) =>
  result.logs.find((line) => line.route !== undefined && line.outcome !== undefined) ?? {};

describe('POST /typing across container processes, state in the table', () => {
  it('one signed request sent to 20 container processes at once: one portal call, 20 times the same 200', async () => {
    // Prepare
    const { portal, key, env } = await scene('repeat.bitrix24.test');
    const containers = await startContainers(20, env('typing'));
    await warmUp(containers, (i) => signedTypingEvent({ portal: portal.domain, dialogId: `chat${100 + i}` }, key));
    portal.resetCalls();
    const event = signedTypingEvent({ portal: portal.domain, dialogId: 'chat7' }, key);
    // Act
    const results = await fireAtOnce(containers, () => event);
    for (const container of containers) container.close();
    // Assess
    const replayed = results.filter((r) => summaryOf(r).replayed === true).length;
    const bodies = new Set(results.map((r) => r.body));
    recordScenario({
      id: 'faults/scale-out-repeat-20-processes',
      section: 'Faults',
      scenario: 'One signed /typing request sent to 20 container processes at once (state in the table)',
      sent: 'the same signed request (same webhook-id, same body) to 20 container processes, each warmed by a request of its own, fired at one instant',
      got: `statuses ${statuses(results)}, ${bodies.size} distinct body, ${portal.typingCalls().length} portal call, ${replayed} answers replayed`,
      figures: {
        containers: results.length,
        typingCalls: portal.typingCalls().length,
        replayed,
        coveredFromMemory: coveredFromMemory(results),
        p50Ms: elapsedPercentile(results, 50),
        maxMs: elapsedPercentile(results, 100),
      },
      command: command('one signed request sent to 20 container processes'),
      observations: results.length,
    });
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(bodies.size).toBe(1);
    expect(JSON.parse(results[0]!.body)).toMatchObject({ ok: true });
    expect(portal.typingCalls()).toHaveLength(1);
    expect(replayed).toBe(19);
    expect(coveredFromMemory(results)).toBe(0);
  }, 90_000);

  it('the same webhook-id with another signed body, in a container process that never saw it: 409 WEBHOOK_ID_REUSED, no portal call', async () => {
    // Prepare: one process does the work, a fresh one gets the reused id
    const { portal, key, env } = await scene('reused.bitrix24.test');
    const [first, fresh] = await startContainers(2, env('typing'));
    const body = JSON.stringify({ portal: portal.domain, dialogId: 'chat8' });
    const signed = signRequest({ body, key });
    const original = httpEvent({ path: '/typing', body, headers: { 'content-type': 'application/json', ...signed } });
    const [done] = await fireAtOnce([first!], () => original);
    portal.resetCalls();
    const other = JSON.stringify({ portal: portal.domain, dialogId: 'chat9' });
    // Act
    const [reused] = await fireAtOnce([fresh!], () => signedTypingEvent(other, key, { id: signed['webhook-id'] }));
    first!.close();
    fresh!.close();
    // Assess
    const code = String((JSON.parse(reused!.body) as { code?: string }).code);
    recordScenario({
      id: 'faults/scale-out-reused-id-other-process',
      section: 'Faults',
      scenario: 'A webhook-id reused with another body, sent to a container process that never saw it',
      sent: 'a signed /typing to one process, then another body signed with the same webhook-id to a second process',
      got: `${done!.status}, then ${reused!.status} ${code}; ${portal.calls.length} portal calls for the second`,
      figures: { portalCalls: portal.calls.length },
      command: command('the same webhook-id with another signed body'),
      observations: 2,
    });
    expect(done!.status).toBe(200);
    expect(reused!.status).toBe(409);
    expect(code).toBe('WEBHOOK_ID_REUSED');
    expect(portal.calls).toHaveLength(0);
  }, 60_000);
});

describe('a burst across container processes, state in the table', () => {
  it('200 requests over 20 dialogs from 50 container processes, one request at a time each: no 429, none refused by the portal', async () => {
    // Prepare: 50 warm containers (Lambda gives each concurrent request its own), and 200 distinct signed
    // requests, ten for each dialog, against the portal's bucket at the platform's default (burst 50, 2/s)
    const { portal, key, env } = await scene('burst.bitrix24.test');
    // Each process queues its writes behind the others' on the serialising proxy: give every invocation a
    // Lambda's worth of time (30 s) rather than the suite's 10 s, so a slow host is not taken for a slow service.
    const containers = await startContainers(50, { ...env('typing'), REMAINING_MS: '30000' });
    // Warm-up requests are distinct but for one dialog: they coalesce into one portal call, so the burst meets a
    // bucket all but full (the service keeps 80% of 50 for itself by default).
    await warmUp(containers, () => signedTypingEvent({ portal: portal.domain, dialogId: 'chat999' }, key));
    portal.resetCalls();
    const events = Array.from({ length: 200 }, (_, i) =>
      signedTypingEvent({ portal: portal.domain, dialogId: `chat${200 + (i % 20)}` }, key),
    );
    const results: ContainerResult[] = [];
    let next = 0;
    const started = Date.now();
    // Act: each container takes the next request as soon as it has answered its last one (concurrency 50)
    await Promise.all(
      containers.map(async (container) => {
        while (next < events.length) {
          const event = events[next++]!;
          results.push(await container.fire(Date.now(), event));
        }
      }),
    );
    const elapsedMs = Date.now() - started;
    for (const container of containers) container.close();
    // Assess
    const refused = portal.calls.filter((call) => call.error === 'QUERY_LIMIT_EXCEEDED').length;
    const calls = portal.typingCalls().length;
    const dialogs = new Set(portal.typingCalls().map((call) => call.params.DIALOG_ID)).size;
    recordScenario({
      id: 'faults/scale-out-burst-50-processes',
      section: 'Faults',
      scenario: '200 /typing requests over 20 dialogs from 50 container processes (state in the table)',
      sent: '200 distinct signed requests, ten per dialog, 50 in flight: each of 50 warm container processes takes the next one when it has answered',
      got: `statuses ${statuses(results)}, ${calls} portal calls for ${dialogs} dialogs, ${refused} refused by the portal, in ${elapsedMs} ms`,
      figures: {
        containers: containers.length,
        requests: results.length,
        typingCalls: calls,
        refusedByPortal: refused,
        coveredFromMemory: coveredFromMemory(results),
        elapsedMs,
        p50Ms: elapsedPercentile(results, 50),
        p99Ms: elapsedPercentile(results, 99),
      },
      command: command('200 requests over 20 dialogs from 50 container processes'),
      observations: results.length,
    });
    expect(statuses(results)).toBe('200:200');
    expect(refused).toBe(0);
    // One call per dialog per coalescing window (10 s), whichever container a request lands on.
    expect(dialogs).toBe(20);
    if (elapsedMs < 10_000) expect(calls).toBe(20);
    expect(coveredFromMemory(results)).toBe(0);
  }, 180_000);
});

describe('POST /bitrix/events across container processes, state in the table', () => {
  it('one bot event delivered to 10 container processes at once: one typing call, nine duplicates', async () => {
    // Prepare
    const { portal, clientId, env } = await scene('duplicate.bitrix24.test');
    const containers = await startContainers(10, env('botEvents'));
    const sender = {
      domain: portal.domain,
      memberId: portal.memberId,
      clientEndpoint: 'https://elsewhere.example/rest/',
      applicationToken: clientId,
    };
    const form = encodeForm(messageEvent(sender, { botId: 39 }, { dialogId: 'chat10', messageId: '88001' }));
    const event = httpEvent({
      path: '/bitrix/events',
      body: form,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    // Act
    const results = await fireAtOnce(containers, () => event);
    for (const container of containers) container.close();
    // Assess
    const outcomes = countBy(
      results.map((r) => String((summaryOf(r).typing as Array<{ outcome: string }> | undefined)?.[0]?.outcome)),
    );
    recordScenario({
      id: 'faults/scale-out-duplicate-event-10-processes',
      section: 'Faults',
      scenario: 'One bot event delivered to 10 container processes at once (state in the table)',
      sent: 'the same ONIMBOTMESSAGEADD form to 10 fresh container processes of the events function, fired at one instant',
      got: `statuses ${statuses(results)}, ${portal.typingCalls().length} typing call, outcomes ${JSON.stringify(outcomes)}`,
      figures: {
        containers: results.length,
        typingCalls: portal.typingCalls().length,
        coveredFromMemory: coveredFromMemory(results),
        maxMs: elapsedPercentile(results, 100),
      },
      command: command('one bot event delivered to 10 container processes'),
      observations: results.length,
    });
    expect(results.map((r) => `${r.status} ${r.body}`)).toEqual(Array(10).fill('200 {"ok":true}'));
    expect(portal.typingCalls()).toHaveLength(1);
    expect(outcomes).toEqual({ OK: 1, DUPLICATE: 9 });
    expect(coveredFromMemory(results)).toBe(0);
  }, 60_000);
});
