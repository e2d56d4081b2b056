import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { botEventsDependencies, createBotEventsHandler } from '../../../functions/bot-events.js';
import { createTypingHandler, typingDependencies } from '../../../functions/typing.js';
import { sleep } from '../../../lib/deadline/index.js';
import { startPortal, type FakePortal } from '../../../sandbox/portal/index.js';
import {
  commandEvent,
  encodeForm,
  joinEvent,
  messageEvent,
  withField,
  type EventFields,
  type EventPortal,
} from '../../support/bot-events.js';
import { startFaultProxy, type FaultMode, type FaultProxy } from '../../../devtools/fault-proxy.js';
import { webhookBotOn } from '../../../devtools/fixtures.js';
import { httpEvent, lambdaContext, signedTypingEvent } from '../../../devtools/lambda.js';
import { captureLogger } from '../../support/logs.js';
import { percentile, recordScenario } from '../../support/report.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../../support/secrets.js';

// Short windows so a whole outage plays out in seconds: TTL 1 s, then 3 s of stale serving, 300 ms per read.
const TTL_MS = 1_000;
const STALE_MS = 3_000;
const SERVABLE_MS = TTL_MS + STALE_MS;
// SecretCache's default: while the store fails, it is asked again at most once per this.
const FAILURE_BACKOFF_MS = 5_000;
// The SDK client is built with maxAttempts 2, so one read may be two HTTP requests.
const SDK_ATTEMPTS = 2;
const CONTEXT_MS = 3_000;
const GET = 'secretsmanager.GetSecretValue';
const FILE = 'test/reliability/faults/secrets-outage.test.ts';
const FAULTS: FaultMode[] = ['down', 'throttle', 'hang', 'error500'];

let portal: FakePortal;
let proxy: FaultProxy;
let prefix: string;
let key: string;
let sender: EventPortal;
let savedEndpoint: string | undefined;
let keysSecret: string;
let portalSecret: string;

beforeAll(async () => {
  // A bucket large enough that the portal never rate-limits these few dozen calls: only Secrets Manager fails here.
  portal = await startPortal({ domain: 'outage.bitrix24.test', burst: 10_000 });
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
  const bot = webhookBotOn(portal, 39);
  keysSecret = `${prefix}/typing-keys`;
  portalSecret = `${prefix}/portals/${portal.domain}`;
  await putSecret(portalSecret, bot.secret);
  sender = {
    domain: portal.domain,
    memberId: portal.memberId,
    clientEndpoint: portal.clientEndpoint,
    applicationToken: bot.clientId,
  };
  // The SDK resolves AWS_ENDPOINT_URL_SECRETS_MANAGER lazily, on a client's first send (then keeps it), so the
  // variable stays pointed at the proxy for this whole file and every runtime built here talks to it.
  savedEndpoint = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  proxy = await startFaultProxy(savedEndpoint as string);
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = proxy.url;
});
afterAll(async () => {
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = savedEndpoint;
  await proxy?.close();
  await portal?.close();
});
beforeEach(() => {
  proxy.setMode('pass');
  proxy.reset();
  portal.resetCalls();
});

const env = () => ({
  CREDENTIALS_SOURCE: 'secrets-manager',
  TYPING_COALESCE_MS: '0',
  SECRETS_PREFIX: prefix,
  SECRETS_CACHE_TTL_SECONDS: String(TTL_MS / 1000),
  SECRETS_STALE_SECONDS: String(STALE_MS / 1000),
  SECRETS_TIMEOUT_MS: '300',
  BITRIX24_TIMEOUT_MS: '1000',
});

/** A fresh container: its own runtime, cache and SDK client. */
function typingContainer() {
  const capture = captureLogger();
  const deps = typingDependencies(env(), { logger: capture.logger });
  return { handler: createTypingHandler(deps), ...capture };
}

function eventsContainer() {
  const capture = captureLogger();
  const deps = botEventsDependencies(env(), { logger: capture.logger });
  return { handler: createBotEventsHandler(deps), ...capture };
}

