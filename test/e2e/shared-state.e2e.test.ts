import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signRequest } from '../../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { startFaultProxy, type FaultProxy } from '../../devtools/fault-proxy.js';
import { webhookBotOn } from '../../devtools/fixtures.js';
import { startMoto, type MotoServer } from '../../devtools/moto.js';
import { startSerialProxy } from '../../devtools/serial-proxy.js';
import { encodeForm, messageEvent } from '../support/bot-events.js';
import { startOffline, type OfflineService } from '../support/offline.js';
import { countBy } from '../support/report.js';
import { sleep } from '../../lib/deadline/index.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../support/secrets.js';

/**
 * The scale-out acceptance run: `npm start` (serverless-offline, which gives each concurrent request an emulated
 * container of its own) with STATE_TABLE set, moto for Secrets Manager and for DynamoDB (through the serialising
 * proxy, so conditional writes are atomic as in DynamoDB), and the loopback portal with its leaky bucket at the
 * platform's default (burst 50, 2 per second). Coalescing keeps its default window (10 s).
 *
 * serverless-offline counts a worker's module loading into the function's 10 s timeout, and 50 cold starts at
 * once on two cores can outlast it. So, as on a warm Lambda fleet, the containers are started first by a
 * warm-up round on a portal of its own (its own budget), and the scenarios then run on them. Secrets Manager is
 * reached through a passing fault proxy to count them: each container reads the typing keys once.
 */
const CONCURRENCY = 50;
let portal: FakePortal;
let warmUpPortal: FakePortal;
let service: OfflineService;
let secretsManager: FaultProxy;
let dynamodb: MotoServer;
let table: { url: string; close(): Promise<void> };
let prefix: string;
let key: string;
let clientId: string;
let warmUpClientId: string;
let typingContainers = 0;
/** Where the running test's part of the service's output begins. */
let outputMark = 0;
// lib/state's failureBackoffMs: how long a container that failed over keeps answering from memory.
const FAIL_OVER_BACKOFF_MS = 5_000;

beforeAll(async () => {
  [portal, warmUpPortal] = await Promise.all([
    startPortal({ domain: 'scale.bitrix24.test' }),
    startPortal({ domain: 'warm-up.bitrix24.test', burst: 1_000, drainPerSecond: 1_000 }),
  ]);
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
  const bot = webhookBotOn(portal, 39);
  const warmUpBot = webhookBotOn(warmUpPortal, 39);
  clientId = bot.clientId;
  warmUpClientId = warmUpBot.clientId;
  await putSecret(`${prefix}/portals/${portal.domain}`, bot.secret);
  await putSecret(`${prefix}/portals/${warmUpPortal.domain}`, {
    ...warmUpBot.secret,
    rateLimit: { burst: 1_000, perSecond: 1_000 },
  });
  // A moto of its own for the table: the run's shared moto also serves Secrets Manager to every other test
  // file, and the table's queue must not make their secrets (or ours) wait.
  dynamodb = await startMoto();
  table = await startSerialProxy(dynamodb.url);
  secretsManager = await startFaultProxy(process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER as string, 'pass');
  service = await startOffline({
    CREDENTIALS_SOURCE: 'secrets-manager',
    SECRETS_PREFIX: prefix,
    STATE_TABLE: `state-${randomUUID()}`,
    AWS_ENDPOINT_URL_DYNAMODB: table.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
    // The proxy queues each item's calls behind one another at moto's pace, where DynamoDB answers in
    // milliseconds (what the deployed 250 ms is sized for). Past this, a container would fail over to memory.
    STATE_CALL_TIMEOUT_MS: '5000',
    // The burst's 50 containers each read the new portal's secret at once from the moto the whole suite shares:
    // under the suite's load those reads queued past the default 2 s and answered 503 CREDENTIALS_UNAVAILABLE
    // (two full runs in three). What the burst measures is the shared state, not moto's queue.
    SECRETS_TIMEOUT_MS: '5000',
    // Two cores running dozens of emulated containers, their proxies and the portal answer in seconds what takes
    // milliseconds on Lambda; the events function's 1.5 s would cut its typing call short here.
    EVENTS_ANSWER_BUDGET_MS: '5000',
    LOG_LEVEL: 'info',
  });
  await warmUp();
  // A container that failed over while warming up answers from memory for 5 s: let that pass before the scenarios.
  if (failOvers().length > 0) await sleep(FAIL_OVER_BACKOFF_MS + 500);
}, 240_000);
afterAll(async () => {
  await service?.stop();
  await Promise.all([portal?.close(), warmUpPortal?.close(), table?.close(), secretsManager?.close()]);
  await dynamodb?.stop();
});
beforeEach(() => {
  portal.resetCalls();
  outputMark = service.output().length;
});

