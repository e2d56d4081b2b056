import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import {
  encodeForm,
  installEvent,
  messageEvent,
  withField,
  type EventFields,
  type EventPortal,
} from '../support/bot-events.js';
import { observedBus } from '../support/event-bus.js';
import { oauthBotOn, random, webhookBotOn } from '../../devtools/fixtures.js';
import { startOAuthRouter } from '../../devtools/oauth-router.js';
import { startOffline, type OfflineService } from '../support/offline.js';
import { recordScenario } from '../support/report.js';
import { putSecret, readSecret, seedTypingKeys, uniquePrefix } from '../support/secrets.js';

/**
 * Hostile input against the running service (serverless-offline), then a leak scan over everything this file
 * made the service do: every log line it printed and every response body it sent.
 */
const FILE = 'test/reliability/running-service.e2e.test.ts';
let webhookPortal: FakePortal;
let oauthPortal: FakePortal;
let installPortal: FakePortal;
// The one OAuth server the service refreshes and proves installs at, serving both OAuth portals.
let oauthServer: Awaited<ReturnType<typeof startOAuthRouter>>;
let service: OfflineService;
let prefix: string;
let key: string;
let webhook: ReturnType<typeof webhookBotOn>;
let oauth: ReturnType<typeof oauthBotOn>;
let app: { clientId: string; clientSecret: string };
let bus: Awaited<ReturnType<typeof observedBus>>;
const bodies: string[] = [];
const secrets = new Set<string>();

beforeAll(async () => {
  webhookPortal = await startPortal({ domain: 'webhook.bitrix24.test' });
  oauthPortal = await startPortal({ domain: 'oauth.bitrix24.test' });
  installPortal = await startPortal({ domain: '127.0.0.1' });
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
  webhook = webhookBotOn(webhookPortal, 39);
  oauth = oauthBotOn(oauthPortal, 41);
  app = { clientId: `app.${random(6)}`, clientSecret: random(20) };
  installPortal.addApp(app);
  installPortal.addBot({ botId: 90, appClientId: app.clientId });
  await putSecret(`${prefix}/portals/${webhookPortal.domain}`, webhook.secret);
  await putSecret(`${prefix}/portals/${oauthPortal.domain}`, oauth.secret);
  await putSecret(`${prefix}/app`, app);
  oauthServer = await startOAuthRouter([oauthPortal, installPortal]);
  bus = await observedBus();
  for (const value of [
    key,
    key.slice(6),
    webhook.clientId,
    webhook.webhookUrl,
    new URL(webhook.webhookUrl).pathname,
    oauth.clientSecret,
    oauth.applicationToken,
    oauth.secret.oauth.accessToken,
    oauth.secret.oauth.refreshToken,
    app.clientSecret,
  ]) {
    secrets.add(value);
  }
  service = await startOffline({
    CREDENTIALS_SOURCE: 'secrets-manager',
    TYPING_COALESCE_MS: '0',
    SECRETS_PREFIX: prefix,
    INSTALLS_ENABLED: 'true',
    INSTALL_ALLOWED_DOMAINS: '127.0.0.1',
    OAUTH_SERVER: oauthServer.url,
    EVENT_BUS_NAME: bus.name,
    LOG_LEVEL: 'debug',
    BITRIX24_TIMEOUT_MS: '800',
  });
});
afterAll(async () => {
  await service?.stop();
  await Promise.all([webhookPortal?.close(), oauthPortal?.close(), installPortal?.close(), oauthServer?.close()]);
});

const portalCalls = () => webhookPortal.calls.length + oauthPortal.calls.length + installPortal.calls.length;

async function post(path: string, body: string | Buffer, headers: Record<string, string>) {
  const response = await fetch(`${service.url}${path}`, { method: 'POST', headers, body });
  const text = await response.text();
  bodies.push(text);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // recorded as is; the assertions below say what was expected
  }
  return { status: response.status, json, contentType: response.headers.get('content-type') };
}

const typing = (body: string, headers: Record<string, string> = {}) =>
  post('/typing', body, { 'content-type': 'application/json', ...headers });
const event = (fields: EventFields | string, contentType = 'application/x-www-form-urlencoded') =>
  post(
    '/bitrix/events',
    typeof fields === 'string' ? fields : encodeForm(fields),
    contentType ? { 'content-type': contentType } : {},
  );

