import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTypingHandler, typingDependencies } from '../../../functions/typing.js';
import { startPortal, type FakePortal } from '../../../sandbox/portal/index.js';
import { random, webhookBotOn } from '../../../devtools/fixtures.js';
import { lambdaContext, signedTypingEvent } from '../../../devtools/lambda.js';
import { captureLogger } from '../../support/logs.js';
import { recordScenario } from '../../support/report.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../../support/secrets.js';
import { container, useStateTable } from '../../integration/state/state-table.js';

/**
 * The blocks a portal puts on an application, driven through POST /typing against the loopback portal's own
 * model of them: OVERLOAD_LIMIT (manual, lifted by the portal's support) and OPERATION_TIME_LIMIT (a method's
 * execution-time budget, back when its oldest one-minute basket resets).
 */
const FILE = 'test/reliability/faults/platform-blocks.test.ts';
const METHOD = 'imbot.chat.sendTyping';
const table = useStateTable();

let prefix: string;
let key: string;
const portals: FakePortal[] = [];

beforeAll(async () => {
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
});
afterEach(async () => {
  await Promise.all(portals.splice(0).map((p) => p.close()));
});

/** A portal with a time budget, and `containers` warm containers of the typing function (sharing the state table). */
async function scenario(containers = 1) {
  const portal = await startPortal({ domain: `b${random(4)}.bitrix24.test`, operatingLimitSeconds: 480 });
  portals.push(portal);
  await putSecret(`${prefix}/portals/${portal.domain}`, webhookBotOn(portal, 39).secret);
  const capture = captureLogger();
  const env = { CREDENTIALS_SOURCE: 'secrets-manager', TYPING_COALESCE_MS: '0', SECRETS_PREFIX: prefix };
  const handlers = Array.from({ length: containers }, () =>
    createTypingHandler(
      typingDependencies(env, { logger: capture.logger, ...(containers > 1 ? { state: container(table) } : {}) }),
    ),
  );
  const send = async (to = 0) => {
    const handler = handlers[to]!;
    const response = await handler(
      signedTypingEvent({ portal: portal.domain, dialogId: 'chat12', botId: 39 }, key),
      lambdaContext(10_000),
    );
    return {
      status: response.statusCode,
      retryAfter: Number(response.headers['retry-after'] ?? NaN),
      body: JSON.parse(response.body as string) as Record<string, unknown>,
    };
  };
  const typingCalls = () => portal.calls.filter((call) => call.method === METHOD).length;
  return { portal, send, typingCalls, records: capture.records };
}

