import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import {
  encodeForm,
  installEvent,
  joinEvent,
  messageEvent,
  withField,
  type EventFields,
  type EventPortal,
} from '../support/bot-events.js';
import { oauthBotOn, random, webhookBotOn } from '../../devtools/fixtures.js';
import { startOffline, type OfflineService } from '../support/offline.js';
import { putSecret, readSecret, uniquePrefix } from '../support/secrets.js';

// The acceptance run of the bot-events issue: `npm start`, Secrets Manager on moto, loopback portals.
let webhookPortal: FakePortal;
let oauthPortal: FakePortal;
let installPortal: FakePortal;
let service: OfflineService;
let prefix: string;
let webhook: ReturnType<typeof webhookBotOn>;
let oauth: ReturnType<typeof oauthBotOn>;
let app: { clientId: string; clientSecret: string };

beforeAll(async () => {
  webhookPortal = await startPortal({ domain: 'webhook.bitrix24.test' });
  oauthPortal = await startPortal({ domain: 'oauth.bitrix24.test' });
  installPortal = await startPortal({ domain: '127.0.0.1' });
  prefix = uniquePrefix();
  webhook = webhookBotOn(webhookPortal, 39);
  oauth = oauthBotOn(oauthPortal, 41);
  app = { clientId: `app.${random(6)}`, clientSecret: random(20) };
  installPortal.addApp(app);
  installPortal.addBot({ botId: 90, appClientId: app.clientId });
  await putSecret(`${prefix}/portals/${webhookPortal.domain}`, webhook.secret);
  await putSecret(`${prefix}/portals/${oauthPortal.domain}`, oauth.secret);
  await putSecret(`${prefix}/app`, app);
  service = await startOffline({
    CREDENTIALS_SOURCE: 'secrets-manager',
    TYPING_COALESCE_MS: '0',
    SECRETS_PREFIX: prefix,
    INSTALLS_ENABLED: 'true',
    INSTALL_ALLOWED_DOMAINS: '127.0.0.1',
    OAUTH_SERVER: installPortal.oauthServer,
  });
});
afterAll(async () => {
  await service?.stop();
  await Promise.all([webhookPortal?.close(), oauthPortal?.close(), installPortal?.close()]);
});
beforeEach(() => {
  for (const p of [webhookPortal, oauthPortal, installPortal]) p.resetCalls();
});

async function deliver(fields: EventFields) {
  const response = await fetch(`${service.url}/bitrix/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: encodeForm(fields),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const webhookSender = (): EventPortal => ({
  domain: webhookPortal.domain,
  memberId: webhookPortal.memberId,
  clientEndpoint: 'https://elsewhere.example/rest/',
  applicationToken: webhook.clientId,
});
const oauthSender = (): EventPortal => ({
  domain: oauthPortal.domain,
  memberId: oauthPortal.memberId,
  clientEndpoint: 'https://elsewhere.example/rest/',
  applicationToken: oauth.applicationToken,
});

describe('POST /bitrix/events through serverless-offline', () => {
  it('a webhook bot message makes one sendTyping call with the event BOT_ID, DIALOG_ID and the CLIENT_ID', async () => {
    const response = await deliver(messageEvent(webhookSender(), { botId: 39 }, { dialogId: 'chat12' }));
    expect(response).toEqual({ status: 200, json: { ok: true } });
    expect(webhookPortal.typingCalls()).toHaveLength(1);
    expect(webhookPortal.typingCalls()[0]?.params).toEqual({
      BOT_ID: 39,
      DIALOG_ID: 'chat12',
      CLIENT_ID: webhook.clientId,
    });
  });

  it('an OAuth bot message uses the event bot token against the stored endpoint; a join likewise', async () => {
    const token = oauthPortal.issueTokens(oauth.clientId).accessToken;
    await deliver(messageEvent(oauthSender(), { botId: 41, accessToken: token }, { dialogId: '27' }));
    await deliver(joinEvent(oauthSender(), { botId: 41, accessToken: token }, { dialogId: 'chat77' }));
    expect(oauthPortal.typingCalls().map((c) => [c.via, c.params.BOT_ID, c.params.DIALOG_ID])).toEqual([
      ['oauth', 41, '27'],
      ['oauth', 41, 'chat77'],
    ]);
  });

  it('a wrong application_token, an unknown domain or a wrong member_id answers 401 with no portal call', async () => {
    const event = messageEvent(webhookSender(), { botId: 39 });
    const results = await Promise.all([
      deliver(withField(event, 'auth[application_token]', random(16))),
      deliver(withField(event, 'auth[domain]', 'stranger.bitrix24.com')),
      deliver(withField(event, 'auth[member_id]', random(16))),
    ]);
    expect(results.map((r) => [r.status, r.json.code])).toEqual([
      [401, 'EVENT_UNVERIFIED'],
      [401, 'EVENT_UNVERIFIED'],
      [401, 'EVENT_UNVERIFIED'],
    ]);
    expect(webhookPortal.calls).toHaveLength(0);
  });

  it('the same MESSAGE_ID twice makes one portal call', async () => {
    const event = messageEvent(webhookSender(), { botId: 39 }, { messageId: '424242' });
    await deliver(event);
    await deliver(event);
    expect(webhookPortal.typingCalls()).toHaveLength(1);
  });

  it('a forged install stores nothing; a genuine one creates the secret and the next event verifies', async () => {
    const applicationToken = random(16);
    const sender: EventPortal = {
      domain: '127.0.0.1',
      memberId: installPortal.memberId,
      clientEndpoint: `${installPortal.url}/rest/`,
      applicationToken,
    };
    const forged = await deliver(installEvent(sender, { accessToken: random(20), refreshToken: random(20) }));
    expect(forged.status).toBe(401);
    await expect(readSecret(`${prefix}/portals/127.0.0.1`)).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });

    const genuine = await deliver(installEvent(sender, installPortal.issueTokens(app.clientId)));
    expect(genuine.status).toBe(200);
    expect(await readSecret(`${prefix}/portals/127.0.0.1`)).toMatchObject({
      applicationToken,
      memberId: installPortal.memberId,
    });

    const next = await deliver(
      messageEvent(sender, { botId: 90, accessToken: installPortal.issueTokens(app.clientId).accessToken }),
    );
    expect(next.status).toBe(200);
    expect(installPortal.typingCalls()).toHaveLength(1);
  });
});
