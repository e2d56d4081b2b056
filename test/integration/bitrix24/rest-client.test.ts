import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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
    // The token travels in the body: a query string would carry it into every access log on the way.
    expect(portal.calls.map((call) => call.defects)).toEqual([undefined]);
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

  const limited = { status: 503, body: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' } };
  const gapsBetween = (calls: Array<{ at: number }>) => calls.slice(1).map((call, i) => call.at - calls[i]!.at);

  it('waits base × 2^(attempt-1) × random() between rate-limited attempts', async () => {
    // Prepare: random() fixed at 0.5, base 200 ms: waits of 100 ms, then 200 ms
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    portal.script('imbot.chat.sendTyping', [limited, limited]);
    // Act
    const out = await client({ backoffBaseMs: 200, backoffCapMs: 1_000, random: () => 0.5 }).call(
      { kind: 'webhook', url: webhookUrl },
      'imbot.chat.sendTyping',
      { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: clientId },
      Deadline.in(5_000),
    );
    // Assess
    const [first, second] = gapsBetween(portal.calls);
    expect(out.attempts).toBe(3);
    expect(first).toBeGreaterThanOrEqual(100);
    expect(first).toBeLessThan(180);
    expect(second).toBeGreaterThanOrEqual(200);
    expect(second).toBeLessThan(280);
  });

  it('never waits longer than the backoff cap', async () => {
    // Prepare: random() at its maximum, base 400 ms, cap 500 ms: waits of 400 ms, then 500 ms (not 800 ms)
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    portal.script('imbot.chat.sendTyping', [limited, limited]);
    // Act
    await client({ backoffBaseMs: 400, backoffCapMs: 500, random: () => 1 }).call(
      { kind: 'webhook', url: webhookUrl },
      'imbot.chat.sendTyping',
      { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: clientId },
      Deadline.in(5_000),
    );
    // Assess
    const [first, second] = gapsBetween(portal.calls);
    expect(first).toBeGreaterThanOrEqual(400);
    expect(first).toBeLessThan(480);
    expect(second).toBeGreaterThanOrEqual(500);
    expect(second).toBeLessThan(580);
  });

  it('honours Retry-After given as an HTTP date: the retry comes no sooner than that instant', async () => {
    // Prepare: a whole second at least 1 s ahead, written as HTTP dates are; no jitter of our own
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    const retryAt = Math.ceil(Date.now() / 1000) * 1000 + 1_000;
    portal.script('imbot.chat.sendTyping', [
      { ...limited, headers: { 'retry-after': new Date(retryAt).toUTCString() } },
    ]);
    // Act
    const out = await client({ random: () => 0 }).call(
      { kind: 'webhook', url: webhookUrl },
      'imbot.chat.sendTyping',
      { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: clientId },
      Deadline.in(5_000),
    );
    // Assess
    expect(out.attempts).toBe(2);
    expect(portal.calls[1]!.at).toBeGreaterThanOrEqual(retryAt);
    expect(portal.calls[1]!.at).toBeLessThan(retryAt + 1_100);
  });

  const bigResult = { result: 'x'.repeat(2 * 1024 * 1024) };

  it('refuses an answer over 1 MiB that declares its length, without retrying', async () => {
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    portal.script('imbot.chat.sendTyping', [{ status: 200, body: bigResult }]);
    const error = await client()
      .call(
        { kind: 'webhook', url: webhookUrl },
        'imbot.chat.sendTyping',
        { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: clientId },
        Deadline.in(5_000),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Bitrix24Error);
    expect(error).toMatchObject({
      code: 'INVALID_RESPONSE',
      status: 200,
      description: 'response too large',
      attempts: 1,
    });
  });

  it('refuses an answer over 1 MiB sent without a length, without retrying', async () => {
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    portal.script('imbot.chat.sendTyping', [{ status: 200, body: bigResult, stream: { chunks: 32, everyMs: 5 } }]);
    const error = await client()
      .call(
        { kind: 'webhook', url: webhookUrl },
        'imbot.chat.sendTyping',
        { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: clientId },
        Deadline.in(5_000),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Bitrix24Error);
    expect(error).toMatchObject({
      code: 'INVALID_RESPONSE',
      status: 200,
      description: 'response too large',
      attempts: 1,
    });
  });

  it('times out a body that arrives too slowly, even though the headers came at once', async () => {
    // Prepare: headers at once, then five pieces 400 ms apart; the per-call limit is 300 ms
    const { webhookUrl, clientId } = webhookBotOn(portal, 39);
    portal.script('imbot.chat.sendTyping', [
      { status: 200, body: { result: true }, stream: { chunks: 5, everyMs: 400 } },
    ]);
    // Act
    const started = Date.now();
    const error = await client({ timeoutMs: 300, maxAttempts: 1 })
      .call(
        { kind: 'webhook', url: webhookUrl },
        'imbot.chat.sendTyping',
        { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: clientId },
        Deadline.in(5_000),
      )
      .catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(Bitrix24Error);
    expect(error).toMatchObject({ code: 'TIMEOUT', status: 200 });
    expect(Date.now() - started).toBeLessThan(700);
  });

  it('does not follow a redirect, so the access token in the body never reaches another host', async () => {
    // Prepare: the portal answers 307 (body and all re-sent, if followed) towards a server that counts requests
    const { secret } = oauthBotOn(portal, 41);
    let captured = 0;
    const elsewhere = createServer((req, res) => {
      captured += 1;
      res.end('{"result":true}');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/rest/imbot.chat.sendTyping.json`;
    portal.script('imbot.chat.sendTyping', [{ redirect: elsewhereUrl, status: 307 }]);
    // Act
    const error = await client()
      .call(
        { kind: 'oauth', clientEndpoint: secret.oauth.clientEndpoint, accessToken: secret.oauth.accessToken },
        'imbot.chat.sendTyping',
        { BOT_ID: 41, DIALOG_ID: '27' },
        Deadline.in(5_000),
      )
      .catch((e: unknown) => e);
    await new Promise<void>((resolve) => elsewhere.close(() => resolve()));
    // Assess
    expect(error).toBeInstanceOf(Bitrix24Error);
    expect(error).toMatchObject({ code: 'PORTAL_MOVED', status: 307, attempts: 1 });
    expect(captured).toBe(0);
  });
});
