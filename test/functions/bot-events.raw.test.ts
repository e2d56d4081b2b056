/**
 * POST /bitrix/events with bodies exactly as the platform sends them: the files in test/fixtures/events/raw/
 * are the official docs' example events encoded by PHP's own http_build_query (see the README there), read
 * as bytes and handed to the real handler, with no builder of ours in between. A shared misreading of the
 * wire format in our event builder, the loopback portal and the verifier cannot hide here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeHttpTransport, type HttpTransport } from '../../lib/bitrix24/http-transport.js';
import { botEventsDependencies, createBotEventsHandler } from '../../functions/bot-events.js';
import { loadConfig } from '../../lib/config/index.js';
import { EventVerifier } from '../../lib/events/event-verifier.js';
import { Credentials } from '../../lib/portal/index.js';
import { httpEvent, lambdaContext } from '../../devtools/lambda.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { captureLogger } from '../support/logs.js';
import { putSecret, readSecret, uniquePrefix } from '../support/secrets.js';

const DOMAIN = 'some-domain.bitrix24.com';
// The docs' examples name this OAuth application in data[BOT][<id>][client_id].
const DOCS_CLIENT_ID = 'a7eff906dd1d950269258a599214f69e';

const raw = (name: string) => readFileSync(join(process.cwd(), 'test', 'fixtures', 'events', 'raw', `${name}.txt`));

const portals: FakePortal[] = [];
afterEach(async () => {
  await Promise.all(portals.splice(0).map((p) => p.close()));
});

async function loopbackPortal(options: Parameters<typeof startPortal>[0]): Promise<FakePortal> {
  const portal = await startPortal(options);
  portals.push(portal);
  return portal;
}

const env = (prefix: string, extra: Record<string, string> = {}) => ({
  CREDENTIALS_SOURCE: 'secrets-manager',
  SECRETS_PREFIX: prefix,
  TYPING_COALESCE_MS: '0',
  EVENTS_REFUSAL_FLOOR_MS: '0',
  ...extra,
});

/** Delivers the fixture's bytes as API Gateway does (base64) or as a local emulator may (raw). */
async function deliver(handler: ReturnType<typeof createBotEventsHandler>, body: Buffer, base64: boolean) {
  const response = await handler(
    httpEvent({
      path: '/bitrix/events',
      // The bytes are ASCII (http_build_query percent-encodes everything else); httpEvent base64-encodes them.
      body: body.toString('latin1'),
      base64,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }),
    lambdaContext(5_000),
  );
  return { status: response.statusCode, body: JSON.parse(response.body as string) as unknown };
}

/** The docs' portal, served by a loopback portal whose OAuth application owns `botId`, its pair stored. */
async function oauthPortalOf({
  memberId,
  applicationToken,
  botId,
}: {
  memberId: string;
  applicationToken: string;
  botId: number;
}) {
  const portal = await loopbackPortal({ domain: DOMAIN, memberId });
  portal.addApp({ clientId: DOCS_CLIENT_ID, clientSecret: 'docs-example-secret', applicationToken });
  portal.addBot({ botId, appClientId: DOCS_CLIENT_ID });
  const tokens = portal.issueTokens(DOCS_CLIENT_ID);
  const prefix = uniquePrefix();
  await putSecret(`${prefix}/portals/${DOMAIN}`, {
    domain: DOMAIN,
    memberId,
    applicationToken,
    oauth: {
      clientId: DOCS_CLIENT_ID,
      clientSecret: 'docs-example-secret',
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt: tokens.expiresAt,
      clientEndpoint: portal.clientEndpoint,
      serverEndpoint: 'https://oauth.bitrix.info/rest/',
    },
  });
  return { portal, prefix };
}

