/**
 * POST /typing for bots of the chat-bot API v2 (`imbot.v2.Chat.InputAction.notify`) and the request's duration
 * and status, against the loopback portal: what reaches the portal, what the caller gets, and what is refused.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { oauthBotOn, random, webhookBotOn } from '../../devtools/fixtures.js';
import { lambdaContext, signedTypingEvent } from '../../devtools/lambda.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../support/secrets.js';
import { typingHandlerOn } from '../support/handlers.js';

const NOTIFY = 'imbot.v2.Chat.InputAction.notify';
const BOT_TOKEN = random(16);

let portal: FakePortal;
let oauthPortal: FakePortal;
let prefix: string;
let key: string;

beforeAll(async () => {
  portal = await startPortal();
  oauthPortal = await startPortal({ domain: 'oauth.bitrix24.test' });
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
  // A webhook portal: v1 bot 39 (the default), v2 bot 567 in chat1 and chat12 only, v2 bot 570 with no stored token.
  const webhook = webhookBotOn(portal, 39);
  portal.addBotV2({ botId: 567, botToken: BOT_TOKEN, chats: ['chat1', 'chat12'] });
  await putSecret(`${prefix}/portals/${portal.domain}`, {
    ...webhook.secret,
    bots: { '567': { api: 'v2', botToken: BOT_TOKEN, type: 'bot' }, '570': { api: 'v2' } },
  });
  // An OAuth portal whose application owns v2 bot 568.
  const oauth = oauthBotOn(oauthPortal, 41);
  oauthPortal.addBotV2({ botId: 568, appClientId: oauth.clientId });
  await putSecret(`${prefix}/portals/${oauthPortal.domain}`, { ...oauth.secret, bots: { '568': { api: 'v2' } } });
});
afterAll(async () => {
  await Promise.all([portal.close(), oauthPortal.close()]);
});
beforeEach(() => {
  portal.resetCalls();
  oauthPortal.resetCalls();
});

const typingHandler = (env: Record<string, string> = {}) => typingHandlerOn(prefix, env);

async function send(body: Record<string, unknown>, handler = typingHandler().handler) {
  const response = await handler(signedTypingEvent(body, key), lambdaContext(8_000));
  return { status: response.statusCode, json: JSON.parse(response.body as string) as Record<string, unknown> };
}

describe('POST /typing for a v2 bot', () => {
  it('makes exactly one InputAction.notify with the duration, the status code and the stored botToken', async () => {
    // Act
    const answer = await send({
      portal: portal.domain,
      dialogId: 'chat12',
      botId: 567,
      durationSeconds: 120,
      status: 'thinking',
    });

    // Assess
    expect(answer).toEqual({ status: 200, json: { ok: true, indicatorSeconds: 120 } });
    expect(portal.calls.map((call) => call.method)).toEqual([NOTIFY]);
    expect(portal.calls[0]).toMatchObject({ via: 'webhook', status: 200 });
    expect(portal.calls[0]?.params).toEqual({
      botId: 567,
      dialogId: 'chat12',
      duration: 120,
      statusMessageCode: 'IMBOT_AGENT_ACTION_THINKING',
      botToken: BOT_TOKEN,
    });
    expect(portal.calls[0]?.defects).toBeUndefined();
  });

  it('logs the method, duration and status on the summary line beside the HTTP status', async () => {
    // Prepare
    const { handler, records } = typingHandler();

    // Act
    const body = { portal: portal.domain, dialogId: 'chat12', botId: 567, durationSeconds: 30, status: 'checking' };
    await send(body, handler);

    // Assess
    expect(records().find((r) => r.message === 'typing sent')).toMatchObject({
      method: NOTIFY,
      durationSeconds: 30,
      typingStatus: 'checking',
      status: 200,
    });
  });

  it('sends plain typing without a status code or duration when the caller names neither', async () => {
    // Act
    const answer = await send({ portal: portal.domain, dialogId: '27', botId: 567 });

    // Assess: the portal chooses how long; the answer cannot say
    expect(answer).toEqual({ status: 200, json: { ok: true } });
    expect(portal.calls[0]?.params).toEqual({ botId: 567, dialogId: '27', botToken: BOT_TOKEN });
  });

  it('calls an OAuth application’s v2 bot with the stored access token and no botToken', async () => {
    // Act
    const answer = await send({ portal: oauthPortal.domain, dialogId: '27', botId: 568, status: 'reading_docs' });

    // Assess
    expect(answer.status).toBe(200);
    expect(oauthPortal.calls.map((call) => [call.method, call.via, call.status])).toEqual([[NOTIFY, 'oauth', 200]]);
    expect(oauthPortal.calls[0]?.params).toEqual({
      botId: 568,
      dialogId: '27',
      statusMessageCode: 'IMBOT_AGENT_ACTION_READING_DOCS',
    });
  });

  it('keeps a v1 bot on imbot.chat.sendTyping whatever duration and status are asked, and says ~35 s', async () => {
    // Act
    const answer = await send({ portal: portal.domain, dialogId: 'chat12', durationSeconds: 120, status: 'thinking' });

    // Assess
    expect(answer).toEqual({ status: 200, json: { ok: true, indicatorSeconds: 35 } });
    expect(portal.calls.map((call) => [call.method, call.params.BOT_ID])).toEqual([['imbot.chat.sendTyping', 39]]);
  });
});

describe('v2 refusals in the service’s terms', () => {
  it.each([
    [
      'BOT_NOT_FOUND',
      404,
      'BOT_ID_ERROR',
      { status: 400, body: { error: 'BOT_NOT_FOUND', error_description: 'Bot not found' } },
    ],
    [
      'BOT_OWNERSHIP_ERROR',
      404,
      'BOT_ID_ERROR',
      {
        status: 403,
        body: { error: 'BOT_OWNERSHIP_ERROR', error_description: 'Bot is registered by another application' },
      },
    ],
    [
      'ACCESS_DENIED',
      409,
      'BOT_NOT_IN_CHAT',
      { status: 403, body: { error: 'ACCESS_DENIED', error_description: 'Access denied' } },
    ],
    [
      'BOT_TOKEN_NOT_SPECIFIED',
      500,
      'PORTAL_MISCONFIGURED',
      { status: 400, body: { error: 'BOT_TOKEN_NOT_SPECIFIED', error_description: 'Bot token is not specified' } },
    ],
    [
      'BOT_ID_REQUIRED',
      500,
      'PORTAL_MISCONFIGURED',
      { status: 400, body: { error: 'BOT_ID_REQUIRED', error_description: 'Bot ID is required' } },
    ],
  ] as const)('answers the portal’s %s as %i %s, naming it as upstreamCode', async (upstream, status, code, reply) => {
    // Prepare
    portal.script(NOTIFY, [reply]);

    // Act
    const answer = await send({ portal: portal.domain, dialogId: 'chat12', botId: 567 });

    // Assess
    expect(answer.status).toBe(status);
    expect(answer.json).toMatchObject({ status, code, upstreamCode: upstream });
    expect(portal.calls).toHaveLength(1);
  });

  it('answers 409 BOT_NOT_IN_CHAT for a group chat the bot is not in, as the portal decides it', async () => {
    // Act
    const answer = await send({ portal: portal.domain, dialogId: 'chat99', botId: 567, durationSeconds: 30 });

    // Assess
    expect(answer.json).toMatchObject({ status: 409, code: 'BOT_NOT_IN_CHAT', upstreamCode: 'ACCESS_DENIED' });
    expect(portal.calls.map((call) => [call.method, call.status])).toEqual([[NOTIFY, 403]]);
  });

  it('answers 500 PORTAL_MISCONFIGURED with no portal call when a webhook portal’s v2 bot has no stored botToken', async () => {
    // Prepare
    const { handler, records } = typingHandler();

    // Act
    const answer = await send({ portal: portal.domain, dialogId: 'chat12', botId: 570 }, handler);

    // Assess
    expect(answer.json).toMatchObject({ status: 500, code: 'PORTAL_MISCONFIGURED' });
    expect(portal.calls).toHaveLength(0);
    expect(records().find((r) => r.message === 'typing failed')).toMatchObject({ level: 'error', botId: 570 });
  });
});

describe('bad duration or status', () => {
  it.each([
    ['durationSeconds 0', { durationSeconds: 0 }, 'DURATION_INVALID'],
    ['durationSeconds 601', { durationSeconds: 601 }, 'DURATION_INVALID'],
    ['durationSeconds 1.5', { durationSeconds: 1.5 }, 'DURATION_INVALID'],
    ['durationSeconds "60"', { durationSeconds: '60' }, 'DURATION_INVALID'],
    ['an unknown status', { status: 'dreaming' }, 'STATUS_INVALID'],
    ['a status in upper case', { status: 'THINKING' }, 'STATUS_INVALID'],
  ])('refuses %s with 400 %s and no portal call', async (_case, fields, code) => {
    // Act
    const answer = await send({ portal: portal.domain, dialogId: 'chat12', botId: 567, ...fields });

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ status: 400, code });
    expect(String(answer.json.detail)).toMatch(code === 'DURATION_INVALID' ? /1 to 600/ : /thinking/);
    expect(portal.calls).toHaveLength(0);
  });
});

describe('coalescing v2 calls', () => {
  it('answers a repeat within the window from the first call, with the time that call still shows', async () => {
    // Prepare
    const { handler } = typingHandler({ TYPING_COALESCE_MS: '10000' });
    const body = { portal: portal.domain, dialogId: 'chat1', botId: 567, durationSeconds: 120, status: 'thinking' };
    await send(body, handler);

    // Act
    const repeat = await send(body, handler);

    // Assess: the first call shows 120 s from at most 10 s ago
    expect(repeat).toEqual({ status: 200, json: { ok: true, indicatorSeconds: 110 } });
    expect(portal.typingCalls()).toHaveLength(1);
  });

  it('passes a changed status through at once', async () => {
    // Prepare
    const { handler } = typingHandler({ TYPING_COALESCE_MS: '10000' });
    const body = { portal: portal.domain, dialogId: 'chat12', botId: 567, durationSeconds: 60 };
    await send({ ...body, status: 'searching' }, handler);

    // Act
    await send({ ...body, status: 'composing' }, handler);

    // Assess
    expect(portal.typingCalls().map((call) => call.params.statusMessageCode)).toEqual([
      'IMBOT_AGENT_ACTION_SEARCHING',
      'IMBOT_AGENT_ACTION_COMPOSING',
    ]);
  });

  it('shows a short indicator again once it has lapsed, though the window has not', async () => {
    // Prepare
    const { handler } = typingHandler({ TYPING_COALESCE_MS: '10000' });
    const body = { portal: portal.domain, dialogId: '27', botId: 567, durationSeconds: 1 };
    await send(body, handler);
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    // Act
    const again = await send(body, handler);

    // Assess
    expect(again).toEqual({ status: 200, json: { ok: true, indicatorSeconds: 1 } });
    expect(portal.typingCalls()).toHaveLength(2);
  });
});
