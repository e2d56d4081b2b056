import { afterEach, describe, expect, it } from 'vitest';
import { decodePhpForm, startPortal, type FakePortal, type PortalCall, type PortalOptions } from './bitrix24-portal.js';

const open: FakePortal[] = [];

async function portal(opts?: PortalOptions): Promise<FakePortal> {
  const started = await startPortal(opts);
  open.push(started);
  return started;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
});

interface Reply {
  status: number;
  contentType: string | null;
  body: Record<string, unknown>;
}

async function postJson(url: string, params: Record<string, unknown>): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), body: (await res.json()) as Record<string, unknown> };
}

async function postForm(url: string, form: string): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  return { status: res.status, contentType: res.headers.get('content-type'), body: (await res.json()) as Record<string, unknown> };
}

async function getJson(url: string): Promise<Reply> {
  const res = await fetch(url);
  return { status: res.status, contentType: res.headers.get('content-type'), body: (await res.json()) as Record<string, unknown> };
}

/** A portal with one OAuth app owning bot 7, one webhook bot 9 and an inbound webhook. */
async function seeded(opts?: PortalOptions) {
  const p = await portal(opts);
  p.addApp({ clientId: 'app.one', clientSecret: 's3cret' });
  p.addApp({ clientId: 'app.two', clientSecret: 'other' });
  p.addBot({ botId: 7, appClientId: 'app.one' });
  p.addBot({ botId: 9, clientId: 'hook-client-id' });
  const hook = p.addWebhook({ userId: 1, code: 'abc123' });
  const tokens = p.issueTokens('app.one');
  return { p, hook, tokens };
}

describe('routes and envelopes', () => {
  it('answers an OAuth call with the result envelope and the JSON content type', async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const reply = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, { auth: tokens.accessToken, BOT_ID: 7, DIALOG_ID: '27' });

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.contentType).toBe('application/json; charset=utf-8');
    expect(reply.body.result).toBe(true);
    expect(reply.body.time).toMatchObject({
      start: expect.any(Number),
      finish: expect.any(Number),
      duration: expect.any(Number),
      processing: expect.any(Number),
      date_start: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/),
      date_finish: expect.any(String),
    });
  });

  it('accepts the .json suffix, any letter case, auth in the query string and a GET', async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const reply = await getJson(`${p.clientEndpoint}IMBOT.Chat.SENDTYPING.json?auth=${tokens.accessToken}&DIALOG_ID=chat1157`);

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.body.result).toBe(true);
    expect(p.calls[0]).toMatchObject({ method: 'imbot.chat.sendTyping', via: 'oauth', status: 200, userId: 1 });
  });

  it('decodes a PHP-style form body through an inbound webhook', async () => {
    // Prepare
    const { p, hook } = await seeded();

    // Act
    const reply = await postForm(`${hook}imbot.chat.sendTyping.json`, 'BOT_ID=9&DIALOG_ID=27&CLIENT_ID=hook-client-id');

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.body.result).toBe(true);
    expect(p.typingCalls()).toHaveLength(1);
    expect(p.typingCalls()[0]).toMatchObject({ via: 'webhook', userId: 1, params: { BOT_ID: '9', DIALOG_ID: '27' } });
  });

  it('decodes nested and list keys the way PHP does', () => {
    // Act
    const decoded = decodePhpForm('PROPERTIES%5BNAME%5D=Bot&data[PARAMS][DIALOG_ID]=27&list[]=a&list[]=b&__proto__[x]=1');

    // Assess
    expect(decoded).toEqual({ PROPERTIES: { NAME: 'Bot' }, data: { PARAMS: { DIALOG_ID: '27' } }, list: { 0: 'a', 1: 'b' } });
  });

  it('answers 404 ERROR_METHOD_NOT_FOUND for an unknown method, before checking auth', async () => {
    // Prepare
    const p = await portal();

    // Act
    const reply = await postJson(`${p.clientEndpoint}crm.deal.nothing`, {});

    // Assess
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ error: 'ERROR_METHOD_NOT_FOUND', error_description: 'Method not found!' });
    expect(p.calls[0]).toMatchObject({ method: 'crm.deal.nothing', status: 404, error: 'ERROR_METHOD_NOT_FOUND' });
  });

  it('keeps the access token out of the recorded params and calls onCall for every call', async () => {
    // Prepare
    const seen: PortalCall[] = [];
    const { p, tokens } = await seeded({ onCall: (call) => seen.push(call) });

    // Act
    await postJson(`${p.clientEndpoint}profile`, { auth: tokens.accessToken });

    // Assess
    expect(seen).toHaveLength(1);
    expect(seen[0]?.params).toEqual({});
    expect(p.calls).toEqual(seen);
  });
});