describe('POST /bitrix/events: documented example bodies, byte for byte', () => {
  // The event's own token is unknown to the loopback portal (invalid_token), so the stored pair makes the call.
  const oauthCases = [
    {
      fixture: 'message-oauth-bot',
      // Sic: the docs' top-level auth[application_token] is 30 characters, unlike the bot's; it is what we store.
      portal: {
        memberId: 'bac1cd5c8940947a75e0d71b1a84e348',
        applicationToken: '831c76b092f9f135d9b66c3a720757',
        botId: 567,
      },
      typing: { BOT_ID: 567, DIALOG_ID: '27' },
    },
    {
      fixture: 'command-oauth-bot',
      portal: {
        memberId: 'd897063e1ce7c5eb9f04b9751eef5915',
        applicationToken: '8e3ab48a764a9b02700e759d59e91125',
        botId: 1291,
      },
      typing: { BOT_ID: 1291, DIALOG_ID: '1269' },
    },
    {
      fixture: 'join-oauth-bot',
      portal: {
        memberId: 'bac1cd5c8940947a75e0d71b1a84e348',
        applicationToken: '831c76b092f9f135d9b6b36c3a720757',
        botId: 571,
      },
      typing: { BOT_ID: 571, DIALOG_ID: 'chat1157' },
    },
  ];
  for (const c of oauthCases)
    for (const base64 of [true, false])
      it(`${c.fixture}: verifies and types for bot ${c.typing.BOT_ID} in dialog ${c.typing.DIALOG_ID} (${base64 ? 'base64' : 'raw'})`, async () => {
        // Prepare
        const { portal, prefix } = await oauthPortalOf(c.portal);
        const handler = createBotEventsHandler(botEventsDependencies(env(prefix), { logger: captureLogger().logger }));
        // Act
        const answer = await deliver(handler, raw(c.fixture), base64);
        // Assess
        expect(answer).toEqual({ status: 200, body: { ok: true } });
        expect(portal.typingCalls().map((call) => call.params)).toEqual([c.typing]);
      });

  it('message-webhook-bot: verifies by CLIENT_ID and types with BOT_ID, DIALOG_ID and CLIENT_ID', async () => {
    // Prepare: a bot registered through an inbound webhook with CLIENT_ID c1e9f3b2a7d84e06b5f1a9c3d7e2b8f4
    const portal = await loopbackPortal({ domain: DOMAIN, memberId: 'bac1cd5c8940947a75e0d71b1a84e348' });
    portal.addBot({ botId: 567, clientId: 'c1e9f3b2a7d84e06b5f1a9c3d7e2b8f4' });
    const prefix = uniquePrefix();
    await putSecret(`${prefix}/portals/${DOMAIN}`, {
      domain: DOMAIN,
      memberId: 'bac1cd5c8940947a75e0d71b1a84e348',
      webhook: { url: portal.addWebhook({ userId: 1 }), clientId: 'c1e9f3b2a7d84e06b5f1a9c3d7e2b8f4' },
    });
    const handler = createBotEventsHandler(botEventsDependencies(env(prefix), { logger: captureLogger().logger }));
    // Act
    const answer = await deliver(handler, raw('message-webhook-bot'), true);
    // Assess
    expect(answer).toEqual({ status: 200, body: { ok: true } });
    expect(portal.typingCalls().map((call) => call.params)).toEqual([
      { BOT_ID: 567, DIALOG_ID: '27', CLIENT_ID: 'c1e9f3b2a7d84e06b5f1a9c3d7e2b8f4' },
    ]);
  });

  /**
   * Installs: our OAuth server (the loopback portal's) knows the example's refresh token and names the portal by
   * its real address; the install check's `fetch` maps that address to loopback.
   */
  async function installScene(example: { memberId: string; accessToken: string; refreshToken: string }) {
    const portal = await loopbackPortal({
      domain: DOMAIN,
      memberId: example.memberId,
      publicEndpoint: `https://${DOMAIN}/rest/`,
    });
    const app = { clientId: 'app.docs-example', clientSecret: 'our-client-secret' };
    portal.addApp(app);
    portal.issueTokens(app.clientId, { accessToken: example.accessToken, refreshToken: example.refreshToken });
    const prefix = uniquePrefix();
    await putSecret(`${prefix}/app`, app);
    const logger = captureLogger().logger;
    const config = loadConfig(env(prefix));
    const credentials = Credentials.fromConfig(config, logger);
    const toLoopback: HttpTransport = (call) =>
      nodeHttpTransport({ ...call, url: String(call.url).replace(`https://${DOMAIN}/`, `${portal.url}/`) });
    const verifier = new EventVerifier({
      credentials,
      logger,
      portalDomains: [],
      unknownLookups: { burst: 10, perSecond: 1 },
      refusalFloorMs: 0,
      install: {
        oauthServer: portal.url,
        allowedDomains: [DOMAIN],
        timeoutMs: 2_000,
        allowLoopbackEndpoints: true,
        transport: toLoopback,
      },
    });
    const handler = createBotEventsHandler(
      botEventsDependencies(env(prefix, { INSTALLS_ENABLED: 'true' }), { logger, credentials, verifier }),
    );
    return { portal, prefix, handler, app };
  }

  it('install: proves the token at our OAuth server and stores the portal with the example application token', async () => {
    // Prepare
    const { portal, prefix, handler } = await installScene({
      memberId: 'a223c6b3710f85df22e9377d6c4f7553',
      accessToken: 's6p6eclrvim6da22ft9ch94ekreb52lv',
      refreshToken: '4s386p3q0tr8dy89xvmt96234v3dljg8',
    });
    // Act
    const answer = await deliver(handler, raw('install'), true);
    // Assess
    expect(answer).toEqual({ status: 200, body: { ok: true } });
    expect(portal.refreshCalls.map((call) => [call.clientId, call.ok])).toEqual([['app.docs-example', true]]);
    const stored = await readSecret(`${prefix}/portals/${DOMAIN}`);
    expect(stored).toMatchObject({
      domain: DOMAIN,
      memberId: 'a223c6b3710f85df22e9377d6c4f7553',
      applicationToken: '51856fefc120afa4b628cc82d3935cce',
      oauth: { clientId: 'app.docs-example', clientEndpoint: `https://${DOMAIN}/rest/` },
    });
  });

  it('update: takes the new application token and pair, and keeps the stored botId', async () => {
    // Prepare: the portal was installed before, with its bot 77 recorded and an older application token.
    const { prefix, handler, app } = await installScene({
      memberId: 'd41d8cd98f00b204e9800998ecf8427e',
      accessToken: 'lh8ze36o8ulgrljbyscr36c7ay5sinva',
      refreshToken: '5f1ih5tsnsb11sc5heg3kp4ywqnjhd09',
    });
    await putSecret(`${prefix}/portals/${DOMAIN}`, {
      domain: DOMAIN,
      memberId: 'd41d8cd98f00b204e9800998ecf8427e',
      applicationToken: '00112233445566778899aabbccddeeff',
      botId: 77,
      oauth: {
        ...app,
        accessToken: 'old-access-token-0000000000000000',
        refreshToken: 'old-refresh-token-000000000000000',
        expiresAt: 1696523400,
        clientEndpoint: `https://${DOMAIN}/rest/`,
        serverEndpoint: 'https://oauth.bitrix.info/rest/',
      },
    });
    // Act
    const answer = await deliver(handler, raw('update'), true);
    // Assess
    expect(answer).toEqual({ status: 200, body: { ok: true } });
    const stored = await readSecret<{ oauth: { refreshToken: string } }>(`${prefix}/portals/${DOMAIN}`);
    expect(stored).toMatchObject({
      memberId: 'd41d8cd98f00b204e9800998ecf8427e',
      applicationToken: 'c917d38f6bdb84e9d9e0bfe9d585be73',
      botId: 77,
    });
    expect(stored.oauth.refreshToken).not.toBe('old-refresh-token-000000000000000');
  });
});
