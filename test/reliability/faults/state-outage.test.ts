/**
 * Reliability: the shared-state table failing under the real handlers. DynamoDB (moto, through the serialising
 * proxy) sits behind a fault proxy that goes down, throttles or hangs; each function is built from its environment
 * as deployed (STATE_TABLE set), with a state call bounded by 1 s instead of 250 ms (below). The documented
 * behaviour (README, "Shared state across containers"): every call the table cannot answer within the call timeout
 * is answered from the container's memory, with a warning, so requests keep getting their answers and the portal
 * keeps getting its calls.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { botEventsDependencies, createBotEventsHandler } from '../../../functions/bot-events.js';
import { createTypingHandler, typingDependencies } from '../../../functions/typing.js';
import { startFaultProxy, type FaultMode, type FaultProxy } from '../../../devtools/fault-proxy.js';
import { webhookBotOn } from '../../../devtools/fixtures.js';
import { httpEvent, lambdaContext, signedTypingEvent } from '../../../devtools/lambda.js';
import { startPortal, type FakePortal } from '../../../sandbox/portal/index.js';
import { useStateTable } from '../../integration/state/state-table.js';
import { encodeForm, messageEvent, type EventPortal } from '../../support/bot-events.js';
import { captureLogger } from '../../support/logs.js';
import { recordScenario } from '../../support/report.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../../support/secrets.js';

const FILE = 'test/reliability/faults/state-outage.test.ts';
/**
 * The bound of one state call. The deployed 250 ms (STATE_DEFAULTS) is sized for DynamoDB; a cold container's
 * first call to moto through the proxies can outlast it on a loaded machine, failing over before the fault does.
 */
const CALL_TIMEOUT_MS = 1_000;
/** What an answer may take beyond one state call's timeout on a loaded two-core machine. */
const SLACK_MS = 750;
const WARNING = 'shared state unavailable: answering from this container';
const MODES: Array<{ mode: FaultMode; name: string; id: string }> = [
  { mode: 'down', name: 'down (connections reset)', id: 'down' },
  { mode: 'throttle', name: 'throttling every request', id: 'throttled' },
  { mode: 'hang', name: 'hanging (never answers)', id: 'hanging' },
];

const table = useStateTable();
let proxy: FaultProxy;
let portal: FakePortal;
let prefix: string;
let key: string;
let sender: EventPortal;
let savedEndpoint: string | undefined;

beforeAll(async () => {
  portal = await startPortal({ domain: 'state-outage.bitrix24.test' });
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
  const bot = webhookBotOn(portal, 39);
  await putSecret(`${prefix}/portals/${portal.domain}`, bot.secret);
  sender = {
    domain: portal.domain,
    memberId: portal.memberId,
    clientEndpoint: portal.clientEndpoint,
    applicationToken: bot.clientId,
  };
  // The SDK reads AWS_ENDPOINT_URL_DYNAMODB when a client first sends, so every function built in this file reaches
  // the table through the fault proxy, as a deployed one reaches DynamoDB.
  proxy = await startFaultProxy(table.endpoint);
  savedEndpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = proxy.url;
});
afterAll(async () => {
  process.env.AWS_ENDPOINT_URL_DYNAMODB = savedEndpoint;
  await proxy?.close();
  await portal?.close();
});
beforeEach(() => {
  proxy.setMode('pass');
  portal.resetCalls();
});

const env = () => ({
  CREDENTIALS_SOURCE: 'secrets-manager',
  SECRETS_PREFIX: prefix,
  STATE_TABLE: table.tableName,
  STATE_CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS),
});

/**
 * A warm container of each function: one request served with the table up, so only the table fails after. A
 * cold container's first call to the table (client set-up, a new connection) can outlast the timeout on a loaded
 * machine and fail over; such a pair is set aside and a fresh one warmed, so the warnings counted are the fault's.
 */
