import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import {
  commandEvent,
  deleteEvent,
  encodeForm,
  installEvent,
  joinEvent,
  messageEvent,
  readFixture,
  withField,
  type EventFields,
  type EventPortal,
} from '../support/bot-events.js';
import { observedBus } from '../support/event-bus.js';
import { oauthBotOn, random, webhookBotOn } from '../../devtools/fixtures.js';
import { httpEvent, lambdaContext } from '../../devtools/lambda.js';
import { putSecret, readSecret, uniquePrefix } from '../support/secrets.js';
import { eventsHandlerOn } from '../support/handlers.js';

let webhookPortal: FakePortal;
let oauthPortal: FakePortal;
let prefix: string;
let webhook: ReturnType<typeof webhookBotOn>;
let oauth: ReturnType<typeof oauthBotOn>;
let webhookSender: EventPortal;
let oauthSender: EventPortal;

beforeAll(async () => {
  webhookPortal = await startPortal({ domain: 'webhook.bitrix24.test' });
  oauthPortal = await startPortal({ domain: 'oauth.bitrix24.test' });
  prefix = uniquePrefix();
  webhook = webhookBotOn(webhookPortal, 39);
  oauth = oauthBotOn(oauthPortal, 41);
  await putSecret(`${prefix}/portals/${webhookPortal.domain}`, webhook.secret);
  await putSecret(`${prefix}/portals/${oauthPortal.domain}`, oauth.secret);
  // What the portals would send: the webhook bot's token is its CLIENT_ID; endpoints are whatever the sender writes.
  webhookSender = {
    domain: webhookPortal.domain,
    memberId: webhookPortal.memberId,
    clientEndpoint: 'https://evil.example/rest/',
    applicationToken: webhook.clientId,
  };
  oauthSender = {
    domain: oauthPortal.domain,
    memberId: oauthPortal.memberId,
    clientEndpoint: 'https://evil.example/rest/',
    applicationToken: oauth.applicationToken,
  };
});
afterAll(async () => {
  await Promise.all([webhookPortal.close(), oauthPortal.close()]);
});
beforeEach(() => {
  webhookPortal.resetCalls();
  oauthPortal.resetCalls();
});

const eventsHandler = (env: Record<string, string> = {}) => eventsHandlerOn(prefix, env);

async function deliver(
  handler: ReturnType<typeof eventsHandler>['handler'],
  fields: EventFields | string,
  options: { base64?: boolean; contentType?: string } = {},
) {
  const body = typeof fields === 'string' ? fields : encodeForm(fields);
  const response = await handler(
    httpEvent({
      path: '/bitrix/events',
      body,
      base64: options.base64,
      headers: { 'content-type': options.contentType ?? 'application/x-www-form-urlencoded' },
    }),
    lambdaContext(5_000),
  );
  return { ...response, json: JSON.parse(response.body as string) as Record<string, unknown> };
}

const webhookBot = { botId: 39 };
const oauthBot = () => ({
  botId: 41,
  accessToken: oauthPortal.issueTokens(oauth.clientId).accessToken,
  clientId: oauth.clientId,
});