/** Starts CONCURRENCY typing containers and 10 events containers, retrying what a cold start let time out. */
async function warmUp(): Promise<void> {
  const typing = Array.from({ length: CONCURRENCY }, (_, i) => async () => {
    const body = JSON.stringify({ portal: warmUpPortal.domain, dialogId: `chat${i + 1}` });
    return done(await post(body, signRequest({ body, key }) as unknown as Record<string, string>));
  });
  const events = Array.from(
    { length: 10 },
    (_, i) => async () => done(await deliver(eventFor(warmUpPortal, warmUpClientId, `chat${i + 1}`, String(i + 1)))),
  );
  // One function at a time, so no more cold starts share the two cores than one burst of the scenarios makes.
  for (const sends of [typing, events]) {
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(sends.map((send) => send()));
      if (answers.every(Boolean)) break;
    }
  }
  typingContainers = secretsManager.invocations('secretsmanager.GetSecretValue', {
    secretId: `${prefix}/typing-keys`,
  });
}

/** The service's summary lines (one per request) that `match` accepts. */
function summaries(match: (line: Record<string, unknown>) => boolean): Array<Record<string, unknown>> {
  return service
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"outcome"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter(match);
}

/**
 * Lines since the running test began saying a container answered from its own memory (the warning, at most once
 * a minute per container, or the metric of a fresh failure): then a guarantee did not come from the table.
 */
const failOvers = () =>
  service
    .output()
    .slice(outputMark)
    .split('\n')
    .filter((line) => line.includes('shared state unavailable') || line.includes('"StateStoreFailures"'));

/** serverless-offline answers a Lambda timeout with 200 and an error body: an answer is done by its body. */
const done = (answer: { status: number; body: string }) =>
  answer.status === 200 && answer.body.startsWith('{"ok":true');

async function post(body: string, headers: Record<string, string>) {
  const response = await fetch(`${service.url}/typing`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: response.status, body: await response.text() };
}

function eventFor(on: FakePortal, token: string, dialogId: string, messageId: string): string {
  const sender = {
    domain: on.domain,
    memberId: on.memberId,
    clientEndpoint: 'https://elsewhere.example/rest/',
    applicationToken: token,
  };
  return encodeForm(messageEvent(sender, { botId: 39 }, { dialogId, messageId }));
}

