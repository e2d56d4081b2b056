import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { oauthBotOn, webhookBotOn } from '../../devtools/fixtures.js';
import { httpEvent, lambdaContext, signedTypingEvent } from '../../devtools/lambda.js';
import { putSecret, readSecret, seedTypingKeys, uniquePrefix } from '../support/secrets.js';
import { typingHandlerOn } from '../support/handlers.js';

let portal: FakePortal;
let prefix: string;
let key: string;
let clientId: string;

beforeAll(async () => {
  portal = await startPortal();
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
  const bot = webhookBotOn(portal, 39);
  clientId = bot.clientId;
  await putSecret(`${prefix}/portals/${portal.domain}`, bot.secret);
});
afterAll(async () => {
  await portal.close();
});
beforeEach(() => {
  portal.resetCalls();
});

const typingHandler = (env: Record<string, string> = {}) => typingHandlerOn(prefix, env);

async function call(handler: ReturnType<typeof typingHandler>['handler'], event: ReturnType<typeof httpEvent>) {
  const response = await handler(event, lambdaContext(8_000));
  return { ...response, json: JSON.parse(response.body as string) as Record<string, unknown> };
}

describe('POST /typing', () => {
  it('shows typing with BOT_ID, DIALOG_ID and CLIENT_ID and answers 200 with the ~35 s the indicator shows', async () => {
    // Prepare
    const { handler, records } = typingHandler();
    // Act
    const response = await call(
      handler,
      signedTypingEvent({ portal: portal.domain, dialogId: 'chat12', botId: 39 }, key),
    );
    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.json).toEqual({ ok: true, indicatorSeconds: 35 });
    expect(portal.typingCalls()).toHaveLength(1);
    expect(portal.typingCalls()[0]?.params).toMatchObject({ BOT_ID: 39, DIALOG_ID: 'chat12', CLIENT_ID: clientId });
    const line = records().find((r) => r.message === 'typing sent');
    expect(line).toMatchObject({
      portal: portal.domain,
      dialogId: 'chat12',
      outcome: 'OK',
      status: 200,
      upstreamStatus: 200,
    });
    expect(typeof line?.durationMs).toBe('number');
  });

  it('accepts a body the gateway base64-encoded, verifying the decoded bytes', async () => {
    const { handler } = typingHandler();
    const response = await call(
      handler,
      signedTypingEvent({ portal: portal.domain, dialogId: '27' }, key, { base64: true }),
    );
    expect(response.statusCode).toBe(200);
    expect(portal.typingCalls()).toHaveLength(1);
  });

  it("uses the portal secret's botId when the caller names none", async () => {
    const { handler } = typingHandler();
    await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: '27' }, key));
    expect(portal.typingCalls()[0]?.params).toMatchObject({ BOT_ID: 39 });
  });

  it('accepts a request signed with any live key during a rotation', async () => {
    // Prepare
    const rotating = uniquePrefix();
    const newKey = generateSigningKey();
    await seedTypingKeys(rotating, [key, newKey]);
    await putSecret(`${rotating}/portals/${portal.domain}`, await readSecret(`${prefix}/portals/${portal.domain}`));
    const { handler } = typingHandler({ SECRETS_PREFIX: rotating });
    // Act
    const oldKeyResponse = await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: '27' }, key));
    const newKeyResponse = await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: '27' }, newKey));
    // Assess
    expect([oldKeyResponse.statusCode, newKeyResponse.statusCode]).toEqual([200, 200]);
  });

  describe('refuses, with no portal call', () => {
    const cases: Array<[string, () => ReturnType<typeof httpEvent>, number, string]> = [
      [
        'a signature made with another key',
        () => signedTypingEvent({ portal: 'sandbox.bitrix24.test', dialogId: '27' }, generateSigningKey()),
        401,
        'SIGNATURE_INVALID',
      ],
      [
        'a request without signature headers',
        () => httpEvent({ path: '/typing', body: '{}', headers: { 'content-type': 'application/json' } }),
        401,
        'SIGNATURE_INVALID',
      ],
      [
        'a timestamp 10 minutes old',
        () =>
          signedTypingEvent({ portal: 'sandbox.bitrix24.test', dialogId: '27' }, key, {
            timestamp: Math.floor(Date.now() / 1000) - 600,
          }),
        401,
        'SIGNATURE_INVALID',
      ],
      [
        'a timestamp 10 minutes ahead',
        () =>
          signedTypingEvent({ portal: 'sandbox.bitrix24.test', dialogId: '27' }, key, {
            timestamp: Math.floor(Date.now() / 1000) + 600,
          }),
        401,
        'SIGNATURE_INVALID',
      ],
      ['a body that is not JSON', () => signedTypingEvent('portal=x', key), 400, 'BODY_INVALID'],
      [
        'a dialogId of the wrong type',
        () => signedTypingEvent({ portal: 'sandbox.bitrix24.test', dialogId: ['27'] }, key),
        400,
        'BODY_INVALID',
      ],
      ['a missing dialogId', () => signedTypingEvent({ portal: 'sandbox.bitrix24.test' }, key), 400, 'DIALOG_ID_EMPTY'],
      [
        'an empty dialogId',
        () => signedTypingEvent({ portal: 'sandbox.bitrix24.test', dialogId: '' }, key),
        400,
        'DIALOG_ID_EMPTY',
      ],
      [
        'a malformed dialogId',
        () => signedTypingEvent({ portal: 'sandbox.bitrix24.test', dialogId: 'chat-1' }, key),
        400,
        'DIALOG_ID_INVALID',
      ],
      [
        'a malformed botId',
        () => signedTypingEvent({ portal: 'sandbox.bitrix24.test', dialogId: '27', botId: -4 }, key),
        400,
        'BOT_ID_INVALID',
      ],
      [
        'a portal without a secret',
        () => signedTypingEvent({ portal: 'unknown.bitrix24.com', dialogId: '27' }, key),
        404,
        'PORTAL_UNKNOWN',
      ],
      [
        'a body over 16 KiB',
        () => signedTypingEvent({ portal: 'sandbox.bitrix24.test', dialogId: '27', pad: 'x'.repeat(16 * 1024) }, key),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      [
        'a form-encoded body',
        () => ({
          ...signedTypingEvent('portal=a', key),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
    ];
    it.each(cases)('%s', async (_name, event, status, code) => {
      const { handler } = typingHandler();
      const response = await call(handler, event());
      expect(response.statusCode).toBe(status);
      expect(response.headers['content-type']).toBe('application/problem+json');
      expect(response.json).toMatchObject({ status, code });
      expect(typeof response.json.title).toBe('string');
      expect(typeof response.json.detail).toBe('string');
      expect(portal.calls).toHaveLength(0);
    });
  });

  it('answers 400, not 500, when an emulator hands a falsy JSON body over as a non-string (schemathesis finding)', async () => {
    const { handler } = typingHandler();
    const event = signedTypingEvent('false', key);
    const response = await call(handler, { ...event, body: false as unknown as string });
    expect(response.statusCode).toBe(400);
    expect(response.json.code).toBe('BODY_INVALID');
  });

  it('answers a repeated webhook-id with the first answer and makes no second portal call', async () => {
    // Prepare
    const { handler, records } = typingHandler();
    const event = signedTypingEvent({ portal: portal.domain, dialogId: '27' }, key);
    // Act
    const first = await call(handler, event);
    const repeat = await call(handler, event);
    // Assess
    expect([first.statusCode, repeat.statusCode]).toEqual([200, 200]);
    expect(repeat.body).toBe(first.body);
    expect(portal.typingCalls()).toHaveLength(1);
    expect(records().filter((r) => r.replayed === true)).toHaveLength(1);
  });

  it('answers 20 concurrent copies of one request alike with one portal call', async () => {
    // Prepare
    const { handler } = typingHandler();
    const event = signedTypingEvent({ portal: portal.domain, dialogId: 'chat31' }, key);
    portal.script('imbot.chat.sendTyping', [{ delayMs: 300 }]);
    // Act
    const answers = await Promise.all(Array.from({ length: 20 }, () => call(handler, event)));
    // Assess
    expect(answers.map((a) => a.statusCode)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((a) => a.body))).toEqual(new Set(['{"ok":true,"indicatorSeconds":35}']));
    expect(portal.typingCalls()).toHaveLength(1);
  });

  it('refuses the same webhook-id with another body as 409 WEBHOOK_ID_REUSED, with no portal call', async () => {
    // Prepare
    const { handler } = typingHandler();
    const id = `msg_reused_${Date.now()}`;
    await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: '27' }, key, { id }));
    portal.resetCalls();
    // Act
    const reused = await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: '28' }, key, { id }));
    // Assess
    expect(reused.statusCode).toBe(409);
    expect(reused.json.code).toBe('WEBHOOK_ID_REUSED');
    expect(portal.typingCalls()).toHaveLength(0);
  });

  it('lets a sender retry the same webhook-id after a failed attempt', async () => {
    const { handler } = typingHandler();
    const event = signedTypingEvent({ portal: portal.domain, dialogId: '27' }, key);
    portal.script('imbot.chat.sendTyping', [
      { status: 500, body: { error: 'INTERNAL_SERVER_ERROR', error_description: 'oops' } },
    ]);
    const failed = await call(handler, event);
    const retried = await call(handler, event);
    expect([failed.statusCode, retried.statusCode]).toEqual([502, 200]);
  });

  it('maps a bot the portal does not know to 404 BOT_ID_ERROR', async () => {
    const { handler } = typingHandler();
    const response = await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: '27', botId: 777 }, key));
    expect(response.statusCode).toBe(404);
    expect(response.json).toMatchObject({ code: 'BOT_ID_ERROR', upstreamCode: 'BOT_ID_ERROR' });
  });

  it('retries two QUERY_LIMIT_EXCEEDED answers and then answers 200', async () => {
    const { handler } = typingHandler();
    const limited = { status: 503, body: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' } };
    portal.script('imbot.chat.sendTyping', [limited, limited]);
    const response = await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: '27' }, key));
    expect(response.statusCode).toBe(200);
    expect(portal.typingCalls()).toHaveLength(1);
  });

  it('answers 429 with Retry-After when the portal keeps rate-limiting', async () => {
    const { handler } = typingHandler({ BITRIX24_MAX_ATTEMPTS: '2' });
    const limited = { status: 503, body: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' } };
    portal.script('imbot.chat.sendTyping', [limited, limited]);
    const response = await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: '27' }, key));
    expect(response.statusCode).toBe(429);
    expect(response.json.code).toBe('UPSTREAM_RATE_LIMITED');
    expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('answers 502 UPSTREAM_ERROR for another portal error and 504 UPSTREAM_TIMEOUT for a slow portal', async () => {
    const { handler } = typingHandler({ BITRIX24_TIMEOUT_MS: '200' });
    portal.script('imbot.chat.sendTyping', [
      { status: 403, body: { error: 'ACCESS_DENIED', error_description: 'no' } },
      { delayMs: 1_000 },
    ]);
    const denied = await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: '27' }, key));
    const slow = await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: '27' }, key));
    expect([denied.statusCode, denied.json.code]).toEqual([502, 'UPSTREAM_ERROR']);
    expect([slow.statusCode, slow.json.code]).toEqual([504, 'UPSTREAM_TIMEOUT']);
  });

  it('coalesces repeated requests for one dialog inside the window into one portal call, all answered 200', async () => {
    // Prepare: the default window (10 s)
    const { handler, records } = typingHandler({ TYPING_COALESCE_MS: '10000' });
    // Act
    const answers = [];
    for (let i = 0; i < 5; i += 1)
      answers.push(await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: 'chat77' }, key)));
    await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: 'chat78' }, key));
    // Assess
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(portal.typingCalls().map((c) => c.params.DIALOG_ID)).toEqual(['chat77', 'chat78']);
    expect(records().filter((r) => r.coalesced === true)).toHaveLength(4);
  });

  it('refreshes an expired OAuth token once, stores the new pair and answers 200', async () => {
    // Prepare
    const oauthPrefix = uniquePrefix();
    await seedTypingKeys(oauthPrefix, [key]);
    const bot = oauthBotOn(portal, 41);
    await putSecret(`${oauthPrefix}/portals/${portal.domain}`, bot.secret);
    portal.expireAccessTokens();
    const { handler, lines } = typingHandler({ SECRETS_PREFIX: oauthPrefix, OAUTH_SERVER: portal.oauthServer });
    // Act
    const response = await call(handler, signedTypingEvent({ portal: portal.domain, dialogId: 'chat5' }, key));
    // Assess
    expect(response.statusCode).toBe(200);
    // At the OAuth server's own host, as on the platform, not at the portal.
    expect(portal.refreshCalls.filter((r) => r.clientId === bot.clientId).map((r) => r.host)).toEqual(['oauth']);
    const stored = await readSecret<typeof bot.secret>(`${oauthPrefix}/portals/${portal.domain}`);
    expect(stored.oauth.refreshToken).not.toBe(bot.secret.oauth.refreshToken);
    for (const secret of [stored.oauth.accessToken, stored.oauth.refreshToken, bot.clientSecret, key]) {
      expect(lines.join('\n')).not.toContain(secret);
    }
  });
});