interface Answer {
  at: number;
  ms: number;
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  portalCalls: number;
  /** Remaining time of the Lambda context when the answer arrived. */
  leftMs: number;
}

async function measure(
  run: (
    context: ReturnType<typeof lambdaContext>,
  ) => Promise<{ statusCode: number; headers: Record<string, string>; body?: unknown }>,
): Promise<Answer> {
  const context = lambdaContext(CONTEXT_MS);
  const callsBefore = portal.calls.length;
  const at = Date.now();
  const response = await run(context);
  const ms = Date.now() - at;
  return {
    at,
    ms,
    status: response.statusCode,
    headers: response.headers,
    body: JSON.parse(response.body as string) as Record<string, unknown>,
    portalCalls: portal.calls.length - callsBefore,
    leftMs: context.getRemainingTimeInMillis(),
  };
}

const sendTyping = (handler: ReturnType<typeof typingContainer>['handler'], dialogId = '27') =>
  measure((context) => handler(signedTypingEvent({ portal: portal.domain, dialogId }, key), context));

const deliverEvent = (handler: ReturnType<typeof eventsContainer>['handler'], messageId?: string) =>
  measure((context) =>
    handler(
      httpEvent({
        path: '/bitrix/events',
        body: encodeForm(messageEvent(sender, { botId: 39 }, { dialogId: 'chat12', messageId })),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      context,
    ),
  );

function expectCredentialsUnavailable(answer: Answer): void {
  expect(answer.status).toBe(503);
  expect(answer.headers['content-type']).toBe('application/problem+json');
  expect(answer.headers['retry-after']).toMatch(/^[1-9]\d*$/);
  expect(answer.body).toEqual({
    title: expect.any(String),
    status: 503,
    detail: expect.any(String),
    code: 'CREDENTIALS_UNAVAILABLE',
    requestId: expect.any(String),
  });
  expect(answer.portalCalls).toBe(0);
}

/**
 * Sends requests every `gapMs` from now until `until`. The cache's entries were fetched during the warm-up
 * request, i.e. between `warmStart` and `warmEnd`, so an answer that finished before `warmStart + TTL + stale`
 * ran entirely inside the stale window (must be 200), and one that started after `warmEnd + TTL + stale` ran
 * entirely past it (must be 503). Answers straddling the edge may be either.
 */
async function playOutage(send: () => Promise<Answer>, warm: { start: number; end: number }, gapMs: number) {
  const answers: Answer[] = [];
  while (Date.now() < warm.end + SERVABLE_MS + 1_200) {
    answers.push(await send());
    await sleep(gapMs);
  }
  const inside = answers.filter((a) => a.at + a.ms < warm.start + SERVABLE_MS);
  const past = answers.filter((a) => a.at > warm.end + SERVABLE_MS);
  const stale = inside.filter((a) => a.at > warm.end + TTL_MS);
  return { answers, inside, past, stale };
}

function durations(answers: Answer[]) {
  const ms = answers.map((a) => a.ms);
  return { p50Ms: percentile(ms, 50), maxMs: ms.length ? Math.max(...ms) : NaN };
}

/**
 * The first answer after Secrets Manager is back: a container fails fast for 0.5 s after a failed read, and a read
 * that hung until its timeout may finish late on a loaded machine, so ask every 600 ms, at most five times (3 s).
 */
async function afterRecovery<T extends { status: number }>(send: () => Promise<T>): Promise<T> {
  let answer: T | undefined;
  for (let attempt = 0; attempt < 5 && answer?.status !== 200; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 600));
    answer = await send();
  }
  return answer as T;
}
describe('Secrets Manager outage: POST /typing', () => {
  for (const mode of FAULTS) {
    it(`${mode}: a warm container answers 200 from its cache for the stale window, then 503 CREDENTIALS_UNAVAILABLE with no portal call, and recovers`, async () => {
      // Prepare: one good request fills the cache with the typing keys and the portal secret.
      const { handler } = typingContainer();
      const warmStart = Date.now();
      const warmUp = await sendTyping(handler);
      const warm = { start: warmStart, end: Date.now() };
      expect(warmUp.status).toBe(200);
      proxy.setMode(mode);
      proxy.reset();
      const outageStart = Date.now();

      // Act
      const { answers, inside, past, stale } = await playOutage(() => sendTyping(handler), warm, 200);
      proxy.setMode('pass');
      // A container that has nothing to serve fails fast for 0.5 s after a failed read, then asks again.
      const recovered = await afterRecovery(() => sendTyping(handler));

      // Assess
      const failed = answers.filter((a) => a.status === 503);
      const firstFailure = failed[0];
      // While stale values were served, each secret was read at most once per failure backoff.
      const lastOk = Math.max(...answers.filter((a) => a.status === 200).map((a) => a.at + a.ms));
      const allowedReads = 1 + Math.floor((lastOk - outageStart) / FAILURE_BACKOFF_MS);
      const staleReads = {
        keys:
          proxy.invocations(GET, { secretId: keysSecret }) -
          proxy.invocations(GET, { secretId: keysSecret, since: lastOk }),
        portal:
          proxy.invocations(GET, { secretId: portalSecret }) -
          proxy.invocations(GET, { secretId: portalSecret, since: lastOk }),
      };
      const staleHttp = proxy.requests.filter((r) => r.target === GET && r.at < lastOk).length;
      const readsAfter = proxy.invocations(GET, { since: lastOk }) - proxy.invocations(GET, { since: recovered.at });
      recordScenario({
        id: `faults/secrets-${mode}-warm`,
        section: 'Faults',
        scenario: `Secrets Manager ${mode === 'down' ? 'down (connection reset)' : mode === 'hang' ? 'hanging (no answer)' : mode === 'throttle' ? 'throttling (400 ThrottlingException)' : 'failing (500 InternalServiceError)'}, warm /typing container`,
        sent: `signed POST /typing every 200 ms from the moment Secrets Manager fails until 1.2 s past TTL ${TTL_MS / 1000} s + stale ${STALE_MS / 1000} s; then Secrets Manager restored`,
        got: `200 from the cache inside the stale window, then 503 CREDENTIALS_UNAVAILABLE + Retry-After with no portal call; 200 again after recovery`,
        figures: {
          requests: answers.length,
          ok200: answers.filter((a) => a.status === 200).length,
          servedStale: stale.length,
          unavailable503: failed.length,
          lastOkAfterWarmMs: lastOk - warm.end,
          first503AfterWarmMs: firstFailure ? firstFailure.at - warm.end : NaN,
          staleWindowReads: `typing-keys ${staleReads.keys}, portal ${staleReads.portal} (allowed ${allowedReads} each)`,
          staleWindowHttpRequests: staleHttp,
          readsWhile503: readsAfter,
          ok200P50Ms: durations(answers.filter((a) => a.status === 200)).p50Ms,
          ok200MaxMs: durations(answers.filter((a) => a.status === 200)).maxMs,
          unavailable503P50Ms: durations(failed).p50Ms,
          unavailable503MaxMs: durations(failed).maxMs,
          portalCallsOn503: failed.reduce((n, a) => n + a.portalCalls, 0),
          retryAfter: firstFailure?.headers['retry-after'] ?? '',
          recoveryStatus: recovered.status,
          recoveryMs: recovered.ms,
          contextMs: CONTEXT_MS,
        },
        command: `node scripts/test.mjs ${FILE} -t "${mode}: a warm container"`,
        observations: answers.length,
      });
      // Never a hang, whatever the mode.
      for (const answer of [...answers, recovered]) expect(answer.leftMs).toBeGreaterThan(0);
      // Inside the stale window: 200, really served stale (past the TTL) and really typing.
      expect(stale.length).toBeGreaterThan(0);
      for (const answer of inside) {
        expect(answer.status).toBe(200);
        expect(answer.portalCalls).toBe(1);
      }
      // Past it: a clean 503 and nothing sent to the portal.
      expect(past.length).toBeGreaterThan(0);
      for (const answer of past) expectCredentialsUnavailable(answer);
      for (const answer of answers) expect([200, 503]).toContain(answer.status);
      expect(staleReads.keys).toBeLessThanOrEqual(allowedReads);
      expect(staleReads.portal).toBeLessThanOrEqual(allowedReads);
      expect(staleHttp).toBeLessThanOrEqual(SDK_ATTEMPTS * (staleReads.keys + staleReads.portal));
      // Recovery: the first request after Secrets Manager is back reads it again and succeeds.
      expect(recovered.status).toBe(200);
      expect(recovered.portalCalls).toBe(1);
    });
  }

  for (const mode of FAULTS) {
    it(`${mode}: a cold container answers 503 CREDENTIALS_UNAVAILABLE at once, then 200 once Secrets Manager is back`, async () => {
      // Prepare
      proxy.setMode(mode);
      const { handler } = typingContainer();
      // Act
      const first = await sendTyping(handler);
      const second = await sendTyping(handler);
      proxy.setMode('pass');
      // A container that has nothing to serve fails fast for 0.5 s after a failed read, then asks again.
      const recovered = await afterRecovery(() => sendTyping(handler));
      // Assess
      recordScenario({
        id: `faults/secrets-${mode}-cold`,
        section: 'Faults',
        scenario: `Secrets Manager ${mode}, cold /typing container (nothing cached)`,
        sent: 'two signed POST /typing, then Secrets Manager restored and one more',
        got: '503 CREDENTIALS_UNAVAILABLE + Retry-After twice with no portal call, then 200',
        figures: {
          firstStatus: first.status,
          firstMs: first.ms,
          secondStatus: second.status,
          secondMs: second.ms,
          getSecretValueHttpRequests: proxy.count(GET, { since: first.at }) - proxy.count(GET, { since: recovered.at }),
          portalCalls: first.portalCalls + second.portalCalls,
          retryAfter: first.headers['retry-after'] ?? '',
          recoveryStatus: recovered.status,
          recoveryMs: recovered.ms,
          secretsTimeoutMs: 300,
          contextMs: CONTEXT_MS,
        },
        command: `node scripts/test.mjs ${FILE} -t "${mode}: a cold container"`,
        observations: 3,
      });
      expectCredentialsUnavailable(first);
      expectCredentialsUnavailable(second);
      expect(first.leftMs).toBeGreaterThan(0);
      expect(second.leftMs).toBeGreaterThan(0);
      expect(recovered.status).toBe(200);
    });
  }
  it('hang: a cold container hit by 20 requests at once makes one GetSecretValue and answers every one 503 within the read timeout', async () => {
    // Prepare
    proxy.setMode('hang');
    const { handler } = typingContainer();
    // Act
    const answers = await Promise.all(Array.from({ length: 20 }, () => sendTyping(handler)));
    // Assess
    const reads = proxy.invocations(GET);
    recordScenario({
      id: 'faults/secrets-hang-cold-concurrent',
      section: 'Faults',
      scenario: 'Secrets Manager hanging, cold /typing container hit by 20 concurrent requests',
      sent: '20 signed POST /typing at once, SECRETS_TIMEOUT_MS=300',
      got: '20 × 503 CREDENTIALS_UNAVAILABLE, no portal call, one shared GetSecretValue',
      figures: {
        requests: answers.length,
        unavailable503: answers.filter((a) => a.status === 503).length,
        getSecretValueReads: reads,
        getSecretValueHttpRequests: proxy.count(GET),
        p50Ms: durations(answers).p50Ms,
        maxMs: durations(answers).maxMs,
        portalCalls: answers.reduce((n, a) => n + a.portalCalls, 0),
      },
      command: `node scripts/test.mjs ${FILE} -t "hit by 20 requests at once"`,
      observations: answers.length,
    });
    for (const answer of answers) {
      expectCredentialsUnavailable(answer);
      expect(answer.leftMs).toBeGreaterThan(0);
    }
    expect(reads).toBe(1);
  });
});

