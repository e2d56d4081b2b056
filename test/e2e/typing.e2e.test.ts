import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signRequest } from '../../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { oauthBotOn, webhookBotOn } from '../../devtools/fixtures.js';
import { startOffline, type OfflineService } from '../support/offline.js';
import { putSecret, readSecret, seedTypingKeys, uniquePrefix } from '../support/secrets.js';

// The acceptance run of the foundation issue: `npm start` with Secrets Manager on moto, a loopback portal.
let portal: FakePortal;
let oauthPortal: FakePortal;
let service: OfflineService;
let prefix: string;
let key: string;
let webhookBot: ReturnType<typeof webhookBotOn>;
let oauthBot: ReturnType<typeof oauthBotOn>;

beforeAll(async () => {
  portal = await startPortal({ domain: 'webhook.bitrix24.test' });
  oauthPortal = await startPortal({ domain: 'oauth.bitrix24.test' });
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
  webhookBot = webhookBotOn(portal, 39);
  oauthBot = oauthBotOn(oauthPortal, 41);
  await putSecret(`${prefix}/portals/${portal.domain}`, webhookBot.secret);
  await putSecret(`${prefix}/portals/${oauthPortal.domain}`, oauthBot.secret);
  service = await startOffline({
    CREDENTIALS_SOURCE: 'secrets-manager',
    TYPING_COALESCE_MS: '0',
    SECRETS_PREFIX: prefix,
    LOG_LEVEL: 'debug',
    // Refreshes go only to the configured OAuth server: here the OAuth portal's own.
    OAUTH_SERVER: oauthPortal.url,
  });
});
afterAll(async () => {
  await service?.stop();
  await Promise.all([portal?.close(), oauthPortal?.close()]);
});
beforeEach(() => {
  portal.resetCalls();
  oauthPortal.resetCalls();
});

async function postTyping(
  body: unknown,
  options: { key?: string; timestamp?: number; id?: string; headers?: Record<string, string> } = {},
) {
  const text = JSON.stringify(body);
  const signed = signRequest({ body: text, key: options.key ?? key, timestamp: options.timestamp, id: options.id });
  const response = await fetch(`${service.url}/typing`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signed, ...options.headers },
    body: text,
  });
  return {
    status: response.status,
    headers: response.headers,
    json: (await response.json()) as Record<string, unknown>,
  };
}

describe('POST /typing through serverless-offline', () => {
  it('makes exactly one sendTyping call with BOT_ID, DIALOG_ID and CLIENT_ID and answers 200', async () => {
    const response = await postTyping({ portal: portal.domain, dialogId: 'chat12', botId: 39 });
    expect(response).toMatchObject({ status: 200, json: { ok: true } });
    expect(portal.typingCalls()).toHaveLength(1);
    expect(portal.typingCalls()[0]?.params).toMatchObject({
      BOT_ID: 39,
      DIALOG_ID: 'chat12',
      CLIENT_ID: webhookBot.clientId,
    });
  });

  it('refuses a wrong signature and a 10-minute-old timestamp with 401 and no portal call', async () => {
    const forged = await postTyping(
      { portal: portal.domain, dialogId: '27' },
      { key: 'whsec_' + Buffer.alloc(32, 1).toString('base64') },
    );
    const stale = await postTyping(
      { portal: portal.domain, dialogId: '27' },
      { timestamp: Math.floor(Date.now() / 1000) - 600 },
    );
    expect([forged.status, stale.status]).toEqual([401, 401]);
    expect(portal.calls).toHaveLength(0);
  });

  it('answers a repeat of a signed request (same webhook-id, same body) with the first answer and no second portal call', async () => {
    // Prepare
    const body = JSON.stringify({ portal: portal.domain, dialogId: '27' });
    const headers = { 'content-type': 'application/json', ...signRequest({ body, key }) };
    // Act
    const first = await fetch(`${service.url}/typing`, { method: 'POST', headers, body });
    const repeat = await fetch(`${service.url}/typing`, { method: 'POST', headers, body });
    // Assess
    expect([first.status, repeat.status]).toEqual([200, 200]);
    expect([await first.text(), await repeat.text()]).toEqual([
      '{"ok":true,"indicatorSeconds":35}',
      '{"ok":true,"indicatorSeconds":35}',
    ]);
    expect(portal.typingCalls()).toHaveLength(1);
  });

  it('answers the same webhook-id with another signed body 409 WEBHOOK_ID_REUSED, with no portal call', async () => {
    // Prepare: the id has done its work once
    const body = JSON.stringify({ portal: portal.domain, dialogId: '28' });
    const signed = signRequest({ body, key });
    await fetch(`${service.url}/typing`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signed },
      body,
    });
    portal.resetCalls();
    // Act
    const reused = await postTyping({ portal: portal.domain, dialogId: '29' }, { id: signed['webhook-id'] });
    // Assess
    expect(reused).toMatchObject({ status: 409, json: { code: 'WEBHOOK_ID_REUSED' } });
    expect(portal.calls).toHaveLength(0);
  });

  it('answers 400 DIALOG_ID_EMPTY for a missing dialogId, with no portal call', async () => {
    const response = await postTyping({ portal: portal.domain });
    expect(response).toMatchObject({ status: 400, json: { code: 'DIALOG_ID_EMPTY' } });
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(portal.calls).toHaveLength(0);
  });

  it('answers 404 BOT_ID_ERROR for a bot the portal does not know', async () => {
    const response = await postTyping({ portal: portal.domain, dialogId: '27', botId: 4040 });
    expect(response).toMatchObject({ status: 404, json: { code: 'BOT_ID_ERROR' } });
  });

  it('answers 200 after the portal answers 503 QUERY_LIMIT_EXCEEDED twice', async () => {
    const limited = { status: 503, body: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' } };
    portal.script('imbot.chat.sendTyping', [limited, limited]);
    const response = await postTyping({ portal: portal.domain, dialogId: '27' });
    expect(response.status).toBe(200);
    expect(portal.calls.map((c) => c.status)).toEqual([503, 503, 200]);
  });

  it('refreshes an expired OAuth token once, stores the new pair in Secrets Manager and answers 200', async () => {
    oauthPortal.expireAccessTokens();
    const response = await postTyping({ portal: oauthPortal.domain, dialogId: 'chat3' });
    expect(response.status).toBe(200);
    expect(oauthPortal.refreshCalls).toHaveLength(1);
    const stored = await readSecret<typeof oauthBot.secret>(`${prefix}/portals/${oauthPortal.domain}`);
    expect(stored.oauth.refreshToken).not.toBe(oauthBot.secret.oauth.refreshToken);
    expect(oauthPortal.typingCalls()).toHaveLength(1);
  });

  it('never writes a configured secret value to its logs', async () => {
    // Runs last in this file: by now the service has logged successes, refusals, retries and a refresh.
    const stored = await readSecret<typeof oauthBot.secret>(`${prefix}/portals/${oauthPortal.domain}`);
    const secrets = [
      key,
      key.slice('whsec_'.length),
      webhookBot.clientId,
      webhookBot.webhookUrl,
      new URL(webhookBot.webhookUrl).pathname,
      oauthBot.clientSecret,
      oauthBot.secret.oauth.accessToken,
      oauthBot.secret.oauth.refreshToken,
      oauthBot.applicationToken,
      stored.oauth.accessToken,
      stored.oauth.refreshToken,
    ];
    const output = service.output();
    expect(output).toContain('"outcome":"OK"');
    for (const secret of secrets)
      expect(output.includes(secret), `log contains a secret (${secret.slice(0, 4)}…)`).toBe(false);
  });
});
