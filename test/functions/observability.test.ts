import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { botEventsDependencies, createBotEventsHandler } from '../../functions/bot-events.js';
import { createTypingHandler, typingDependencies } from '../../functions/typing.js';
import { oauthBotOn, webhookBotOn } from '../../devtools/fixtures.js';
import { httpEvent, lambdaContext, signedTypingEvent } from '../../devtools/lambda.js';
import { METRIC_UNITS } from '../../lib/metrics/index.js';
import { generateSigningKey } from '../../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { encodeForm, messageEvent, type EventPortal } from '../support/bot-events.js';
import { captureLogger } from '../support/logs.js';

// The functions' embedded-metric records, read from the same captured log sink as their log lines. Credentials
// come from a file store, so this suite needs no AWS emulator.

const PREFIX = 'bitrix24-typing/test';
let portal: FakePortal;
let oauthPortal: FakePortal;
let key: string;
let bot: ReturnType<typeof webhookBotOn>;
let credentialsFile: string;
let sender: EventPortal;

beforeAll(async () => {
  portal = await startPortal({ domain: 'metrics.bitrix24.test' });
  oauthPortal = await startPortal({ domain: 'oauth-metrics.bitrix24.test' });
  bot = webhookBotOn(portal, 39);
  key = generateSigningKey();
  credentialsFile = join(mkdtempSync(join(tmpdir(), 'metrics-')), 'credentials.json');
  writeFileSync(
    credentialsFile,
    JSON.stringify({
      [`${PREFIX}/typing-keys`]: { keys: [key] },
      [`${PREFIX}/portals/${portal.domain}`]: bot.secret,
      [`${PREFIX}/portals/${oauthPortal.domain}`]: oauthBotOn(oauthPortal, 41).secret,
    }),
  );
  sender = {
    domain: portal.domain,
    memberId: portal.memberId,
    clientEndpoint: `${portal.clientEndpoint}`,
    applicationToken: bot.clientId,
  };
});
afterAll(async () => {
  await Promise.all([portal.close(), oauthPortal.close()]);
});
beforeEach(() => {
  portal.resetCalls();
});

const env = (extra: Record<string, string> = {}) => ({
  STAGE: 'test',
  SECRETS_PREFIX: PREFIX,
  CREDENTIALS_SOURCE: `file:${credentialsFile}`,
  TYPING_COALESCE_MS: '0',
  BITRIX24_TIMEOUT_MS: '1000',
  ...extra,
});

type Emf = Record<string, unknown> & {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: unknown[] }>;
  };
};

function typingHandler(extra: Record<string, string> = {}) {
  const capture = captureLogger();
  const handler = createTypingHandler(typingDependencies(env(extra), { logger: capture.logger }));
  return { handler, emf: capture.metricRecords as () => Emf[], lines: capture.lines };
}

function eventsHandler() {
  const capture = captureLogger();
  const handler = createBotEventsHandler(botEventsDependencies(env(), { logger: capture.logger }));
  return { handler, emf: capture.metricRecords as () => Emf[], records: capture.records };
}

const typingRequest = (dialogId = 'chat12') => signedTypingEvent({ portal: portal.domain, dialogId, botId: 39 }, key);

const routeDimensions = [['service', 'stage', 'route']];
const outcomeDimensions = [['service', 'stage', 'route', 'outcome']];