describe('platform blocks: POST /typing', () => {
  it("OPERATION_TIME_LIMIT: 429 with Retry-After until the method's reset, and no portal call meanwhile", async () => {
    // Prepare: each typing call costs 500 s of the method's 480 s budget, so the second one is refused.
    const { portal, send, typingCalls, records } = await scenario();
    portal.setOperatingCost(METHOD, 500);

    // Act
    const first = await send();
    const refused = await send();
    const held = await send();

    // Assess: old behaviour retried the 429 within 2 s, three portal calls each, and answered Retry-After: 2.
    const resetIn = [refused.retryAfter, held.retryAfter];
    const row = {
      id: 'faults/portal-429-operation-time-limit',
      section: 'Faults' as const,
      scenario:
        "429 OPERATION_TIME_LIMIT (a method's execution-time budget spent): Retry-After until its reset, no calls meanwhile",
      sent: 'three requests; the loopback portal counts each typing call as 500 s of a 480 s budget',
      got: `${first.status}, then ${refused.status} ${String(refused.body.code)} Retry-After ${refused.retryAfter}, then ${held.status} Retry-After ${held.retryAfter} without a portal call`,
      figures: {
        portalCalls: typingCalls(),
        retryAfterSeconds: refused.retryAfter,
        heldRetryAfterSeconds: held.retryAfter,
      },
      command: `node scripts/test.mjs ${FILE} -t "OPERATION_TIME_LIMIT"`,
      observations: typingCalls(),
    };
    recordScenario(row);
    expect([first.status, refused.status, held.status]).toEqual([200, 429, 429]);
    expect(refused.body).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', upstreamCode: 'OPERATION_TIME_LIMIT' });
    for (const seconds of resetIn) {
      expect(seconds).toBeGreaterThanOrEqual(590);
      expect(seconds).toBeLessThanOrEqual(600);
    }
    expect(typingCalls()).toBe(2);
    expect(
      records().find((r) => r.message === "portal method's time budget spent: calls held until it resets"),
    ).toMatchObject({
      method: METHOD,
      resetFrom: 'last success',
    });
  });

  it('a method held back in one container is held back in all: a container that never called it answers 429 without a call', async () => {
    // Prepare: two containers sharing the state table; each typing call costs 500 s of the method's 480 s budget
    const { portal, send, typingCalls } = await scenario(2);
    portal.setOperatingCost(METHOD, 500);
    await send(0);
    const learnt = await send(0);

    // Act: the other container has never called the portal
    const elsewhere = await send(1);

    // Assess
    recordScenario({
      id: 'faults/portal-429-operation-time-limit-shared',
      section: 'Faults',
      scenario: 'OPERATION_TIME_LIMIT learnt in one container holds the method back in every container',
      sent: 'two requests to one container (the second refused by the portal), then one to another container sharing the state table',
      got: `${learnt.status} Retry-After ${learnt.retryAfter} in the first; ${elsewhere.status} ${String(elsewhere.body.code)} Retry-After ${elsewhere.retryAfter} in the other, ${typingCalls()} portal calls in all`,
      figures: { portalCalls: typingCalls(), retryAfterSeconds: elsewhere.retryAfter },
      command: `node scripts/test.mjs ${FILE} -t "a method held back in one container"`,
      observations: typingCalls(),
    });
    expect([learnt.status, elsewhere.status]).toEqual([429, 429]);
    expect(elsewhere.body).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', upstreamCode: 'OPERATION_TIME_LIMIT' });
    expect(elsewhere.retryAfter).toBeGreaterThanOrEqual(589);
    expect(elsewhere.retryAfter).toBeLessThanOrEqual(600);
    expect(typingCalls()).toBe(2);
  });

  it('OVERLOAD_LIMIT: 502 UPSTREAM_BLOCKED after one call, logged at error level', async () => {
    // Prepare
    const { portal, send, typingCalls, records } = await scenario();
    const blocked = {
      status: 503,
      body: { error: 'OVERLOAD_LIMIT', error_description: 'REST API is blocked due to overload' },
    };
    portal.script(METHOD, [blocked, blocked, blocked]);

    // Act
    const answer = await send();

    // Assess: old behaviour retried three times and answered 429 UPSTREAM_RATE_LIMITED with Retry-After: 2.
    // The request's summary line (5xx answers are logged as 'typing failed').
    const line = records().find((r) => r.message === 'typing failed');
    recordScenario({
      id: 'faults/portal-503-overload-blocked',
      section: 'Faults',
      scenario:
        '503 OVERLOAD_LIMIT (a manual block lifted only by the portal support): never retried, own code, error log',
      sent: '503 OVERLOAD_LIMIT on every call',
      got: `${answer.status} ${String(answer.body.code)} (upstreamCode ${String(answer.body.upstreamCode)}), no Retry-After; log level ${String(line?.level)}`,
      figures: { portalCalls: typingCalls(), status: answer.status },
      command: `node scripts/test.mjs ${FILE} -t "OVERLOAD_LIMIT"`,
      observations: typingCalls(),
    });
    expect(answer).toMatchObject({ status: 502, body: { code: 'UPSTREAM_BLOCKED', upstreamCode: 'OVERLOAD_LIMIT' } });
    expect(Number.isNaN(answer.retryAfter)).toBe(true);
    expect(typingCalls()).toBe(1);
    expect(line).toMatchObject({ level: 'error', outcome: 'UPSTREAM_BLOCKED', upstreamCode: 'OVERLOAD_LIMIT' });
  });
});