describe('Secrets Manager outage: POST /bitrix/events', () => {
  it('answers a cold event 503 within the 1.5 s answer budget while Secrets Manager hangs, with the default 2 s read timeout', async () => {
    // Prepare: the production settings, not the short test ones: the read would give up only after 2 s.
    proxy.setMode('hang');
    const productionTimeouts: Record<string, string> = env();
    delete productionTimeouts.SECRETS_TIMEOUT_MS;
    const capture = captureLogger();
    const handler = createBotEventsHandler(botEventsDependencies(productionTimeouts, { logger: capture.logger }));
    // Act
    const answer = await measure((context) =>
      handler(
        httpEvent({
          path: '/bitrix/events',
          body: encodeForm(messageEvent(sender, { botId: 39 }, { dialogId: 'chat12' })),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
        context,
      ),
    );
    // Assess
    recordScenario({
      id: 'faults/secrets-hang-events-answer-budget',
      section: 'Faults',
      scenario: 'Secrets Manager hanging, cold events container, default timeouts (2 s read, 1.5 s answer budget)',
      sent: 'one ONIMBOTMESSAGEADD; SECRETS_TIMEOUT_MS and EVENTS_ANSWER_BUDGET_MS left at their defaults',
      got: `${answer.status} ${String(answer.body.code)} after ${answer.ms} ms`,
      figures: { status: answer.status, ms: answer.ms, portalCalls: answer.portalCalls, contextMs: CONTEXT_MS },
      command: `node scripts/test.mjs ${FILE} -t "within the 1.5 s answer budget"`,
      observations: 1,
    });
    expectCredentialsUnavailable(answer);
    // The budget, not the read timeout, ends the wait: the portal gets its answer well inside 2 s.
    expect(answer.ms).toBeGreaterThanOrEqual(1_400);
    expect(answer.ms).toBeLessThan(1_800);
  });

  it('keeps answering 200 to a verified event from the cache during the outage, then 503 CREDENTIALS_UNAVAILABLE, and recovers', async () => {
    // Prepare
    const { handler, records } = eventsContainer();
    const warmStart = Date.now();
    const warmUp = await deliverEvent(handler);
    const warm = { start: warmStart, end: Date.now() };
    expect(warmUp.status).toBe(200);
    proxy.setMode('down');
    proxy.reset();
    // Act
    const { answers, inside, past, stale } = await playOutage(() => deliverEvent(handler), warm, 250);
    proxy.setMode('pass');
    const recovered = await afterRecovery(() => deliverEvent(handler));
    // Assess
    const failures = records().filter((line) => line.message === 'event failed');
    const failed = answers.filter((a) => a.status === 503);
    recordScenario({
      id: 'faults/secrets-down-events',
      section: 'Faults',
      scenario: 'Secrets Manager down, warm events container',
      sent: 'a verified ONIMBOTMESSAGEADD every 250 ms from the moment Secrets Manager fails until 1.2 s past TTL 1 s + stale 3 s; then Secrets Manager restored',
      got: '200 (and typing) from the cache inside the stale window, then 503 CREDENTIALS_UNAVAILABLE with no portal call, 200 after recovery',
      figures: {
        events: answers.length,
        ok200: answers.filter((a) => a.status === 200).length,
        servedStale: stale.length,
        unavailable503: failed.length,
        ok200P50Ms: durations(answers.filter((a) => a.status === 200)).p50Ms,
        unavailable503MaxMs: durations(failed).maxMs,
        loggedReplayOn503: JSON.stringify(failures[0]?.replay ?? null),
        recoveryStatus: recovered.status,
      },
      command: `node scripts/test.mjs ${FILE} -t "keeps answering 200 to a verified event"`,
      observations: answers.length,
    });
    for (const answer of [...answers, recovered]) expect(answer.leftMs).toBeGreaterThan(0);
    expect(stale.length).toBeGreaterThan(0);
    for (const answer of inside) {
      expect(answer.status).toBe(200);
      expect(answer.portalCalls).toBe(1);
    }
    expect(past.length).toBeGreaterThan(0);
    for (const answer of past) expectCredentialsUnavailable(answer);
    expect(recovered.status).toBe(200);
    expect(failures.length).toBe(failed.length);
  });

  // Every event carries the documented example's ts, so the expected replay is a literal.
  const at = (fields: EventFields) => withField(fields, 'ts', '1771928985');
  const replayCases: Array<{ kind: string; fields: () => EventFields; replay: Record<string, unknown> }> = [
    {
      kind: 'message',
      fields: () => at(messageEvent(sender, { botId: 39 }, { dialogId: 'chat12', messageId: '771234' })),
      replay: {
        event: 'ONIMBOTMESSAGEADD',
        portal: 'outage.bitrix24.test',
        dialogId: 'chat12',
        messageId: '771234',
        bots: ['39'],
        ts: '1771928985',
      },
    },
    // The command's id (12) is deliberately not the bot's id (39): data[COMMAND] is keyed by command id.
    {
      kind: 'command',
      fields: () => at(commandEvent(sender, { botId: 39 }, { dialogId: 'chat12', messageId: '771235', commandId: 12 })),
      replay: {
        event: 'ONIMCOMMANDADD',
        portal: 'outage.bitrix24.test',
        dialogId: 'chat12',
        messageId: '771235',
        bots: ['39'],
        ts: '1771928985',
      },
    },
    {
      kind: 'join',
      fields: () => at(joinEvent(sender, { botId: 39 }, { dialogId: 'chat1157' })),
      replay: {
        event: 'ONIMBOTJOINCHAT',
        portal: 'outage.bitrix24.test',
        dialogId: 'chat1157',
        bots: ['39'],
        ts: '1771928985',
      },
    },
  ];
  for (const c of replayCases) {
    it(`logs the portal, dialog, bot and message of a ${c.kind} event it could not verify for lack of credentials, so it can be replayed`, async () => {
      // Prepare: a cold container while Secrets Manager is down; the event cannot even be verified.
      proxy.setMode('down');
      const { handler, records } = eventsContainer();
      // Act
      const answer = await measure((context) =>
        handler(
          httpEvent({
            path: '/bitrix/events',
            body: encodeForm(c.fields()),
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          }),
          context,
        ),
      );
      // Assess
      const line = records().find((r) => r.status === 503);
      const { event, dialogId, messageId } = c.replay as { event: string; dialogId: string; messageId?: string };
      recordScenario({
        id: `faults/secrets-down-events-replay-log-${c.kind}`,
        section: 'Faults',
        scenario: `Secrets Manager down, cold events container: the 503 log line of a ${event} holds what a replay needs`,
        sent: `a ${event} (portal ${portal.domain}, DIALOG_ID ${dialogId}, bot 39${messageId ? `, MESSAGE_ID ${messageId}` : ''}) that cannot be verified`,
        got: `503 CREDENTIALS_UNAVAILABLE; "event failed" line with replay ${JSON.stringify(line?.replay ?? null)}`,
        figures: { status: answer.status, ms: answer.ms, portalCalls: answer.portalCalls },
        command: `node scripts/test.mjs ${FILE} -t "of a ${c.kind} event it could not verify"`,
        observations: line === undefined ? 0 : 1,
      });
      expectCredentialsUnavailable(answer);
      expect(line).toMatchObject({ message: 'event failed', outcome: 'CREDENTIALS_UNAVAILABLE' });
      expect(line?.replay).toEqual(c.replay);
    });
  }
});