describe('POST /bitrix/events: reactions', () => {
  for (const base64 of [false, true]) {
    const encoding = base64 ? 'base64' : 'raw';

    it(`shows typing for a webhook bot's personal-chat message with BOT_ID, DIALOG_ID and CLIENT_ID (${encoding})`, async () => {
      const { handler } = eventsHandler();
      const response = await deliver(handler, messageEvent(webhookSender, webhookBot, { dialogId: '27' }), { base64 });
      expect(response.statusCode).toBe(200);
      expect(response.json).toEqual({ ok: true });
      expect(webhookPortal.typingCalls()).toHaveLength(1);
      expect(webhookPortal.typingCalls()[0]?.params).toMatchObject({
        BOT_ID: 39,
        DIALOG_ID: '27',
        CLIENT_ID: webhook.clientId,
      });
    });

    it(`shows typing for an OAuth bot's group-chat message with the event's bot token at the stored endpoint (${encoding})`, async () => {
      const { handler } = eventsHandler();
      const response = await deliver(handler, messageEvent(oauthSender, oauthBot(), { dialogId: 'chat1157' }), {
        base64,
      });
      expect(response.statusCode).toBe(200);
      expect(oauthPortal.typingCalls()).toHaveLength(1);
      expect(oauthPortal.typingCalls()[0]).toMatchObject({
        via: 'oauth',
        params: { BOT_ID: 41, DIALOG_ID: 'chat1157' },
      });
    });

    it(`shows typing for a command and for a join (${encoding})`, async () => {
      const { handler } = eventsHandler();
      await deliver(handler, commandEvent(webhookSender, webhookBot, { dialogId: '27', messageId: random(3) }), {
        base64,
      });
      await deliver(handler, joinEvent(webhookSender, webhookBot, { dialogId: 'chat5' }), { base64 });
      await deliver(handler, joinEvent(oauthSender, oauthBot(), { dialogId: 'chat6' }), {
        base64,
      });
      expect(webhookPortal.typingCalls().map((c) => c.params.DIALOG_ID)).toEqual(['27', 'chat5']);
      expect(oauthPortal.typingCalls().map((c) => c.params.DIALOG_ID)).toEqual(['chat6']);
    });

    it(`acknowledges a bot deletion without a portal call (${encoding})`, async () => {
      const { handler, records } = eventsHandler();
      const response = await deliver(handler, deleteEvent(webhookSender, webhookBot), { base64 });
      expect(response.statusCode).toBe(200);
      expect(webhookPortal.calls).toHaveLength(0);
      expect(records().at(-1)).toMatchObject({ event: 'ONIMBOTDELETE', deletedBotId: '39' });
    });
  }

  it('parses the documented message example verbatim', async () => {
    // The platform doc's example, re-pointed at a portal we store; every other field as documented.
    const domain = 'some-domain.bitrix24.com';
    const docPrefix = uniquePrefix();
    await putSecret(`${docPrefix}/portals/${domain}`, {
      ...oauth.secret,
      domain,
      memberId: 'bac1cd5c8940947a75e0d71b1a84e348',
      applicationToken: '831c76b092f9f135d9b6b36c3a720757',
    });
    const { handler } = eventsHandler({ SECRETS_PREFIX: docPrefix });
    oauthPortal.addBot({ botId: 567, appClientId: oauth.clientId });
    const response = await deliver(handler, readFixture('message-personal-oauth.txt'));
    expect(response.statusCode).toBe(200);
    // The event's token is unknown to the loopback portal, so the stored pair is used, at the stored endpoint.
    expect(oauthPortal.typingCalls()).toHaveLength(1);
    expect(oauthPortal.typingCalls()[0]?.params).toMatchObject({ BOT_ID: 567, DIALOG_ID: '27' });
  });

  it('makes one portal call for the same MESSAGE_ID delivered twice', async () => {
    const { handler } = eventsHandler();
    const event = messageEvent(webhookSender, webhookBot, { messageId: '555001' });
    const [first, second] = [await deliver(handler, event), await deliver(handler, event)];
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(webhookPortal.typingCalls()).toHaveLength(1);
  });

  it('answers within the budget with 200 when the portal is slow, and logs what to replay', async () => {
    const { handler, records } = eventsHandler({ EVENTS_ANSWER_BUDGET_MS: '1500', BITRIX24_TIMEOUT_MS: '5000' });
    webhookPortal.script('imbot.chat.sendTyping', [{ delayMs: 4_000 }]);
    const started = Date.now();
    const response = await deliver(handler, messageEvent(webhookSender, webhookBot));
    const elapsed = Date.now() - started;
    expect(response.statusCode).toBe(200);
    expect(elapsed).toBeLessThan(2_500);
    const failure = records().find((r) => r.message === 'typing for event failed');
    expect(failure).toMatchObject({
      outcome: 'UPSTREAM_TIMEOUT',
      replay: { portal: webhookPortal.domain, botId: 39, dialogId: '27' },
    });
  });
});