describe('authentication', () => {
  it('answers 401 NO_AUTH_FOUND to an OAuth call without auth', async () => {
    // Prepare
    const p = await portal();

    // Act
    const reply = await postJson(`${p.clientEndpoint}profile`, {});

    // Assess
    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('NO_AUTH_FOUND');
  });

  it('answers 401 invalid_token to an unknown access token', async () => {
    // Prepare
    const p = await portal();

    // Act
    const reply = await postJson(`${p.clientEndpoint}profile`, { auth: 'nope' });

    // Assess
    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('invalid_token');
  });

  it('answers 401 expired_token once the token outlives its lifetime', async () => {
    // Prepare
    const { p } = await seeded();
    const tokens = p.issueTokens('app.one', { expiresInSeconds: 0 });

    // Act
    const reply = await postJson(`${p.clientEndpoint}profile`, { auth: tokens.accessToken });

    // Assess
    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('expired_token');
  });

  it('answers 401 expired_token to every issued token after expireAccessTokens()', async () => {
    // Prepare
    const { p, tokens } = await seeded();
    const before = await postJson(`${p.clientEndpoint}profile`, { auth: tokens.accessToken });

    // Act
    p.expireAccessTokens();
    const after = await postJson(`${p.clientEndpoint}profile`, { auth: tokens.accessToken });

    // Assess
    expect(before.status).toBe(200);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('expired_token');
  });

  it('refuses an unknown webhook code with INVALID_CREDENTIALS', async () => {
    // Prepare
    const p = await portal();
    p.addWebhook({ userId: 1, code: 'right' });

    // Act
    const reply = await postJson(`${p.url}/rest/1/wrong/profile.json`, {});

    // Assess
    expect(reply.status).toBe(401);
    expect(reply.body).toEqual({ error: 'INVALID_CREDENTIALS', error_description: 'Invalid request credentials' });
  });
});

describe('imbot.chat.sendTyping', () => {
  it('answers DIALOG_ID_EMPTY when the dialog is missing or not a dialog id', async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const missing = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, { auth: tokens.accessToken, BOT_ID: 7 });
    const bogus = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, { auth: tokens.accessToken, BOT_ID: 7, DIALOG_ID: 'room 5' });

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
    const reply = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, { auth: tokens.accessToken, BOT_ID: 404, DIALOG_ID: '27' });

    // Assess
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ error: 'BOT_ID_ERROR', error_description: 'Bot not found' });
  });

  it('answers APP_ID_ERROR for a bot registered by another application or client id', async () => {
    // Prepare
    const { p, hook, tokens } = await seeded();

    // Act
    const oauthOnWebhookBot = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, { auth: tokens.accessToken, BOT_ID: 9, DIALOG_ID: '27' });
    const wrongClientId = await postJson(`${hook}imbot.chat.sendTyping`, { BOT_ID: 9, DIALOG_ID: '27', CLIENT_ID: 'someone-else' });

    // Assess
    for (const reply of [oauthOnWebhookBot, wrongClientId]) {
      expect(reply.status).toBe(400);
      expect(reply.body).toEqual({ error: 'APP_ID_ERROR', error_description: 'Bot was installed by another rest application' });
    }
  });

  it('picks the first bot of the calling application when BOT_ID is omitted', async () => {
    // Prepare
    const { p, tokens } = await seeded();
    const otherTokens = p.issueTokens('app.two');

    // Act
    const owner = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, { auth: tokens.accessToken, DIALOG_ID: '27' });
    const botless = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, { auth: otherTokens.accessToken, DIALOG_ID: '27' });

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
    const typing = await postJson(`${hook}imbot.chat.sendTyping`, { BOT_ID: reply.body.result, DIALOG_ID: '27', CLIENT_ID: 'cid42' });

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
    const reply = await postJson(`${p.clientEndpoint}imbot.register`, { auth: tokens.accessToken, CODE: 'b2', ...handlers, PROPERTIES: { NAME: 'B2' } });

    // Assess
    expect(reply.status).toBe(200);
    expect(p.bots.get(reply.body.result as number)).toMatchObject({ appClientId: 'app.two', handlers: { EVENT_BOT_DELETE: handlers.EVENT_HANDLER } });
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
});

