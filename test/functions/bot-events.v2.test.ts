/**
 * POST /bitrix/events with chat-bot API v2 events built from the docs' examples (test/fixtures/events/raw/v2/,
 * PHP's http_build_query of the events page's example data in its webhook shape; see the README there), read as
 * bytes and given to the real handler: what reaches the loopback portal, what the summary line says, and what is
 * refused without a portal call.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { botEventsDependencies, createBotEventsHandler } from '../../functions/bot-events.js';
import { httpEvent, lambdaContext } from '../../devtools/lambda.js';
import { random } from '../../devtools/fixtures.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { captureLogger } from '../support/logs.js';
import { putSecret, uniquePrefix } from '../support/secrets.js';

// The events page's portal, application token and bot (its bot auth example).
const DOMAIN = 'some-domain.bitrix24.com';
const MEMBER_ID = 'bac1cd5c8940947a75e0d71b1a84e348';
const APPLICATION_TOKEN = '831c76b092f9f135d9b6b36c3a720757';
const BOT_ACCESS_TOKEN = '0b02a0690000071b0008440001b0007a16b39202c2490f015';
const APP = 'app.docs-example';
const NOTIFY = 'imbot.v2.Chat.InputAction.notify';

const raw = (name: string) =>
  readFileSync(join(process.cwd(), 'test', 'fixtures', 'events', 'raw', 'v2', `${name}.txt`)).toString('latin1');

const portals: FakePortal[] = [];
afterEach(async () => {
  await Promise.all(portals.splice(0).map((p) => p.close()));
});

const env = (prefix: string) => ({
  CREDENTIALS_SOURCE: 'secrets-manager',
  SECRETS_PREFIX: prefix,
  TYPING_COALESCE_MS: '0',
  EVENTS_REFUSAL_FLOOR_MS: '0',
});

/** The docs' portal with our OAuth application owning v2 bot 456; the bot's event token is one the portal issued. */
async function oauthScene() {
  const portal = await startPortal({ domain: DOMAIN, memberId: MEMBER_ID });
  portals.push(portal);
  portal.addApp({ clientId: APP, clientSecret: 'docs-example-secret', applicationToken: APPLICATION_TOKEN });
  portal.addBotV2({ botId: 456, code: 'support_bot', appClientId: APP });
  portal.issueTokens(APP, { accessToken: BOT_ACCESS_TOKEN });
  const stored = portal.issueTokens(APP);
  const prefix = uniquePrefix();
  await putSecret(`${prefix}/portals/${DOMAIN}`, {
    domain: DOMAIN,
    memberId: MEMBER_ID,
    applicationToken: APPLICATION_TOKEN,
    bots: { '456': { api: 'v2', type: 'bot' } },
    oauth: {
      clientId: APP,
      clientSecret: 'docs-example-secret',
      accessToken: stored.accessToken,
      refreshToken: stored.refreshToken,
      expiresAt: stored.expiresAt,
      clientEndpoint: portal.clientEndpoint,
      serverEndpoint: 'https://oauth.bitrix.info/rest/',
    },
  });
  return { portal, ...handlerFor(prefix), query: {} };
}

/** The docs' portal through an inbound webhook, v2 bot 456 registered there with a botToken. */
async function webhookScene() {
  const portal = await startPortal({ domain: DOMAIN, memberId: MEMBER_ID });
  portals.push(portal);
  const botToken = random(16);
  const eventsToken = random(16);
  portal.addBotV2({ botId: 456, code: 'support_bot', botToken });
  const prefix = uniquePrefix();
  await putSecret(`${prefix}/portals/${DOMAIN}`, {
    domain: DOMAIN,
    memberId: MEMBER_ID,
    bots: { '456': { api: 'v2', botToken, type: 'bot' } },
    webhook: { url: portal.addWebhook({ userId: 1 }), clientId: random(16), eventsToken },
  });
  return { portal, botToken, ...handlerFor(prefix), query: { eventsToken } };
}

function handlerFor(prefix: string) {
  const capture = captureLogger();
  return {
    handler: createBotEventsHandler(botEventsDependencies(env(prefix), { logger: capture.logger })),
    ...capture,
  };
}