describe('POST /bitrix/events: verification', () => {
  const refused = async (fields: EventFields) => {
    const { handler } = eventsHandler();
    const response = await deliver(handler, fields);
    expect(response.statusCode).toBe(401);
    expect(response.json).toMatchObject({ status: 401, code: 'EVENT_UNVERIFIED' });
    expect(webhookPortal.calls).toHaveLength(0);
    expect(oauthPortal.calls).toHaveLength(0);
    return response;
  };

  it('refuses a wrong application_token', async () => {
    await refused(withField(messageEvent(webhookSender, webhookBot), 'auth[application_token]', random(16)));
  });

  it('refuses an event with no application_token', async () => {
    await refused(withField(messageEvent(oauthSender, oauthBot()), 'auth[application_token]', undefined));
  });

  it('refuses a wrong member_id', async () => {
    await refused(withField(messageEvent(webhookSender, webhookBot), 'auth[member_id]', random(16)));
  });

  it('answers an unknown domain exactly as it answers a wrong token', async () => {
    const unknown = await refused(
      withField(messageEvent(webhookSender, webhookBot), 'auth[domain]', 'unknown.bitrix24.com'),
    );
    const wrong = await refused(withField(messageEvent(webhookSender, webhookBot), 'auth[application_token]', 'x'));
    expect({ ...unknown.json, requestId: undefined }).toEqual({ ...wrong.json, requestId: undefined });
  });

  it('refuses the OAuth token of one portal presented for another', async () => {
    await refused(
      withField(messageEvent(webhookSender, webhookBot), 'auth[application_token]', oauth.applicationToken),
    );
  });
});