describe('embedded metric records', () => {
  it("publishes a served /typing request's route record and its outcome record, with documented units", async () => {
    // Prepare
    const { handler, emf } = typingHandler();

    // Act
    const response = await handler(typingRequest(), lambdaContext(8_000));

    // Assess
    expect(response.statusCode).toBe(200);
    const [route, outcome] = emf();
    expect(emf()).toHaveLength(2);
    expect(route).toEqual({
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [
          {
            Namespace: 'Bitrix24Typing',
            Dimensions: routeDimensions,
            Metrics: [
              { Name: 'UpstreamLatency', Unit: 'Milliseconds' },
              { Name: 'UpstreamAttempts', Unit: 'Count' },
              { Name: 'UpstreamErrors', Unit: 'Count' },
              { Name: 'ColdStart', Unit: 'Count' },
              { Name: 'Requests', Unit: 'Count' },
              { Name: 'ServerErrors', Unit: 'Count' },
              { Name: 'Latency', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
      service: 'bitrix24-typing',
      stage: 'test',
      route: 'POST /typing',
      UpstreamLatency: expect.any(Number),
      UpstreamAttempts: 1,
      UpstreamErrors: 0,
      ColdStart: 1,
      Requests: 1,
      ServerErrors: 0,
      Latency: expect.any(Number),
    });
    expect(outcome).toEqual({
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [
          {
            Namespace: 'Bitrix24Typing',
            Dimensions: outcomeDimensions,
            Metrics: [{ Name: 'Requests', Unit: 'Count' }],
          },
        ],
      },
      service: 'bitrix24-typing',
      stage: 'test',
      route: 'POST /typing',
      outcome: 'OK',
      Requests: 1,
    });
  });

  it('counts a cold start once per container, and a coalesced request without a portal call', async () => {
    // Prepare
    const { handler, emf } = typingHandler({ TYPING_COALESCE_MS: '10000' });

    // Act
    await handler(typingRequest('chat30'), lambdaContext(8_000));
    await handler(typingRequest('chat30'), lambdaContext(8_000));

    // Assess
    const second = emf()[2];
    expect(portal.typingCalls()).toHaveLength(1);
    expect(second).toMatchObject({ route: 'POST /typing', CoalescedRequests: 1, Requests: 1, ServerErrors: 0 });
    expect(second).not.toHaveProperty('ColdStart');
    expect(second).not.toHaveProperty('UpstreamLatency');
  });

  it('records a portal failure as an upstream error and a 5xx under its outcome code', async () => {
    // Prepare
    const { handler, emf } = typingHandler();
    portal.script('imbot.chat.sendTyping', [
      { status: 500, body: { error: 'INTERNAL_SERVER_ERROR', error_description: 'boom' } },
    ]);

    // Act
    const response = await handler(typingRequest(), lambdaContext(8_000));

    // Assess
    expect(response.statusCode).toBe(502);
    const [route, outcome] = emf();
    expect(route).toMatchObject({ UpstreamErrors: 1, UpstreamAttempts: 1, ServerErrors: 1, Requests: 1 });
    expect(outcome).toMatchObject({ outcome: 'UPSTREAM_ERROR', Requests: 1 });
  });

  it('records a refused request under its code, with no portal metrics', async () => {
    // Prepare
    const { handler, emf } = typingHandler();

    // Act
    await handler(signedTypingEvent({ portal: portal.domain, dialogId: '27' }, generateSigningKey()), lambdaContext());

    // Assess
    const [route, outcome] = emf();
    expect(route).toMatchObject({ Requests: 1, ServerErrors: 0 });
    expect(route).not.toHaveProperty('UpstreamLatency');
    expect(outcome).toMatchObject({ outcome: 'SIGNATURE_INVALID', Requests: 1 });
  });

  it('counts a credential failure when the signing keys cannot be had', async () => {
    // Prepare
    const { handler, emf } = typingHandler({ SECRETS_PREFIX: 'bitrix24-typing/nowhere' });

    // Act
    const response = await handler(typingRequest(), lambdaContext());

    // Assess
    expect(response.statusCode).toBe(503);
    const [route, outcome] = emf();
    expect(route).toMatchObject({ CredentialFailures: 1, ServerErrors: 1 });
    expect(outcome).toMatchObject({ outcome: 'CREDENTIALS_UNAVAILABLE' });
  });

  it('counts a token refresh made for an expired OAuth pair', async () => {
    // Prepare
    const { handler, emf } = typingHandler({ OAUTH_SERVER: oauthPortal.oauthServer });
    oauthPortal.expireAccessTokens();

    // Act
    const response = await handler(
      signedTypingEvent({ portal: oauthPortal.domain, dialogId: '27', botId: 41 }, key),
      lambdaContext(8_000),
    );

    // Assess
    expect(response.statusCode).toBe(200);
    expect(emf()[0]).toMatchObject({ TokenRefreshes: 1, UpstreamErrors: 0, ServerErrors: 0 });
    expect(emf()[0]).not.toHaveProperty('TokenRefreshFailures');
  });

  it('publishes a bot event under its own route, with the typing call it made', async () => {
    // Prepare
    const { handler, emf } = eventsHandler();
    const body = encodeForm(messageEvent(sender, { botId: 39 }, { dialogId: 'chat7' }));
    const event = httpEvent({
      path: '/bitrix/events',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });

    // Act
    const response = await handler(event, lambdaContext(8_000));

    // Assess
    expect(response.statusCode).toBe(200);
    const [route, outcome] = emf();
    expect(route).toMatchObject({
      service: 'bitrix24-typing',
      stage: 'test',
      route: 'POST /bitrix/events',
      UpstreamAttempts: 1,
      UpstreamErrors: 0,
      ColdStart: 1,
      Requests: 1,
      ServerErrors: 0,
    });
    expect(route?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual(routeDimensions);
    expect(outcome).toMatchObject({ route: 'POST /bitrix/events', outcome: 'OK', Requests: 1 });
  });

  it('records an unverified event under EVENT_UNVERIFIED', async () => {
    // Prepare
    const { handler, emf } = eventsHandler();
    const forged = { ...sender, applicationToken: 'not-the-client-id-of-this-bot' };
    const event = httpEvent({
      path: '/bitrix/events',
      body: encodeForm(messageEvent(forged, { botId: 39 })),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });

    // Act
    const response = await handler(event, lambdaContext(8_000));

    // Assess
    expect(response.statusCode).toBe(401);
    expect(emf()[1]).toMatchObject({ route: 'POST /bitrix/events', outcome: 'EVENT_UNVERIFIED', Requests: 1 });
  });

  it('names only catalogued metrics with their catalogued units, and carries no secret', async () => {
    // Prepare
    const { handler, emf } = typingHandler();
    portal.script('imbot.chat.sendTyping', [{ status: 503, body: { error: 'QUERY_LIMIT_EXCEEDED' } }]);

    // Act
    await handler(typingRequest(), lambdaContext(8_000));
    await handler(typingRequest(), lambdaContext(8_000));

    // Assess
    const definitions = emf().flatMap(
      (r) => r._aws.CloudWatchMetrics[0]!.Metrics as Array<{ Name: string; Unit: string }>,
    );
    const catalogue = METRIC_UNITS as Record<string, string>;
    expect(definitions.filter((d) => catalogue[d.Name] !== d.Unit)).toEqual([]);
    const text = JSON.stringify(emf());
    for (const secret of [key, key.slice('whsec_'.length), bot.clientId, bot.webhookUrl]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('refused events', () => {
  it('log why they were refused, while every sender gets the same answer', async () => {
    // Prepare
    const { handler, records } = eventsHandler();
    const senders: Array<[string, EventPortal]> = [
      ['unknown portal', { ...sender, domain: 'unknown.bitrix24.test' }],
      ['token mismatch', { ...sender, applicationToken: 'not-the-client-id-of-this-bot' }],
      ['member mismatch', { ...sender, memberId: 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5' }],
    ];

    // Act
    const answers = [];
    for (const [, from] of senders) {
      const event = httpEvent({
        path: '/bitrix/events',
        body: encodeForm(messageEvent(from, { botId: 39 })),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      const response = await handler(event, lambdaContext(8_000));
      const answer = JSON.parse(response.body as string) as Record<string, unknown>;
      delete answer.requestId;
      answers.push([response.statusCode, answer]);
    }

    // Assess
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]).toEqual([
      401,
      {
        title: 'Event not verified',
        status: 401,
        detail: 'The event could not be verified.',
        code: 'EVENT_UNVERIFIED',
      },
    ]);
    const refusals = records().filter((r) => r.message === 'event refused');
    expect(refusals.map((r) => [r.outcome, r.reason])).toEqual(senders.map(([reason]) => ['EVENT_UNVERIFIED', reason]));
  });
});
