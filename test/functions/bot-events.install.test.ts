/**
 * POST /bitrix/events, install events on the paths where they can go wrong: installs switched off, our OAuth
 * server failing or slow while it proves an install, and Secrets Manager refusing to store the pair after the
 * install's refresh token was already spent. Whatever happens, the portal gets a 401 or a 503 with the reason in
 * the log, never a 500.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botEventsDependencies, createBotEventsHandler } from '../../functions/bot-events.js';
import { loadConfig } from '../../lib/config/index.js';
import { Credentials } from '../../lib/portal/index.js';
import { createSecretsManagerStore } from '../../lib/secrets/secrets-manager-store.js';
import { startFaultProxy, type FaultProxy } from '../../devtools/fault-proxy.js';
import { random } from '../../devtools/fixtures.js';
import { httpEvent, lambdaContext } from '../../devtools/lambda.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { encodeForm, installEvent, type EventPortal } from '../support/bot-events.js';
import { captureLogger } from '../support/logs.js';
import { putSecret, readSecret, uniquePrefix } from '../support/secrets.js';

// The portal is named by its loopback address, so the client_endpoint our OAuth server names really is on it.
let portal: FakePortal;
let proxy: FaultProxy;
const app = { clientId: `app.${random(6)}`, clientSecret: random(20) };

beforeAll(async () => {
  portal = await startPortal({ domain: '127.0.0.1' });
  portal.addApp(app);
  portal.addBot({ botId: 77, appClientId: app.clientId });
  proxy = await startFaultProxy(process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER as string);
});
afterAll(async () => {
  await Promise.all([portal.close(), proxy.close()]);
});

/** A prefix of its own holding our application's credentials, and the environment of an installing function. */
async function scene(extra: Record<string, string> = {}) {
  const prefix = uniquePrefix();
  await putSecret(`${prefix}/app`, app);
  portal.resetCalls();
  const env = {
    CREDENTIALS_SOURCE: 'secrets-manager',
    SECRETS_PREFIX: prefix,
    INSTALLS_ENABLED: 'true',
    INSTALL_ALLOWED_DOMAINS: '127.0.0.1',
    OAUTH_SERVER: portal.oauthServer,
    BITRIX24_TIMEOUT_MS: '1000',
    EVENTS_REFUSAL_FLOOR_MS: '0',
    ...extra,
  };
  return { prefix, env, secretName: `${prefix}/portals/127.0.0.1` };
}

const sender: EventPortal = {
  domain: '127.0.0.1',
  memberId: '',
  clientEndpoint: '',
  applicationToken: '9f1c2e7a5b3d4c6e8f0a1b2c3d4e5f60',
};

/** A genuine install: the token pair our OAuth server issued to our application for this portal. */
const genuineInstall = () =>
  encodeForm(
    installEvent(
      { ...sender, memberId: portal.memberId, clientEndpoint: `${portal.url}/rest/` },
      portal.issueTokens(app.clientId),
    ),
  );

async function deliver(handler: ReturnType<typeof createBotEventsHandler>, body: string) {
  const response = await handler(
    httpEvent({ path: '/bitrix/events', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    lambdaContext(5_000),
  );
  return { status: response.statusCode, body: JSON.parse(response.body as string) as Record<string, unknown> };
}

const absent = { name: 'ResourceNotFoundException' };

describe('POST /bitrix/events: install events on their failure paths', () => {
  it('refuses a genuine install with 401 and stores nothing while installs are off, without asking the OAuth server', async () => {
    // Prepare: everything an install needs is in place except the switch.
    const { env, secretName } = await scene({ INSTALLS_ENABLED: 'false' });
    const handler = createBotEventsHandler(botEventsDependencies(env, { logger: captureLogger().logger }));
    // Act
    const answer = await deliver(handler, genuineInstall());
    // Assess
    expect(answer).toMatchObject({ status: 401, body: { code: 'EVENT_UNVERIFIED' } });
    expect(portal.refreshCalls).toEqual([]);
    await expect(readSecret(secretName)).rejects.toMatchObject(absent);
  });

  const reason = 'the OAuth server did not confirm the refresh token';
  it.each([
    [
      'answers 500 with an HTML page',
      { status: 500, body: '<html><body>Internal Server Error</body></html>' },
      { reason, upstreamCode: 'INVALID_RESPONSE' },
    ],
    [
      'answers 503 with a JSON error',
      { status: 503, body: { error: 'temporarily_unavailable' } },
      { reason, upstreamStatus: 503, upstreamCode: 'temporarily_unavailable' },
    ],
    ['does not answer within BITRIX24_TIMEOUT_MS (300 ms)', { delayMs: 2_000 }, { reason, upstreamCode: 'TIMEOUT' }],
  ] as const)('answers 401 with the reason logged, never 500, when our OAuth server %s', async (_, fault, logged) => {
    // Prepare
    const { env, secretName } = await scene({ BITRIX24_TIMEOUT_MS: '300' });
    const capture = captureLogger();
    const handler = createBotEventsHandler(botEventsDependencies(env, { logger: capture.logger }));
    portal.script('/oauth/token/', [fault]);
    // Act
    const answer = await deliver(handler, genuineInstall());
    // Assess
    expect(answer).toMatchObject({ status: 401, body: { code: 'EVENT_UNVERIFIED' } });
    expect(capture.records().find((line) => line.message === 'install refused')).toMatchObject(logged);
    await expect(readSecret(secretName)).rejects.toMatchObject(absent);
  });

  it('answers 503 CREDENTIALS_UNAVAILABLE and logs the event for replay when the pair cannot be stored after the token was spent', async () => {
    // Prepare: this function's Secrets Manager refuses writes of the portal secret (reads of the app secret pass).
    const { env, secretName } = await scene();
    proxy.addRule((r) => r.secretId === secretName && /PutSecretValue|CreateSecret/.test(r.target), 'error500');
    const capture = captureLogger();
    const store = createSecretsManagerStore({
      timeoutMs: 2_000,
      client: new SecretsManagerClient({ endpoint: proxy.url, maxAttempts: 1 }),
    });
    const credentials = Credentials.fromConfig(loadConfig(env), capture.logger, store);
    const handler = createBotEventsHandler(botEventsDependencies(env, { logger: capture.logger, credentials }));
    // Act
    const answer = await deliver(handler, genuineInstall());
    proxy.clearRules();
    // Assess: the token is spent (one good refresh), the pair is lost, and the log says what to replay.
    expect(answer).toMatchObject({ status: 503, body: { code: 'CREDENTIALS_UNAVAILABLE' } });
    expect(portal.refreshCalls.map((call) => call.ok)).toEqual([true]);
    expect(capture.records().find((line) => line.message === 'event failed')).toMatchObject({
      level: 'error',
      outcome: 'CREDENTIALS_UNAVAILABLE',
      replay: { event: 'ONAPPINSTALL', portal: '127.0.0.1' },
    });
    await expect(readSecret(secretName)).rejects.toMatchObject(absent);
  });
});
