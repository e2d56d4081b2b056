import { afterEach, describe, expect, it } from 'vitest';
import { closeStartedPortals, portal, postJson } from './portal-scene.js';

afterEach(closeStartedPortals);

const NOTIFY = 'imbot.v2.Chat.InputAction.notify';
const REGISTER = 'imbot.v2.Bot.register';
const BOT_TOKEN = 'v2-bot-token-0123456789abcdef';

/** A portal with a webhook-owned v2 bot 567 (in chat1 only), an OAuth app's v2 bot 568 and a v1 webhook bot 39. */
async function v2Scene() {
  const p = await portal();
  p.addApp({ clientId: 'app.one', clientSecret: 's3cret' });
  p.addBotV2({ botId: 567, botToken: BOT_TOKEN, chats: ['chat1'] });
  p.addBotV2({ botId: 568, appClientId: 'app.one' });
  p.addBot({ botId: 39, clientId: 'hook-client-id' });
  const hook = p.addWebhook({ userId: 1, code: 'abc123' });
  const tokens = p.issueTokens('app.one');
  return { p, hook, tokens };
}

describe('imbot.v2.Chat.InputAction.notify', () => {
  it('answers {"result": {"result": true}} with the time block for a webhook bot given its botToken', async () => {
    // Prepare
    const { p, hook } = await v2Scene();

    // Act
    const reply = await postJson(`${hook}${NOTIFY}`, {
      botId: 567,
      botToken: BOT_TOKEN,
      dialogId: 'chat1',
      statusMessageCode: 'IMBOT_AGENT_ACTION_THINKING',
      duration: 30,
    });

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.body.result).toEqual({ result: true });
    expect(reply.body.time).toMatchObject({ start: expect.any(Number), finish: expect.any(Number) });
    expect(p.typingCalls()).toHaveLength(1);
    expect(p.typingCalls()[0]).toMatchObject({ method: NOTIFY, via: 'webhook', params: { duration: 30 } });
    expect(p.typingCalls()[0]?.defects).toBeUndefined();
  });

  it('takes an OAuth call for its own application’s bot without a botToken', async () => {
    // Prepare
    const { p, tokens } = await v2Scene();

    // Act
    const reply = await postJson(`${p.clientEndpoint}${NOTIFY}`, {
      auth: tokens.accessToken,
      botId: 568,
      dialogId: '27',
    });

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.body.result).toEqual({ result: true });
  });

  it.each([
    ['no botToken through a webhook', { botId: 567, dialogId: 'chat1' }, 400, 'BOT_TOKEN_NOT_SPECIFIED'],
    ['no botId', { botToken: BOT_TOKEN, dialogId: 'chat1' }, 400, 'BOT_ID_REQUIRED'],
    ['a bot that does not exist', { botId: 404, botToken: BOT_TOKEN, dialogId: 'chat1' }, 400, 'BOT_NOT_FOUND'],
    [
      'another botToken',
      { botId: 567, botToken: 'someone-elses-token', dialogId: 'chat1' },
      403,
      'BOT_OWNERSHIP_ERROR',
    ],
    [
      'a v1 webhook bot (owned by its CLIENT_ID)',
      { botId: 39, botToken: BOT_TOKEN, dialogId: '27' },
      403,
      'BOT_OWNERSHIP_ERROR',
    ],
    ['a group chat the bot is not in', { botId: 567, botToken: BOT_TOKEN, dialogId: 'chat2' }, 403, 'ACCESS_DENIED'],
  ] as const)('refuses %s with %i %s', async (_case, params, status, code) => {
    // Prepare
    const { p, hook } = await v2Scene();

    // Act
    const reply = await postJson(`${hook}${NOTIFY}`, params);

    // Assess
    expect(reply.status).toBe(status);
    expect(reply.body.error).toBe(code);
    expect(typeof reply.body.error_description).toBe('string');
    expect(p.typingCalls()).toHaveLength(0);
  });

  it('refuses an OAuth call for a bot another application registered with BOT_OWNERSHIP_ERROR', async () => {
    // Prepare
    const { p, tokens } = await v2Scene();

    // Act
    const reply = await postJson(`${p.clientEndpoint}${NOTIFY}`, {
      auth: tokens.accessToken,
      botId: 567,
      dialogId: '27',
    });

    // Assess
    expect(reply.status).toBe(403);
    expect(reply.body).toEqual({
      error: 'BOT_OWNERSHIP_ERROR',
      error_description: 'Bot is registered by another application',
    });
  });

  it('notes a duration outside 1–600 s and an unknown status code as defects of the call', async () => {
    // Prepare
    const { p, hook } = await v2Scene();

    // Act
    const reply = await postJson(`${hook}${NOTIFY}`, {
      botId: 567,
      botToken: BOT_TOKEN,
      dialogId: '27',
      duration: 601,
      statusMessageCode: 'IMBOT_AGENT_ACTION_DREAMING',
    });

    // Assess
    expect(reply.status).toBe(200);
    expect(p.calls[0]?.defects).toEqual(['duration outside 1–600', 'unknown statusMessageCode']);
  });
});

