import { afterEach, describe, expect, it } from 'vitest';
import { closeStartedPortals, postForm, postJson, seeded } from './portal-scene.js';

afterEach(closeStartedPortals);

describe('imbot.chat.sendTyping', () => {
  it('answers DIALOG_ID_EMPTY when the dialog is missing or not a dialog id', async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const missing = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, { auth: tokens.accessToken, BOT_ID: 7 });
    const bogus = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, {
      auth: tokens.accessToken,
      BOT_ID: 7,
      DIALOG_ID: 'room 5',
    });

    // Assess
    for (const reply of [missing, bogus]) {
      expect(reply.status).toBe(400);
      expect(reply.body).toEqual({ error: 'DIALOG_ID_EMPTY', error_description: "Dialog ID can't be empty" });
    }
    expect(p.typingCalls()).toHaveLength(0);
  });

  it('answers 403 ACCESS_DENIED when a webhook call carries no CLIENT_ID', async () => {
    // Prepare
    const { hook } = await seeded();

    // Act
    const reply = await postJson(`${hook}imbot.chat.sendTyping`, { BOT_ID: 9, DIALOG_ID: '27' });

    // Assess
    expect(reply.status).toBe(403);
    expect(reply.body).toEqual({ error: 'ACCESS_DENIED', error_description: 'Access denied! Client ID not specified' });
  });

  it('answers BOT_ID_ERROR for a bot that does not exist', async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const reply = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, {
      auth: tokens.accessToken,
      BOT_ID: 404,
      DIALOG_ID: '27',
    });

    // Assess
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ error: 'BOT_ID_ERROR', error_description: 'Bot not found' });
  });

  it('answers APP_ID_ERROR for a bot registered by another application or client id', async () => {
    // Prepare
    const { p, hook, tokens } = await seeded();

    // Act
    const oauthOnWebhookBot = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, {
      auth: tokens.accessToken,
      BOT_ID: 9,
      DIALOG_ID: '27',
    });
    const wrongClientId = await postJson(`${hook}imbot.chat.sendTyping`, {
      BOT_ID: 9,
      DIALOG_ID: '27',
      CLIENT_ID: 'someone-else',
    });

    // Assess
    for (const reply of [oauthOnWebhookBot, wrongClientId]) {
      expect(reply.status).toBe(400);
      expect(reply.body).toEqual({
        error: 'APP_ID_ERROR',
        error_description: 'Bot was installed by another rest application',
      });
    }
  });

  it('picks the first bot of the calling application when BOT_ID is omitted', async () => {
    // Prepare
    const { p, tokens } = await seeded();
    const otherTokens = p.issueTokens('app.two');

    // Act
    const owner = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, {
      auth: tokens.accessToken,
      DIALOG_ID: '27',
    });
    const botless = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, {
      auth: otherTokens.accessToken,
      DIALOG_ID: '27',
    });

    // Assess
    expect(owner.status).toBe(200);
    expect(botless.status).toBe(400);
    expect(botless.body.error).toBe('BOT_ID_ERROR');
  });
});