/** Delivers a body as API Gateway does (base64), or raw as a local emulator may, to the URL with `query`. */
async function deliver(
  handler: ReturnType<typeof createBotEventsHandler>,
  body: string,
  query: Record<string, string>,
  base64 = true,
) {
  const event = httpEvent({
    path: '/bitrix/events',
    body,
    base64,
    query,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  const response = await handler(event, lambdaContext(5_000));
  return { status: response.statusCode, body: JSON.parse(response.body as string) as Record<string, unknown> };
}

const summary = (records: () => Array<Record<string, unknown>>) =>
  records().find((r) => r.message === 'event accepted' || r.message === 'event refused');

describe('v2 events that show typing', () => {
  it.each([
    ['v2-message-oauth-bot', 'chat5'],
    ['v2-message-oauth-bot-personal', '1'],
    ['v2-command-oauth-bot', 'chat5'],
    ['v2-join-oauth-bot', 'chat5'],
  ])('%s: verified by the top-level application token, one notify for bot 456 in %s', async (fixture, dialogId) => {
    // Prepare
    const { portal, handler, records, query } = await oauthScene();

    // Act
    const answer = await deliver(handler, raw(fixture), query);

    // Assess
    expect(answer).toEqual({ status: 200, body: { ok: true } });
    expect(portal.calls.map((call) => [call.method, call.via, call.status, call.params])).toEqual([
      [NOTIFY, 'oauth', 200, { botId: 456, dialogId }],
    ]);
    expect(summary(records)).toMatchObject({ outcome: 'OK', typing: [{ botId: 456, dialogId, outcome: 'OK' }] });
  });

  it.each([
    ['v2-message-webhook-bot', 'chat5'],
    ['v2-message-webhook-bot-personal', '1'],
    ['v2-command-webhook-bot', 'chat5'],
    ['v2-join-webhook-bot', 'chat5'],
  ])(
    '%s: verified by the eventsToken of its URL, one notify with the stored botToken in %s',
    async (fixture, dialogId) => {
      // Prepare
      const { portal, handler, query, botToken } = await webhookScene();

      // Act
      const answer = await deliver(handler, raw(fixture), query);

      // Assess
      expect(answer).toEqual({ status: 200, body: { ok: true } });
      expect(portal.calls.map((call) => [call.method, call.via, call.status, call.params])).toEqual([
        [NOTIFY, 'webhook', 200, { botId: 456, dialogId, botToken }],
      ]);
    },
  );

  it('takes a body a local emulator passes raw as it takes a base64 one', async () => {
    // Prepare
    const { portal, handler, query } = await oauthScene();

    // Act
    const answer = await deliver(handler, raw('v2-message-oauth-bot'), query, false);

    // Assess
    expect(answer.status).toBe(200);
    expect(portal.typingCalls()).toHaveLength(1);
  });

  it('shows no typing for a command pressed on a keyboard button, as the platform shows none', async () => {
    // Prepare
    const { portal, handler, records, query } = await oauthScene();
    const keyboard = raw('v2-command-oauth-bot').replace(
      'data%5Bcommand%5D%5Bcontext%5D=textarea',
      'data%5Bcommand%5D%5Bcontext%5D=keyboard',
    );

    // Act
    const answer = await deliver(handler, keyboard, query);

    // Assess
    expect(answer.status).toBe(200);
    expect(portal.calls).toHaveLength(0);
    expect(summary(records)).toMatchObject({ typing: [{ botId: 456, outcome: 'SKIPPED_KEYBOARD_COMMAND' }] });
  });
});

describe('v2 events that show no typing', () => {
  it.each([['v2-delete-oauth-bot'], ['v2-delete-webhook-bot']])(
    '%s: acknowledged with 200 and logged with the deleted bot, no portal call',
    async (fixture) => {
      // Prepare
      const scene = fixture.includes('webhook') ? await webhookScene() : await oauthScene();

      // Act
      const answer = await deliver(scene.handler, raw(fixture), scene.query);

      // Assess
      expect(answer).toEqual({ status: 200, body: { ok: true } });
      expect(scene.portal.calls).toHaveLength(0);
      expect(summary(scene.records)).toMatchObject({ event: 'ONIMBOTV2DELETE', deletedBotId: '456', typing: [] });
    },
  );

  it.each([
    ['v2-message-update-oauth-bot', 'ONIMBOTV2MESSAGEUPDATE'],
    ['v2-message-delete-oauth-bot', 'ONIMBOTV2MESSAGEDELETE'],
    ['v2-reaction-oauth-bot', 'ONIMBOTV2REACTIONCHANGE'],
    ['v2-context-oauth-bot', 'ONIMBOTV2CONTEXTGET'],
  ])('%s: verified, logged as %s and answered 200 with no portal call', async (fixture, name) => {
    // Prepare
    const { portal, handler, records, query } = await oauthScene();

    // Act
    const answer = await deliver(handler, raw(fixture), query);

    // Assess
    expect(answer).toEqual({ status: 200, body: { ok: true } });
    expect(portal.calls).toHaveLength(0);
    expect(summary(records)).toMatchObject({ event: name, outcome: 'OK', typing: [] });
  });
});

describe('v2 events that are refused, with no portal call', () => {
  it('refuses a wrong top-level application token though data[bot][auth] carries the right one', async () => {
    // Prepare
    const { portal, handler, records, query } = await oauthScene();
    const body = raw('v2-message-oauth-bot');
    const top = `auth%5Bapplication_token%5D=${APPLICATION_TOKEN}`;
    expect(body).toContain(`data%5Bbot%5D%5Bauth%5D%5Bapplication_token%5D=${APPLICATION_TOKEN}`);
    const forged = body.replace(top, `auth%5Bapplication_token%5D=${'0'.repeat(32)}`);

    // Act
    const answer = await deliver(handler, forged, query);

    // Assess
    expect(answer).toMatchObject({ status: 401, body: { code: 'EVENT_UNVERIFIED' } });
    expect(portal.calls).toHaveLength(0);
    expect(summary(records)).toMatchObject({ outcome: 'EVENT_UNVERIFIED', reason: 'token mismatch' });
  });

  it.each([
    ['no eventsToken in the URL', {}],
    ['another eventsToken', { eventsToken: random(16) }],
    ['an empty eventsToken', { eventsToken: '' }],
  ])('refuses a webhook bot’s event with %s', async (_case, query) => {
    // Prepare
    const { portal, handler } = await webhookScene();

    // Act
    const answer = await deliver(handler, raw('v2-message-webhook-bot'), query);

    // Assess
    expect(answer).toMatchObject({ status: 401, body: { code: 'EVENT_UNVERIFIED' } });
    expect(portal.calls).toHaveLength(0);
  });

  it('does not take an eventsToken for a v1 event: those prove themselves by their CLIENT_ID', async () => {
    // Prepare: the documented v1 message as a webhook bot receives it, with a wrong token and the right URL
    const { portal, handler, query } = await webhookScene();
    const v1 = readFileSync(join(process.cwd(), 'test', 'fixtures', 'events', 'raw', 'message-webhook-bot.txt'));

    // Act
    const answer = await deliver(handler, v1.toString('latin1'), query);

    // Assess
    expect(answer).toMatchObject({ status: 401, body: { code: 'EVENT_UNVERIFIED' } });
    expect(portal.calls).toHaveLength(0);
  });
});