describe('POST /bitrix/events: bad requests', () => {
  it('answers 400 for a body that is not an event', async () => {
    const { handler } = eventsHandler();
    expect((await deliver(handler, 'hello=world')).json).toMatchObject({ status: 400, code: 'EVENT_INVALID' });
    expect((await deliver(handler, encodeForm([['event', 'ONIMBOTMESSAGEADD']]))).json.code).toBe('EVENT_INVALID');
  });

  it('answers 400 for nesting deeper than any Bitrix24 event', async () => {
    const { handler } = eventsHandler();
    const response = await deliver(handler, `event=X&auth[domain]=a.b&data${'[a]'.repeat(12)}=1`);
    expect(response.json).toMatchObject({ status: 400, code: 'EVENT_INVALID' });
  });

  it('answers 413 for a body over 128 KiB and 415 for JSON', async () => {
    const { handler } = eventsHandler();
    const big = encodeForm([
      ...messageEvent(webhookSender, webhookBot),
      ['data[PARAMS][MESSAGE]', 'x'.repeat(130 * 1024)],
    ]);
    expect((await deliver(handler, big)).json).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect((await deliver(handler, '{"event":"x"}', { contentType: 'application/json' })).json).toMatchObject({
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
    expect(webhookPortal.calls).toHaveLength(0);
  });
});

describe('POST /bitrix/events: forwarding', () => {
  it('publishes every verified event to the bus without any token, key or CLIENT_ID', async () => {
    // Prepare
    const bus = await observedBus();
    const { handler } = eventsHandler({ EVENT_BUS_NAME: bus.name });
    const bot = oauthBot();
    const event = messageEvent(oauthSender, bot, { dialogId: 'chat9', messageId: '777' });
    // Act
    await deliver(handler, event);
    await deliver(handler, messageEvent(webhookSender, webhookBot, { dialogId: '27' }));
    // Assess
    const received = await bus.received();
    expect(received.map((e) => [e.source, e['detail-type']])).toEqual([
      ['bitrix24.imbot', 'ONIMBOTMESSAGEADD'],
      ['bitrix24.imbot', 'ONIMBOTMESSAGEADD'],
    ]);
    expect(received[0]?.detail).toMatchObject({
      event: 'ONIMBOTMESSAGEADD',
      portal: { domain: oauthPortal.domain },
      data: { PARAMS: { DIALOG_ID: 'chat9', MESSAGE_ID: '777' } },
    });
    const text = JSON.stringify(received);
    const secrets = event.filter(([k]) => /token|client_id/.test(k)).map(([, v]) => v);
    for (const secret of [...secrets, webhook.clientId, bot.accessToken]) expect(text).not.toContain(secret);
  });

  it('still answers 200 when the bus cannot be reached, and logs the failure', async () => {
    const { handler, records } = eventsHandler({ EVENT_BUS_NAME: 'no-such-bus' });
    const response = await deliver(handler, messageEvent(webhookSender, webhookBot));
    expect(response.statusCode).toBe(200);
    expect(webhookPortal.typingCalls()).toHaveLength(1);
    expect(records().some((r) => r.message === 'forwarding to the event bus failed')).toBe(true);
  });
});

describe('POST /bitrix/events: install', () => {
  // The install tests use a portal named by its loopback address, so the OAuth server's client_endpoint host
  // really is the portal's domain, as on a real portal.
  let portal: FakePortal;
  let installPrefix: string;
  let app: { clientId: string; clientSecret: string };
  const env = () => ({
    SECRETS_PREFIX: installPrefix,
    INSTALLS_ENABLED: 'true',
    INSTALL_ALLOWED_DOMAINS: '127.0.0.1',
    OAUTH_SERVER: portal.oauthServer,
  });

  beforeAll(async () => {
    portal = await startPortal({ domain: '127.0.0.1' });
    installPrefix = uniquePrefix();
    app = { clientId: `app.${random(6)}`, clientSecret: random(20) };
    portal.addApp({ ...app, applicationToken: random(16) });
    portal.addBot({ botId: 77, appClientId: app.clientId });
    await putSecret(`${installPrefix}/app`, app);
  });
  afterAll(async () => {
    await portal.close();
  });

  const sender = (applicationToken: string): EventPortal => ({
    domain: '127.0.0.1',
    memberId: portal.memberId,
    clientEndpoint: `${portal.url}/rest/`,
    applicationToken,
  });

  it('stores nothing for a forged install whose refresh token our OAuth server does not know', async () => {
    const { handler } = eventsHandler(env());
    const response = await deliver(
      handler,
      installEvent(sender(random(16)), { accessToken: random(20), refreshToken: random(20) }),
    );
    expect(response.statusCode).toBe(401);
    await expect(readSecret(`${installPrefix}/portals/127.0.0.1`)).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('refuses an install for a domain off the allow-list without calling the OAuth server', async () => {
    const { handler } = eventsHandler({ ...env(), INSTALL_ALLOWED_DOMAINS: '*.bitrix24.com' });
    const tokens = portal.issueTokens(app.clientId);
    const before = portal.refreshCalls.length;
    const response = await deliver(handler, installEvent(sender(random(16)), tokens));
    expect(response.statusCode).toBe(401);
    expect(portal.refreshCalls.length).toBe(before);
  });

  it('refuses an install whose member_id differs from what the OAuth server says', async () => {
    const { handler } = eventsHandler(env());
    const tokens = portal.issueTokens(app.clientId);
    const response = await deliver(
      handler,
      withField(installEvent(sender(random(16)), tokens), 'auth[member_id]', random(16)),
    );
    expect(response.statusCode).toBe(401);
    await expect(readSecret(`${installPrefix}/portals/127.0.0.1`)).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('refuses a genuine token of one portal presented as an install of another domain', async () => {
    // Someone who installed our app on their own portal (here at 127.0.0.1) claims the domain 127.0.0.2.
    const { handler } = eventsHandler({ ...env(), INSTALL_ALLOWED_DOMAINS: '127.0.0.1,127.0.0.2' });
    const tokens = portal.issueTokens(app.clientId);
    const response = await deliver(
      handler,
      withField(installEvent(sender(random(16)), tokens), 'auth[domain]', '127.0.0.2'),
    );
    expect(response.statusCode).toBe(401);
    await expect(readSecret(`${installPrefix}/portals/127.0.0.2`)).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it("stores a genuine install, after which the portal's next event verifies and shows typing", async () => {
    // Prepare
    const { handler } = eventsHandler(env());
    const applicationToken = random(16);
    const tokens = portal.issueTokens(app.clientId);
    // Act
    const installed = await deliver(handler, installEvent(sender(applicationToken), tokens));
    const next = await deliver(
      handler,
      messageEvent(sender(applicationToken), { botId: 77, accessToken: portal.issueTokens(app.clientId).accessToken }),
    );
    // Assess
    expect(installed.statusCode).toBe(200);
    const stored = await readSecret<{
      applicationToken: string;
      memberId: string;
      oauth: { refreshToken: string; clientEndpoint: string };
    }>(`${installPrefix}/portals/127.0.0.1`);
    expect(stored).toMatchObject({
      applicationToken,
      memberId: portal.memberId,
      oauth: { clientEndpoint: `${portal.url}/rest/` },
    });
    expect(stored.oauth.refreshToken).not.toBe(tokens.refreshToken);
    expect(next.statusCode).toBe(200);
    expect(portal.typingCalls().at(-1)?.params).toMatchObject({ BOT_ID: 77, DIALOG_ID: '27' });
  });

  it('ignores install events while installs are disabled: unknown portals get 401', async () => {
    const { handler } = eventsHandler({ SECRETS_PREFIX: uniquePrefix() });
    const response = await deliver(handler, installEvent(sender(random(16)), portal.issueTokens(app.clientId)));
    expect(response.statusCode).toBe(401);
  });
});

describe('POST /bitrix/events: an expired stored pair while installs are off', () => {
  // This function may not write secrets then, so it must never spend the portal's rotating refresh token.
  let portal: FakePortal;
  let pairPrefix: string;
  let bot: ReturnType<typeof oauthBotOn>;
  let sender: EventPortal;
  beforeAll(async () => {
    portal = await startPortal({ domain: 'expired.bitrix24.test' });
    pairPrefix = uniquePrefix();
    bot = oauthBotOn(portal, 41);
    await putSecret(`${pairPrefix}/portals/${portal.domain}`, bot.secret);
    sender = {
      domain: portal.domain,
      memberId: portal.memberId,
      clientEndpoint: 'https://evil.example/rest/',
      applicationToken: bot.applicationToken,
    };
  });
  afterAll(async () => {
    await portal.close();
  });
  const runtime = () => eventsHandler({ SECRETS_PREFIX: pairPrefix, OAUTH_SERVER: portal.oauthServer });

  it('answers 200, logs the expired token for replay and makes no refresh call', async () => {
    // Prepare: the event's bot token and the stored pair have both expired.
    const eventToken = portal.issueTokens(bot.clientId).accessToken;
    portal.expireAccessTokens();
    const { handler, records } = runtime();
    // Act
    const response = await deliver(
      handler,
      messageEvent(sender, { botId: 41, accessToken: eventToken, clientId: bot.clientId }, { dialogId: 'chat7' }),
    );
    // Assess
    expect(response.statusCode).toBe(200);
    expect(portal.refreshCalls).toEqual([]);
    expect(portal.calls.map((call) => call.error)).toEqual(['expired_token', 'expired_token']);
    expect(records().find((r) => r.message === 'typing for event failed')).toMatchObject({
      outcome: 'UPSTREAM_ERROR',
      upstreamCode: 'expired_token',
      replay: { portal: 'expired.bitrix24.test', botId: 41, dialogId: 'chat7' },
    });
    const stored = await readSecret<typeof bot.secret>(`${pairPrefix}/portals/${portal.domain}`);
    expect(stored.oauth.refreshToken).toBe(bot.secret.oauth.refreshToken);
  });

  it('uses the pair a /typing container stored meanwhile, still without a refresh call', async () => {
    // Prepare: this container has the expired pair cached; a peer has since stored a live one.
    const { handler } = runtime();
    portal.expireAccessTokens();
    const expired = portal.issueTokens(bot.clientId).accessToken;
    portal.expireAccessTokens();
    await deliver(handler, messageEvent(sender, { botId: 41, accessToken: expired, clientId: bot.clientId }));
    const live = portal.issueTokens(bot.clientId, { userId: 5 });
    await putSecret(`${pairPrefix}/portals/${portal.domain}`, {
      ...bot.secret,
      oauth: { ...bot.secret.oauth, accessToken: live.accessToken, refreshToken: live.refreshToken },
    });
    portal.resetCalls();
    // Act
    const response = await deliver(
      handler,
      messageEvent(sender, { botId: 41, accessToken: expired, clientId: bot.clientId }, { dialogId: 'chat8' }),
    );
    // Assess: the event's token fails, the cached pair fails, the freshly read pair (user 5) types.
    expect(response.statusCode).toBe(200);
    expect(portal.refreshCalls).toEqual([]);
    expect(portal.calls.map((call) => [call.userId, call.error])).toEqual([
      [undefined, 'expired_token'],
      [undefined, 'expired_token'],
      [5, undefined],
    ]);
  });
});