describe('imbot.register', () => {
  const handlers = { EVENT_HANDLER: 'https://bot.example.test/events' };

  it('creates a webhook bot with the next id and appends CLIENT_ID to its handler', async () => {
    // Prepare
    const { p, hook } = await seeded();

    // Act
    const reply = await postForm(
      `${hook}imbot.register`,
      'CODE=typing&TYPE=H&EVENT_HANDLER=https%3A%2F%2Fbot.example.test%2Fevents&CLIENT_ID=cid42&PROPERTIES%5BNAME%5D=Typist',
    );
    const typing = await postJson(`${hook}imbot.chat.sendTyping`, {
      BOT_ID: reply.body.result,
      DIALOG_ID: '27',
      CLIENT_ID: 'cid42',
    });

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.body.result).toBe(10);
    expect(p.bots.get(10)).toMatchObject({
      code: 'typing',
      type: 'H',
      clientId: 'cid42',
      handlers: { EVENT_MESSAGE_ADD: 'https://bot.example.test/events?CLIENT_ID=cid42' },
      properties: { NAME: 'Typist' },
    });
    expect(typing.status).toBe(200);
  });

  it('registers an OAuth bot under the calling application', async () => {
    // Prepare
    const { p } = await seeded();
    const tokens = p.issueTokens('app.two');

    // Act
    const reply = await postJson(`${p.clientEndpoint}imbot.register`, {
      auth: tokens.accessToken,
      CODE: 'b2',
      ...handlers,
      PROPERTIES: { NAME: 'B2' },
    });

    // Assess
    expect(reply.status).toBe(200);
    expect(p.bots.get(reply.body.result as number)).toMatchObject({
      appClientId: 'app.two',
      handlers: { EVENT_BOT_DELETE: handlers.EVENT_HANDLER },
    });
  });

  it('answers CODE_ERROR without a code, NAME_ERROR without a name and EVENT_MESSAGE_ADD_ERROR without a handler', async () => {
    // Prepare
    const { hook } = await seeded();

    // Act
    const noCode = await postJson(`${hook}imbot.register`, { CLIENT_ID: 'c', ...handlers, PROPERTIES: { NAME: 'x' } });
    const noName = await postJson(`${hook}imbot.register`, { CLIENT_ID: 'c', CODE: 'x', ...handlers });
    const noHandler = await postJson(`${hook}imbot.register`, { CLIENT_ID: 'c', CODE: 'x', PROPERTIES: { NAME: 'x' } });

    // Assess
    expect([noCode.status, noName.status, noHandler.status]).toEqual([400, 400, 400]);
    expect(noCode.body).toEqual({ error: 'CODE_ERROR', error_description: "Bot code isn't specified" });
    expect(noName.body).toEqual({ error: 'NAME_ERROR', error_description: "Bot name isn't specified" });
    expect(noHandler.body.error).toBe('EVENT_MESSAGE_ADD_ERROR');
  });

  it.each([
    ['a host without a dot', 'https://localhost/events'],
    ['another scheme', 'ftp://bot.example.test/events'],
  ])('refuses a webhook bot whose handler URL has %s (EVENT_MESSAGE_ADD_ERROR)', async (_label, url) => {
    // Prepare: old behaviour registered any parseable URL.
    const { p, hook } = await seeded();

    // Act
    const reply = await postJson(`${hook}imbot.register`, {
      CLIENT_ID: 'c',
      CODE: 'x',
      EVENT_HANDLER: url,
      PROPERTIES: { NAME: 'x' },
    });

    // Assess
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ error: 'EVENT_MESSAGE_ADD_ERROR', error_description: 'Wrong handler URL' });
    expect(p.bots.size).toBe(2);
  });

  it('drops the message update and delete handlers of a B or H bot without open lines, keeps them with OPENLINE=Y', async () => {
    // Prepare
    const { p, hook } = await seeded();
    const base = { CLIENT_ID: 'c', ...handlers, PROPERTIES: { NAME: 'x' } };

    // Act
    const plain = await postJson(`${hook}imbot.register`, { ...base, CODE: 'plain', TYPE: 'B' });
    const lines = await postJson(`${hook}imbot.register`, { ...base, CODE: 'lines', TYPE: 'H', OPENLINE: 'Y' });

    // Assess: old behaviour kept all five for every bot.
    expect(Object.keys(p.bots.get(plain.body.result as number)?.handlers ?? {}).sort()).toEqual([
      'EVENT_BOT_DELETE',
      'EVENT_MESSAGE_ADD',
      'EVENT_WELCOME_MESSAGE',
    ]);
    expect(Object.keys(p.bots.get(lines.body.result as number)?.handlers ?? {})).toContain('EVENT_MESSAGE_UPDATE');
  });

  it('returns the existing bot for a code registered again, making no second bot', async () => {
    // Prepare: old behaviour made a new bot for every call.
    const { p, hook } = await seeded();
    const register = () =>
      postJson(`${hook}imbot.register`, { CLIENT_ID: 'c', CODE: 'same', ...handlers, PROPERTIES: { NAME: 'x' } });

    // Act
    const first = await register();
    const second = await register();

    // Assess
    expect(second.body.result).toBe(first.body.result);
    expect(p.bots.size).toBe(3);
  });
});