async function deliver(form: string) {
  const response = await fetch(`${service.url}/bitrix/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  return { status: response.status, body: await response.text() };
}

const refusedByPortal = () => portal.calls.filter((call) => call.error === 'QUERY_LIMIT_EXCEEDED').length;

describe('POST /typing across emulated containers, state in the table', () => {
  it('is served by many emulated containers (each reads the typing keys once)', () => {
    expect(typingContainers).toBeGreaterThan(1);
  });

  it('one signed request sent 20 times at once makes exactly one portal call and every answer is the same 200', async () => {
    // Prepare
    const body = JSON.stringify({ portal: portal.domain, dialogId: 'chat101' });
    const signed = signRequest({ body, key }) as unknown as Record<string, string>;

    // Act
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(body, signed)));

    // Assess
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers.every(done)).toBe(true);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    expect(portal.typingCalls()).toHaveLength(1);
    expect(portal.typingCalls()[0]?.params).toMatchObject({ BOT_ID: 39, DIALOG_ID: 'chat101', CLIENT_ID: clientId });
    expect(failOvers()).toEqual([]);
  }, 60_000);

  it('the same webhook-id with another correctly signed body is 409 WEBHOOK_ID_REUSED, with no portal call', async () => {
    // Prepare: the id has done its work once
    const first = JSON.stringify({ portal: portal.domain, dialogId: 'chat102' });
    const signed = signRequest({ body: first, key }) as unknown as Record<string, string>;
    expect((await post(first, signed)).status).toBe(200);
    portal.resetCalls();
    const other = JSON.stringify({ portal: portal.domain, dialogId: 'chat103' });

    // Act
    const reused = await post(
      other,
      signRequest({ body: other, key, id: signed['webhook-id'] }) as unknown as Record<string, string>,
    );

    // Assess
    expect(reused.status).toBe(409);
    expect(JSON.parse(reused.body)).toMatchObject({ status: 409, code: 'WEBHOOK_ID_REUSED' });
    expect(portal.calls).toHaveLength(0);
  });
});

describe('POST /bitrix/events across emulated containers, state in the table', () => {
  it('one bot event delivered 10 times at once makes one typing call; the other nine are duplicates', async () => {
    // Prepare
    const event = eventFor(portal, clientId, 'chat301', String(70_000 + Math.floor(Math.random() * 10_000)));

    // Act
    const answers = await Promise.all(Array.from({ length: 10 }, () => deliver(event)));

    // Assess
    expect(answers.map((a) => `${a.status} ${a.body}`)).toEqual(Array(10).fill('200 {"ok":true}'));
    expect(portal.typingCalls()).toHaveLength(1);
    const outcomes = summaries(
      (line) => line.route === 'POST /bitrix/events' && JSON.stringify(line.typing ?? []).includes('chat301'),
    ).map((line) => String((line.typing as Array<{ outcome: string }>)[0]?.outcome));
    // serverless-offline may drop a worker's log lines under load, so the count of duplicates is not asserted.
    expect(outcomes.filter((outcome) => outcome !== 'DUPLICATE')).toEqual(['OK']);
    expect(failOvers()).toEqual([]);
  }, 60_000);
});

describe('a burst across emulated containers, state in the table', () => {
  it('200 requests over 20 dialogs at concurrency 50 get no 429 and the portal refuses none', async () => {
    // Prepare: 200 distinct signed requests, ten for each dialog
    const requests = Array.from({ length: 200 }, (_, i) => {
      const body = JSON.stringify({ portal: portal.domain, dialogId: `chat${200 + (i % 20)}` });
      return { body, headers: signRequest({ body, key }) as unknown as Record<string, string> };
    });
    // A refusal shows as its status and error code, so a failure says which.
    const outcome = (answer: { status: number; body: string }) =>
      done(answer)
        ? 'ok'
        : answer.body.includes('Lambda timeout')
          ? 'emulator timeout'
          : `${answer.status} ${/"code":"([A-Z_]+)"/.exec(answer.body)?.[1] ?? answer.body.slice(0, 200)}`;
    const outcomes: string[] = Array(200).fill('');
    const firstOutcomes: string[] = [];
    let next = 0;
    const started = Date.now();

    // Act
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length) {
          const i = next++;
          outcomes[i] = outcome(await post(requests[i]!.body, requests[i]!.headers));
          firstOutcomes.push(outcomes[i]!);
        }
      }),
    );
    const elapsedMs = Date.now() - started;
    const callsInBurst = portal.typingCalls().length;
    // serverless-offline counts a worker's module loading into the 10 s timeout, and answers a timed-out request
    // 200 with an error body. A caller retries it with the same webhook-id (the typed client does): its repeat gets
    // the first request's answer, or runs it if the first never got that far.
    for (let round = 0; round < 2; round++) {
      for (const [i, request] of requests.entries()) {
        if (outcomes[i] === 'emulator timeout') outcomes[i] = outcome(await post(request.body, request.headers));
      }
    }

    // Assess
    expect(firstOutcomes.filter((o) => o !== 'ok' && o !== 'emulator timeout')).toEqual([]);
    expect(countBy(outcomes)).toEqual({ ok: 200 });
    expect(refusedByPortal()).toBe(0);
    // One call per dialog per coalescing window (10 s), whichever container a request lands on.
    expect(new Set(portal.typingCalls().map((call) => call.params.DIALOG_ID)).size).toBe(20);
    if (elapsedMs < 10_000) expect(callsInBurst).toBe(20);
    expect(failOvers()).toEqual([]);
  }, 120_000);
});