async function warmContainers() {
  for (let attempt = 1; ; attempt++) {
    const typingLog = captureLogger();
    const typing = createTypingHandler(typingDependencies(env(), { logger: typingLog.logger }));
    const eventsLog = captureLogger();
    const events = createBotEventsHandler(botEventsDependencies(env(), { logger: eventsLog.logger }));
    const warmTyping = await typing(
      signedTypingEvent({ portal: portal.domain, dialogId: 'chat1' }, key),
      lambdaContext(),
    );
    const warmEvent = await events(eventOf('chat2', String(Math.floor(Math.random() * 1e9))), lambdaContext());
    expect([warmTyping.statusCode, warmEvent.statusCode]).toEqual([200, 200]);
    const warnings = () => [...typingLog.records(), ...eventsLog.records()].filter((r) => r.message === WARNING);
    if (warnings().length === 0) return { typing, events, warnings };
    if (attempt === 3) throw new Error(`the table did not answer a warm-up within ${CALL_TIMEOUT_MS} ms, 3 times`);
  }
}

function eventOf(dialogId: string, messageId: string) {
  return httpEvent({
    path: '/bitrix/events',
    body: encodeForm(messageEvent(sender, { botId: 39 }, { dialogId, messageId })),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
}

async function timed<T>(call: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = Date.now();
  const result = await call();
  return { result, ms: Date.now() - started };
}

describe('the state table failing: each use answered from the container’s memory, within the call timeout', () => {
  for (const { mode, name, id } of MODES) {
    it(`${name}: /typing answers 200 with one portal call and its repeat the same 200 with none; an event types once and its duplicate not at all; one warning per function`, async () => {
      // Prepare
      const { typing, events, warnings } = await warmContainers();
      portal.resetCalls();
      proxy.setMode(mode);
      const request = signedTypingEvent({ portal: portal.domain, dialogId: 'chat3' }, key);
      const delivery = eventOf('chat4', String(Math.floor(Math.random() * 1e9)));

      // Act
      const first = await timed(() => typing(request, lambdaContext()));
      const repeat = await timed(() => typing(request, lambdaContext()));
      const typingCalls = portal.typingCalls().length;
      const event = await timed(() => events(delivery, lambdaContext()));
      const duplicate = await timed(() => events(delivery, lambdaContext()));
      const eventCalls = portal.typingCalls().length - typingCalls;
      const stateRequests = proxy.requests.filter((r) => r.mode === mode).length;

      // Assess
      const outcome = (answer: { result: { body?: unknown } }) => String(answer.result.body);
      recordScenario({
        id: `faults/state-dynamodb-${id}`,
        section: 'Faults',
        scenario: `Shared-state table (DynamoDB) ${name}, warm containers of both functions`,
        sent: 'a signed /typing, the same request again, a bot event, the same event again',
        got: `/typing ${first.result.statusCode} then ${repeat.result.statusCode} (${typingCalls} portal call), event ${event.result.statusCode} then ${duplicate.result.statusCode} (${eventCalls} typing call); ${warnings().length} warnings`,
        figures: {
          firstTypingMs: first.ms,
          repeatMs: repeat.ms,
          firstEventMs: event.ms,
          callTimeoutMs: CALL_TIMEOUT_MS,
          typingCalls,
          eventTypingCalls: eventCalls,
          stateRequestsRefused: stateRequests,
          warnings: warnings().length,
        },
        command: `node scripts/test.mjs ${FILE} -t "${name}"`,
        observations: 4,
      });
      expect([first.result.statusCode, repeat.result.statusCode]).toEqual([200, 200]);
      expect(outcome(repeat)).toBe(outcome(first));
      expect(typingCalls).toBe(1);
      expect([event.result.statusCode, duplicate.result.statusCode]).toEqual([200, 200]);
      expect(eventCalls).toBe(1);
      // The first call waits out the timeout at most; the failure is then remembered, so the rest do not wait.
      expect(first.ms).toBeLessThan(CALL_TIMEOUT_MS + SLACK_MS);
      expect(event.ms).toBeLessThan(CALL_TIMEOUT_MS + SLACK_MS);
      expect(repeat.ms).toBeLessThan(SLACK_MS);
      expect(stateRequests).toBeGreaterThan(0);
      expect(warnings().map((w) => w.message)).toEqual([WARNING, WARNING]);
    });
  }
});
