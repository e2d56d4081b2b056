import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Bitrix24Error } from '../../../lib/bitrix24/errors.js';
import { createRestClient, type RestTarget } from '../../../lib/bitrix24/rest-client.js';
import { Deadline } from '../../../lib/deadline/index.js';
import { startPortal, type FakePortal } from '../../../sandbox/portal/index.js';
import { webhookBotOn, oauthBotOn } from '../../../devtools/fixtures.js';

let portal: FakePortal;
beforeEach(async () => {
  portal = await startPortal();
});
afterEach(async () => {
  await portal.close();
});

const client = (overrides: Partial<Parameters<typeof createRestClient>[0]> = {}) =>
  createRestClient({ timeoutMs: 2_000, maxAttempts: 3, backoffBaseMs: 20, backoffCapMs: 50, ...overrides });

describe('Bitrix24 REST client', () => {
  it('calls a method through an inbound webhook and unwraps the result', async () => {
    // Prepare
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    const target: RestTarget = { kind: 'webhook', url: webhookUrl };
    // Act
    const out = await client().call(
      target,
      'imbot.chat.sendTyping',
      { BOT_ID: 39, DIALOG_ID: 'chat12', CLIENT_ID: clientId },
      Deadline.in(5_000),
    );
    // Assess
    expect(out.result).toBe(true);
    expect(out.attempts).toBe(1);
    expect(portal.typingCalls()).toHaveLength(1);
    expect(portal.typingCalls()[0]?.params).toMatchObject({ BOT_ID: 39, DIALOG_ID: 'chat12', CLIENT_ID: clientId });
  });

  it('calls a method at the OAuth client endpoint with the access token', async () => {
    const { secret } = oauthBotOn(portal, 41);
    const target: RestTarget = {
      kind: 'oauth',
      clientEndpoint: secret.oauth.clientEndpoint,
      accessToken: secret.oauth.accessToken,
    };
    const out = await client().call(
      target,
      'imbot.chat.sendTyping',
      { BOT_ID: 41, DIALOG_ID: '27' },
      Deadline.in(5_000),
    );
    expect(out.result).toBe(true);
    expect(portal.typingCalls()[0]?.via).toBe('oauth');
  });

  it('surfaces a method error with its code and HTTP status', async () => {
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    const error = await client()
      .call(
        { kind: 'webhook', url: webhookUrl },
        'imbot.chat.sendTyping',
        { BOT_ID: 999, DIALOG_ID: '27', CLIENT_ID: clientId },
        Deadline.in(5_000),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Bitrix24Error);
    expect(error).toMatchObject({ code: 'BOT_ID_ERROR', status: 400 });
  });

  it('retries QUERY_LIMIT_EXCEEDED twice and then succeeds', async () => {
    // Prepare
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    const limited = { status: 503, body: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' } };
    portal.script('imbot.chat.sendTyping', [limited, limited]);
    // Act
    const out = await client().call(
      { kind: 'webhook', url: webhookUrl },
      'imbot.chat.sendTyping',
      { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: clientId },
      Deadline.in(5_000),
    );
    // Assess
    expect(out.attempts).toBe(3);
    expect(portal.typingCalls()).toHaveLength(1);
  });

  it('gives up on rate limiting after the configured attempts', async () => {
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    const limited = { status: 503, body: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' } };
    portal.script('imbot.chat.sendTyping', [limited, limited, limited, limited]);
    const error = await client({ maxAttempts: 3 })
      .call(
        { kind: 'webhook', url: webhookUrl },
        'imbot.chat.sendTyping',
        { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: clientId },
        Deadline.in(5_000),
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED', isRateLimited: true });
    expect(portal.calls.filter((c) => c.method === 'imbot.chat.sendTyping')).toHaveLength(3);
  });

  it('never waits for a retry past the deadline', async () => {
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    portal.script('imbot.chat.sendTyping', [
      {
        status: 429,
        body: { error: 'OPERATION_TIME_LIMIT', error_description: 'slow down' },
        headers: { 'retry-after': '30' },
      },
    ]);
    const started = Date.now();
    const error = await client({ maxAttempts: 5 })
      .call(
        { kind: 'webhook', url: webhookUrl },
        'imbot.chat.sendTyping',
        { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: clientId },
        Deadline.in(1_000),
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 429, retryAfterSeconds: 30 });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('resends after a connection reset', async () => {
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    portal.script('imbot.chat.sendTyping', [{ reset: true }]);
    const out = await client().call(
      { kind: 'webhook', url: webhookUrl },
      'imbot.chat.sendTyping',
      { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: clientId },
      Deadline.in(5_000),
    );
    expect(out.attempts).toBe(2);
    expect(portal.typingCalls()).toHaveLength(1);
  });

  it('times out a slow portal within the per-call limit', async () => {
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    portal.script('imbot.chat.sendTyping', [{ delayMs: 3_000 }]);
    const error = await client({ timeoutMs: 300 })
      .call(
        { kind: 'webhook', url: webhookUrl },
        'imbot.chat.sendTyping',
        { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: clientId },
        Deadline.in(5_000),
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TIMEOUT' });
  });

  it('treats an HTML error page as an invalid response, not a crash', async () => {
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    portal.script('imbot.chat.sendTyping', [
      { status: 502, body: '<html><body>Bad Gateway</body></html>', headers: { 'content-type': 'text/html' } },
    ]);
    const error = await client()
      .call(
        { kind: 'webhook', url: webhookUrl },
        'imbot.chat.sendTyping',
        { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: clientId },
        Deadline.in(5_000),
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_RESPONSE', status: 502 });
  });

  it('reports an expired access token as expired_token', async () => {
    const { secret } = oauthBotOn(portal, 41);
    portal.expireAccessTokens();
    const error = await client()
      .call(
        { kind: 'oauth', clientEndpoint: secret.oauth.clientEndpoint, accessToken: secret.oauth.accessToken },
        'imbot.chat.sendTyping',
        { DIALOG_ID: '27' },
        Deadline.in(5_000),
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'expired_token', status: 401, isExpiredToken: true });
  });
});