describe('app.info and profile', () => {
  it('describes the application to an OAuth caller and only scope and license to a webhook', async () => {
    // Prepare
    const { p, hook, tokens } = await seeded();

    // Act
    const viaOauth = await postJson(`${p.clientEndpoint}app.info`, { auth: tokens.accessToken });
    const viaHook = await postJson(`${hook}app.info`, {});
    const me = await postJson(`${hook}profile`, {});

    // Assess
    expect(Object.keys(viaOauth.body.result as object)).toEqual(expect.arrayContaining(['ID', 'CODE', 'VERSION', 'STATUS', 'INSTALLED']));
    expect(Object.keys(viaHook.body.result as object).sort()).toEqual(['LICENSE', 'SCOPE']);
    expect(me.body.result).toMatchObject({ ID: '1' });
  });
});

describe('rate limit', () => {
  it('answers 503 QUERY_LIMIT_EXCEEDED past the burst and records the refusal', async () => {
    // Prepare
    const { hook, p } = await seeded({ burst: 3, drainPerSecond: 0.001 });

    // Act
    const replies: Reply[] = [];
    for (let i = 0; i < 4; i++) replies.push(await postJson(`${hook}profile`, {}));

    // Assess
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 503]);
    expect(replies[3]?.body.error).toBe('QUERY_LIMIT_EXCEEDED');
    expect(p.calls[3]).toMatchObject({ status: 503, error: 'QUERY_LIMIT_EXCEEDED' });
  });

  it('lets calls through again once the bucket drains', async () => {
    // Prepare
    const { hook } = await seeded({ burst: 2, drainPerSecond: 20 });
    await postJson(`${hook}profile`, {});
    await postJson(`${hook}profile`, {});
    const refused = await postJson(`${hook}profile`, {});

    // Act
    await new Promise((resolve) => setTimeout(resolve, 150));
    const later = await postJson(`${hook}profile`, {});

    // Assess
    expect(refused.status).toBe(503);
    expect(later.status).toBe(200);
  });

  it('lets scripted responses bypass the bucket', async () => {
    // Prepare
    const { hook, p } = await seeded({ burst: 1, drainPerSecond: 0.001 });
    await postJson(`${hook}profile`, {});
    p.script('profile', [{ status: 200, body: { result: 'scripted' } }]);

    // Act
    const reply = await postJson(`${hook}profile`, {});

    // Assess
    expect(reply.body.result).toBe('scripted');
  });
});