describe('imbot.v2.Bot.register', () => {
  it('registers a webhook bot with its botToken and answers the bot and its user as the docs show them', async () => {
    // Prepare
    const { p, hook } = await v2Scene();

    // Act
    const reply = await postJson(`${hook}${REGISTER}`, {
      fields: {
        code: 'support_bot',
        botToken: 'fresh-token-0123456789',
        properties: { name: 'Support Bot' },
        type: 'bot',
        eventMode: 'webhook',
        webhookUrl: 'https://api.example.com/bitrix/events?eventsToken=abc',
      },
    });

    // Assess
    expect(reply.status).toBe(200);
    const result = reply.body.result as { bot: Record<string, unknown>; users: Array<Record<string, unknown>> };
    expect(result.bot).toMatchObject({
      id: 569,
      code: 'support_bot',
      type: 'bot',
      eventMode: 'webhook',
      moduleId: 'rest',
    });
    expect(result.users).toEqual([expect.objectContaining({ id: 569, name: 'Support Bot', bot: true })]);
    expect(p.bots.get(569)).toMatchObject({ api: 'v2', botToken: 'fresh-token-0123456789' });
    // The new bot answers to its token at once.
    const notify = await postJson(`${hook}${NOTIFY}`, {
      botId: 569,
      botToken: 'fresh-token-0123456789',
      dialogId: '27',
    });
    expect(notify.status).toBe(200);
  });

  it('answers the existing bot, unchanged, for a code its owner registered before', async () => {
    // Prepare
    const { hook } = await v2Scene();
    const fields = { code: 'again', botToken: BOT_TOKEN, properties: { name: 'First' } };
    const first = await postJson(`${hook}${REGISTER}`, { fields });

    // Act
    const second = await postJson(`${hook}${REGISTER}`, { fields: { ...fields, properties: { name: 'Second' } } });

    // Assess
    const idOf = (reply: typeof first) => (reply.body.result as { bot: { id: number } }).bot.id;
    expect(idOf(second)).toBe(idOf(first));
    expect((second.body.result as { users: Array<{ name: string }> }).users[0]?.name).toBe('First');
  });

  it.each([
    ['no botToken through a webhook', { code: 'a', properties: { name: 'A' } }, 'BOT_TOKEN_NOT_SPECIFIED'],
    [
      'a botToken over 40 characters',
      { code: 'a', botToken: 'x'.repeat(41), properties: { name: 'A' } },
      'BOT_TOKEN_INVALID_LENGTH',
    ],
    ['no code', { botToken: BOT_TOKEN, properties: { name: 'A' } }, 'BOT_CODE_REQUIRED'],
    ['no name', { code: 'a', botToken: BOT_TOKEN, properties: {} }, 'BOT_PROPERTIES_REQUIRED'],
    ['an unknown type', { code: 'a', botToken: BOT_TOKEN, properties: { name: 'A' }, type: 'B' }, 'BOT_INVALID_TYPE'],
    [
      'an unknown event mode',
      { code: 'a', botToken: BOT_TOKEN, properties: { name: 'A' }, eventMode: 'push' },
      'BOT_INVALID_EVENT_MODE',
    ],
    [
      'webhook mode without a URL',
      { code: 'a', botToken: BOT_TOKEN, properties: { name: 'A' }, eventMode: 'webhook' },
      'BOT_WEBHOOK_URL_REQUIRED',
    ],
    [
      'a URL that is not http(s)',
      { code: 'a', botToken: BOT_TOKEN, properties: { name: 'A' }, eventMode: 'webhook', webhookUrl: 'ftp://x.y/' },
      'BOT_INVALID_CALLBACK',
    ],
    [
      'a code another owner holds',
      { code: 'bot39', botToken: BOT_TOKEN, properties: { name: 'A' } },
      'BOT_CODE_ALREADY_TAKEN',
    ],
  ] as const)('refuses %s with 400 %s', async (_case, fields, code) => {
    // Prepare
    const { hook } = await v2Scene();

    // Act
    const reply = await postJson(`${hook}${REGISTER}`, { fields });

    // Assess
    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe(code);
  });
});