describe('hostile input against the running service: each refused with the documented status and no portal call', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const valid = () => JSON.stringify({ portal: webhookPortal.domain, dialogId: '27' });
  const webhookSender = (): EventPortal => ({
    domain: webhookPortal.domain,
    memberId: webhookPortal.memberId,
    clientEndpoint: 'https://x.example/rest/',
    applicationToken: webhook.clientId,
  });
  const cases: Array<{
    id: string;
    route: string;
    sent: string;
    status: number;
    code: string;
    send: () => ReturnType<typeof post>;
  }> = [
    {
      id: 'forged-signature',
      route: '/typing',
      sent: 'signature made with another whsec_ key',
      status: 401,
      code: 'SIGNATURE_INVALID',
      send: () =>
        typing(
          valid(),
          signRequest({ body: valid(), key: 'whsec_' + Buffer.alloc(32, 9).toString('base64') }) as unknown as Record<
            string,
            string
          >,
        ),
    },
    {
      id: 'stale-signature',
      route: '/typing',
      sent: 'valid signature, timestamp 10 min old',
      status: 401,
      code: 'SIGNATURE_INVALID',
      send: () =>
        typing(
          valid(),
          signRequest({ body: valid(), key, timestamp: now() - 600 }) as unknown as Record<string, string>,
        ),
    },
    {
      id: 'future-signature',
      route: '/typing',
      sent: 'valid signature, timestamp 10 min ahead',
      status: 401,
      code: 'SIGNATURE_INVALID',
      send: () =>
        typing(
          valid(),
          signRequest({ body: valid(), key, timestamp: now() + 600 }) as unknown as Record<string, string>,
        ),
    },
    {
      id: 'missing-signature',
      route: '/typing',
      sent: 'no webhook-* headers',
      status: 401,
      code: 'SIGNATURE_INVALID',
      send: () => typing(valid()),
    },
    {
      id: 'tampered-body',
      route: '/typing',
      sent: 'signature of another body',
      status: 401,
      code: 'SIGNATURE_INVALID',
      send: () =>
        typing(valid().replace('27', '28'), signRequest({ body: valid(), key }) as unknown as Record<string, string>),
    },
    {
      id: 'typing-oversized',
      route: '/typing',
      sent: '16 KiB + 1 byte body',
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      send: () => typing('x'.repeat(16 * 1024 + 1)),
    },
    {
      id: 'typing-content-type',
      route: '/typing',
      sent: 'text/plain body',
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      send: () => post('/typing', valid(), { 'content-type': 'text/plain' }),
    },
    {
      id: 'typing-unknown-portal',
      route: '/typing',
      sent: 'signed request for a portal with no secret',
      status: 404,
      code: 'PORTAL_UNKNOWN',
      send: () => {
        const b = JSON.stringify({ portal: 'stranger.bitrix24.com', dialogId: '27' });
        return typing(b, signRequest({ body: b, key }) as unknown as Record<string, string>);
      },
    },
    {
      id: 'typing-bad-json',
      route: '/typing',
      sent: 'signed body that is not JSON',
      status: 400,
      code: 'BODY_INVALID',
      send: () => typing('{"portal":', signRequest({ body: '{"portal":', key }) as unknown as Record<string, string>),
    },
    {
      id: 'event-forged-token',
      route: '/bitrix/events',
      sent: 'message event with a wrong application_token',
      status: 401,
      code: 'EVENT_UNVERIFIED',
      send: () => event(withField(messageEvent(webhookSender(), { botId: 39 }), 'auth[application_token]', random(16))),
    },
    {
      id: 'event-wrong-member',
      route: '/bitrix/events',
      sent: 'message event with the right token and a wrong member_id',
      status: 401,
      code: 'EVENT_UNVERIFIED',
      send: () => event(withField(messageEvent(webhookSender(), { botId: 39 }), 'auth[member_id]', random(16))),
    },
    {
      id: 'event-unknown-portal',
      route: '/bitrix/events',
      sent: 'message event naming a domain with no secret',
      status: 401,
      code: 'EVENT_UNVERIFIED',
      send: () =>
        event(withField(messageEvent(webhookSender(), { botId: 39 }), 'auth[domain]', 'stranger.bitrix24.com')),
    },
    {
      id: 'event-forged-install',
      route: '/bitrix/events',
      sent: 'ONAPPINSTALL with a refresh token our OAuth server never issued',
      status: 401,
      code: 'EVENT_UNVERIFIED',
      send: () =>
        event(
          installEvent(
            {
              domain: '127.0.0.1',
              memberId: installPortal.memberId,
              clientEndpoint: `${installPortal.url}/rest/`,
              applicationToken: random(16),
            },
            { accessToken: random(20), refreshToken: random(20) },
          ),
        ),
    },
    {
      id: 'event-oversized',
      route: '/bitrix/events',
      sent: '128 KiB + 1 byte form body',
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      send: () => event('a=' + 'x'.repeat(128 * 1024 - 1)),
    },
    {
      id: 'event-json',
      route: '/bitrix/events',
      sent: 'application/json body',
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      send: () => event('{"event":"ONIMBOTMESSAGEADD"}', 'application/json'),
    },
    {
      id: 'event-multipart',
      route: '/bitrix/events',
      sent: 'multipart/form-data body',
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      send: () => event('--x\r\n\r\n--x--', 'multipart/form-data; boundary=x'),
    },
    {
      id: 'event-not-an-event',
      route: '/bitrix/events',
      sent: 'form body without event / auth[domain]',
      status: 400,
      code: 'EVENT_INVALID',
      send: () => event('hello=world'),
    },
    {
      id: 'event-too-deep',
      route: '/bitrix/events',
      sent: 'keys nested 12 levels deep',
      status: 400,
      code: 'EVENT_INVALID',
      send: () => event(`event=X&auth[domain]=a.b&data${'[a]'.repeat(12)}=1`),
    },
  ];

  it.each(cases)('$id: $sent → $status $code', async ({ id, route, sent, status, code, send }) => {
    const before = portalCalls();
    const started = performance.now();
    const response = await send();
    const ms = Math.round(performance.now() - started);
    const calls = portalCalls() - before;
    recordScenario({
      id: `hostile/${id}`,
      section: 'Hostile input',
      scenario: `${route}: ${id}`,
      sent,
      got: `${response.status} ${String(response.json.code)}`,
      figures: { portalCalls: calls, ms },
      command: `npm test -- ${FILE} -t "${id}"`,
      // One answer; the row says what it was.
      observations: 1,
    });
    expect(response.status).toBe(status);
    expect(response.json.code).toBe(code);
    expect(response.contentType).toBe('application/problem+json');
    expect(calls).toBe(0);
  });

  it('replayed-id: the same signed request twice → the first answer twice, one portal call', async () => {
    const body = JSON.stringify({ portal: webhookPortal.domain, dialogId: 'chat27' });
    const headers = signRequest({ body, key }) as unknown as Record<string, string>;
    const before = webhookPortal.typingCalls().length;
    const first = await typing(body, headers);
    const second = await typing(body, headers);
    const calls = webhookPortal.typingCalls().length - before;
    recordScenario({
      id: 'hostile/replayed-id',
      section: 'Hostile input',
      scenario: '/typing: replayed-id',
      sent: 'one correctly signed request sent twice',
      got: `${first.status} ${JSON.stringify(first.json)}, then ${second.status} ${JSON.stringify(second.json)}`,
      figures: { portalCalls: calls },
      command: `npm test -- ${FILE} -t "replayed-id"`,
      observations: 2,
    });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect([first.json, second.json]).toEqual([
      { ok: true, indicatorSeconds: 35 },
      { ok: true, indicatorSeconds: 35 },
    ]);
    expect(calls).toBe(1);
  });

  it('reused-id: the same webhook-id with another signed body → 409 WEBHOOK_ID_REUSED, no portal call', async () => {
    const body = JSON.stringify({ portal: webhookPortal.domain, dialogId: 'chat28' });
    const signed = signRequest({ body, key }) as unknown as Record<string, string>;
    const first = await typing(body, signed);
    const other = JSON.stringify({ portal: webhookPortal.domain, dialogId: 'chat29' });
    const before = portalCalls();
    const reused = await typing(
      other,
      signRequest({ body: other, key, id: signed['webhook-id'] }) as unknown as Record<string, string>,
    );
    const calls = portalCalls() - before;
    recordScenario({
      id: 'hostile/reused-id',
      section: 'Hostile input',
      scenario: '/typing: reused-id',
      sent: 'a correctly signed request, then another body signed with the same webhook-id',
      got: `${first.status}, then ${reused.status} ${String(reused.json.code)}`,
      figures: { portalCalls: calls },
      command: `npm test -- ${FILE} -t "reused-id"`,
      observations: 2,
    });
    expect(first.status).toBe(200);
    expect(reused.status).toBe(409);
    expect(reused.json.code).toBe('WEBHOOK_ID_REUSED');
    expect(reused.contentType).toBe('application/problem+json');
    expect(calls).toBe(0);
  });
});