describe('scripted responses and latency', () => {
  it('serves scripted answers in order for the named method, then resumes normal handling', async () => {
    // Prepare
    const { p, tokens } = await seeded();
    p.script('imbot.chat.sendTyping', [
      { status: 500, body: { error: 'INTERNAL_SERVER_ERROR', error_description: 'boom' } },
      { status: 502, body: '<html>Bad Gateway</html>', headers: { 'Content-Type': 'text/html' } },
    ]);
    const call = () => fetch(`${p.clientEndpoint}imbot.chat.sendTyping`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth: tokens.accessToken, DIALOG_ID: '27' }) });

    // Act
    const first = await call();
    const second = await call();
    const third = await call();

    // Assess
    expect(first.status).toBe(500);
    expect(second.status).toBe(502);
    expect(await second.text()).toBe('<html>Bad Gateway</html>');
    expect(second.headers.get('content-type')).toBe('text/html');
    expect(third.status).toBe(200);
    expect(p.calls.map((c) => [c.status, c.error])).toEqual([[500, 'INTERNAL_SERVER_ERROR'], [502, undefined], [200, undefined]]);
  });

  it("applies '*' scripts to any method", async () => {
    // Prepare
    const { hook, p } = await seeded();
    p.script('*', [{ status: 503, body: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' } }]);

    // Act
    const reply = await postJson(`${hook}app.info`, {});

    // Assess
    expect(reply.status).toBe(503);
  });

  it('resets the connection without answering', async () => {
    // Prepare
    const { hook, p } = await seeded();
    p.script('profile', [{ reset: true }]);

    // Act
    const attempt = fetch(`${hook}profile`, { method: 'POST' });

    // Assess
    await expect(attempt).rejects.toThrow();
    expect(p.calls[0]).toMatchObject({ status: 0, error: 'ECONNRESET' });
  });

  it('answers a slow scripted call late without holding up other requests', async () => {
    // Prepare
    const { hook, p } = await seeded();
    p.script('app.info', [{ delayMs: 400, then: { status: 200, body: { result: 'slow' } } }]);

    // Act
    const started = Date.now();
    const slow = postJson(`${hook}app.info`, {}).then((r) => ({ r, at: Date.now() - started }));
    const fast = await postJson(`${hook}profile`, {});
    const fastAt = Date.now() - started;
    const { r, at } = await slow;

    // Assess
    expect(fast.status).toBe(200);
    expect(fastAt).toBeLessThan(300);
    expect(r.body.result).toBe('slow');
    expect(at).toBeGreaterThanOrEqual(390);
  });

  it('delays normal answers by the latency set', async () => {
    // Prepare
    const { hook, p } = await seeded();
    p.setLatency(200);

    // Act
    const started = Date.now();
    const reply = await postJson(`${hook}profile`, {});

    // Assess
    expect(reply.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('closes promptly even with an answer still pending', async () => {
    // Prepare
    const { hook, p } = await seeded();
    p.script('profile', [{ delayMs: 10_000 }]);
    const pending = fetch(`${hook}profile`, { method: 'POST' }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));

    // Act
    const started = Date.now();
    await p.close();

    // Assess
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('OAuth refresh', () => {
  function refreshUrl(p: FakePortal, q: Record<string, string>): string {
    return `${p.oauthUrl}?${new URLSearchParams({ grant_type: 'refresh_token', ...q }).toString()}`;
  }

  it('serves the refresh URL derived from server_endpoint', async () => {
    // Prepare
    const p = await portal();

    // Assess
    expect(new URL('/oauth/token/', p.serverEndpoint).toString()).toBe(p.oauthUrl);
  });

  it('rotates the pair: new tokens work, the old access token becomes invalid_token, the old refresh token invalid_grant', async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const refreshed = await getJson(refreshUrl(p, { client_id: 'app.one', client_secret: 's3cret', refresh_token: tokens.refreshToken }));
    const oldAccess = await postJson(`${p.clientEndpoint}profile`, { auth: tokens.accessToken });
    const newAccess = await postJson(`${p.clientEndpoint}profile`, { auth: refreshed.body.access_token });
    const reused = await getJson(refreshUrl(p, { client_id: 'app.one', client_secret: 's3cret', refresh_token: tokens.refreshToken }));

    // Assess
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      expires: expect.any(Number),
      expires_in: 3600,
      client_endpoint: p.clientEndpoint,
      server_endpoint: p.serverEndpoint,
      member_id: p.memberId,
      scope: expect.any(String),
      status: expect.any(String),
      user_id: 1,
      domain: new URL(p.oauthUrl).host,
    });
    expect(oldAccess.body.error).toBe('invalid_token');
    expect(newAccess.status).toBe(200);
    expect(reused.status).toBe(400);
    expect(reused.body).toEqual({ error: 'invalid_grant' });
    expect(p.refreshCalls.map((c) => [c.clientId, c.ok, c.error])).toEqual([['app.one', true, undefined], ['app.one', false, 'invalid_grant']]);
    expect(p.calls.every((c) => c.method === 'profile')).toBe(true);
  });

  it('refreshes after expireAccessTokens() through a form POST', async () => {
    // Prepare
    const { p, tokens } = await seeded();
    p.expireAccessTokens();

    // Act
    const refreshed = await postForm(p.oauthUrl, new URLSearchParams({ grant_type: 'refresh_token', client_id: 'app.one', client_secret: 's3cret', refresh_token: tokens.refreshToken }).toString());
    const call = await postJson(`${p.clientEndpoint}profile`, { auth: refreshed.body.access_token });

    // Assess
    expect(refreshed.status).toBe(200);
    expect(call.status).toBe(200);
  });

  it('answers 401 invalid_client to an unknown client or a wrong secret', async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const unknown = await getJson(refreshUrl(p, { client_id: 'nobody', client_secret: 'x', refresh_token: tokens.refreshToken }));
    const badSecret = await getJson(refreshUrl(p, { client_id: 'app.one', client_secret: 'wrong', refresh_token: tokens.refreshToken }));

    // Assess
    for (const reply of [unknown, badSecret]) {
      expect(reply.status).toBe(401);
      expect(reply.body).toEqual({ error: 'invalid_client' });
    }
    expect(p.refreshCalls.map((c) => c.error)).toEqual(['invalid_client', 'invalid_client']);
  });

  it("answers invalid_grant to an unknown refresh token and to another app's token", async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const unknown = await getJson(refreshUrl(p, { client_id: 'app.one', client_secret: 's3cret', refresh_token: 'nope' }));
    const foreign = await getJson(refreshUrl(p, { client_id: 'app.two', client_secret: 'other', refresh_token: tokens.refreshToken }));

    // Assess
    expect([unknown.body.error, foreign.body.error]).toEqual(['invalid_grant', 'invalid_grant']);
  });

  it('resetCalls() forgets calls and refreshes', async () => {
    // Prepare
    const { p, hook } = await seeded();
    await postJson(`${hook}profile`, {});
    await getJson(refreshUrl(p, { client_id: 'x', client_secret: 'y', refresh_token: 'z' }));

    // Act
    p.resetCalls();

    // Assess
    expect(p.calls).toEqual([]);
    expect(p.refreshCalls).toEqual([]);
  });
});