describe('work that touches every secret, for the leak scan', () => {
  it('serves typing on both kinds of portal, refreshes an OAuth pair, installs a portal and forwards events', async () => {
    const sign = (body: string) => signRequest({ body, key }) as unknown as Record<string, string>;
    const webhookBody = JSON.stringify({ portal: webhookPortal.domain, dialogId: 'chat3' });
    expect((await typing(webhookBody, sign(webhookBody))).status).toBe(200);
    oauthPortal.expireAccessTokens();
    const oauthBody = JSON.stringify({ portal: oauthPortal.domain, dialogId: '27' });
    expect((await typing(oauthBody, sign(oauthBody))).status).toBe(200);
    const stored = await readSecret<typeof oauth.secret>(`${prefix}/portals/${oauthPortal.domain}`);
    secrets.add(stored.oauth.accessToken).add(stored.oauth.refreshToken);

    webhookPortal.script('imbot.chat.sendTyping', [
      { status: 500, body: '<html>oops</html>', headers: { 'content-type': 'text/html' } },
    ]);
    const failed = webhookBody.replace('chat3', 'chat4');
    expect((await typing(failed, sign(failed))).status).toBe(502);

    const oauthSender: EventPortal = {
      domain: oauthPortal.domain,
      memberId: oauthPortal.memberId,
      clientEndpoint: 'https://x.example/rest/',
      applicationToken: oauth.applicationToken,
    };
    const botToken = oauthPortal.issueTokens(oauth.clientId).accessToken;
    secrets.add(botToken);
    const message = messageEvent(
      oauthSender,
      { botId: 41, accessToken: botToken, clientId: oauth.clientId },
      { dialogId: 'chat8' },
    );
    for (const [k, v] of message) if (/token|client_id/.test(k)) secrets.add(v);
    expect((await event(message)).status).toBe(200);

    const applicationToken = random(16);
    secrets.add(applicationToken);
    const tokens = installPortal.issueTokens(app.clientId);
    secrets.add(tokens.accessToken).add(tokens.refreshToken);
    const install = installEvent(
      {
        domain: '127.0.0.1',
        memberId: installPortal.memberId,
        clientEndpoint: `${installPortal.url}/rest/`,
        applicationToken,
      },
      tokens,
    );
    expect((await event(install)).status).toBe(200);
    const installed = await readSecret<typeof oauth.secret>(`${prefix}/portals/127.0.0.1`);
    secrets.add(installed.oauth.accessToken).add(installed.oauth.refreshToken);
    expect((await bus.received()).length).toBeGreaterThanOrEqual(2);
  });
});

describe('leak scan', () => {
  it('finds no configured secret value in any log line or response body', async () => {
    // Prepare: everything the service printed, and everything it answered, plus what reached the bus.
    const forwarded = JSON.stringify(await bus.received());
    const lines = service.output().split('\n');
    const haystacks = [...lines, ...bodies, forwarded];
    // Act
    const hits: string[] = [];
    for (const secret of secrets) {
      for (const text of haystacks)
        if (text.includes(secret)) hits.push(`${secret.slice(0, 4)}… in ${text.slice(0, 80)}`);
    }
    // Assess: a scan of no lines, or for no secrets, proves nothing.
    const logged = lines.filter((line) => line.trim() !== '').length;
    recordScenario({
      id: 'leaks/running-service',
      section: 'Leaks',
      scenario: "every secret, every log line and response body of this file's run",
      sent: 'hostile input, typing on webhook and OAuth portals, an OAuth refresh, a 502, events, an install, forwarding',
      got: `${hits.length} hits`,
      figures: {
        secretsChecked: secrets.size,
        logLines: lines.length,
        responseBodies: bodies.length,
        busEvents: (await bus.received()).length,
        hits: hits.length,
      },
      command: `npm test -- ${FILE}`,
      observations: secrets.size === 0 ? 0 : logged,
    });
    expect(lines.filter((line) => line.includes('"outcome"')).length).toBeGreaterThan(10);
    expect(hits).toEqual([]);
  });
});
