import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTypingHandler, typingDependencies } from '../../../functions/typing.js';
import { createTypingClient, TypingError } from '../../../lib/client/index.js';
import { startPortal, type FakePortal } from '../../../sandbox/portal/index.js';
import { oauthBotOn, random, webhookBotOn } from '../../../devtools/fixtures.js';
import { httpEvent, lambdaContext } from '../../../devtools/lambda.js';
import { captureLogger } from '../../support/logs.js';
import { recordScenario } from '../../support/report.js';
import { putSecret, readSecret, seedTypingKeys, uniquePrefix } from '../../support/secrets.js';

// A stored refresh token the OAuth server no longer accepts (revoked, expired, or spent by a copy of the secret
// elsewhere): each /typing used to poll Secrets Manager for ~10 s and answer a 504 the typed client retried.
const FILE = 'test/reliability/security/dead-refresh-token.test.ts';

let portal: FakePortal;
beforeAll(async () => {
  portal = await startPortal({ domain: 'dead-token.bitrix24.test' });
});
afterAll(async () => {
  await portal?.close();
});

/** The typed client, its HTTP carried straight into the handler, counting the requests it makes. */
function clientOf(handler: ReturnType<typeof createTypingHandler>, key: string) {
  let requests = 0;
  const fetchIntoHandler: typeof fetch = async (_url, init) => {
    requests += 1;
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const answer = await handler(
      httpEvent({ path: '/typing', body: String(init?.body), headers }),
      lambdaContext(10_000),
    );
    return new Response(answer.body as string, {
      status: answer.statusCode,
      headers: answer.headers as Record<string, string>,
    });
  };
  const client = createTypingClient({ url: 'https://typing.example.test', key, fetch: fetchIntoHandler });
  return { client, requests: () => requests };
}

describe('an OAuth portal whose stored refresh token is dead', () => {
  it('refresh-token-dead: one refresh attempt, PORTAL_REAUTH_REQUIRED within a second, no retry by the typed client', async () => {
    // Prepare: an expired access token, and a refresh token the OAuth server never issued
    const prefix = uniquePrefix();
    const [key] = (await seedTypingKeys(prefix)) as [string];
    const bot = oauthBotOn(portal, 41);
    const secret = { ...bot.secret, oauth: { ...bot.secret.oauth, refreshToken: random(24) } };
    await putSecret(`${prefix}/portals/${portal.domain}`, secret);
    // A warm container: a first request for another portal has loaded the signing keys and the SDK clients.
    const other = await startPortal({ domain: 'warm-up.bitrix24.test' });
    await putSecret(`${prefix}/portals/${other.domain}`, webhookBotOn(other, 39).secret);
    portal.expireAccessTokens();
    portal.resetCalls();
    const capture = captureLogger();
    const handler = createTypingHandler(
      typingDependencies(
        {
          CREDENTIALS_SOURCE: 'secrets-manager',
          SECRETS_PREFIX: prefix,
          TYPING_COALESCE_MS: '0',
          OAUTH_SERVER: portal.oauthServer,
        },
        { logger: capture.logger },
      ),
    );
    const { client, requests } = clientOf(handler, key);
    await client.sendTyping({ portal: other.domain, dialogId: 'chat1' });
    await other.close();
    const send = async () => {
      const started = performance.now();
      const error = await client
        .sendTyping({ portal: portal.domain, dialogId: 'chat7' }, { deadlineMs: 15_000 })
        .catch((e: unknown) => e);
      return { error: error as TypingError, ms: Math.round(performance.now() - started) };
    };

    // Act
    const first = await send();
    const second = await send();

    // Assess
    const refreshes = portal.refreshCalls.map((call) => call.error ?? 'ok');
    recordScenario({
      id: 'faults/refresh-token-dead',
      section: 'Faults',
      scenario:
        'Expired access token whose stored refresh token the OAuth server refuses (invalid_grant), through the typed client',
      sent: 'typed client sendTyping (4 attempts allowed, 15 s deadline) twice, into a warm /typing handler; Secrets Manager on moto',
      got: `${first.error.code} (${first.error.status}) after ${first.ms} ms in ${first.error.attempts} attempt, then ${second.error.code} after ${second.ms} ms; OAuth calls: ${refreshes.join(' ')}`,
      figures: {
        firstMs: first.ms,
        secondMs: second.ms,
        clientRequests: requests() - 1,
        oauthCalls: refreshes.length,
      },
      command: `node scripts/test.mjs ${FILE} -t "refresh-token-dead"`,
      observations: requests() - 1,
    });
    expect(first.error).toBeInstanceOf(TypingError);
    expect(first.error).toMatchObject({
      code: 'PORTAL_REAUTH_REQUIRED',
      status: 502,
      upstreamCode: 'invalid_grant',
      attempts: 1,
      retryable: false,
    });
    expect(first.ms).toBeLessThan(1_000);
    expect(second.error.code).toBe('PORTAL_REAUTH_REQUIRED');
    expect(requests()).toBe(3);
    // One refresh attempt in all: the container remembers the dead token instead of trying it per request.
    expect(refreshes).toEqual(['invalid_grant']);
    expect(portal.calls.filter((call) => call.status === 200)).toEqual([]);
    expect((await readSecret(`${prefix}/portals/${portal.domain}`)).oauth).toEqual(secret.oauth);
  }, 30_000);

  it('refreshes at the configured OAuth server, never at the server_endpoint the stored secret names', async () => {
    // Prepare: the secret names an endpoint of someone else's
    const prefix = uniquePrefix();
    const [key] = (await seedTypingKeys(prefix)) as [string];
    const bot = oauthBotOn(portal, 42);
    const elsewhere = await startPortal({ domain: 'elsewhere.test' });
    try {
      await putSecret(`${prefix}/portals/${portal.domain}`, {
        ...bot.secret,
        oauth: { ...bot.secret.oauth, serverEndpoint: `${elsewhere.url}/rest/` },
      });
      portal.expireAccessTokens();
      portal.resetCalls();
      const handler = createTypingHandler(
        typingDependencies(
          {
            CREDENTIALS_SOURCE: 'secrets-manager',
            SECRETS_PREFIX: prefix,
            TYPING_COALESCE_MS: '0',
            OAUTH_SERVER: portal.oauthServer,
          },
          { logger: captureLogger().logger },
        ),
      );
      const { client } = clientOf(handler, key);

      // Act
      await client.sendTyping({ portal: portal.domain, dialogId: 'chat8', botId: 42 });

      // Assess
      expect(portal.refreshCalls.map((call) => call.ok)).toEqual([true]);
      expect(elsewhere.refreshCalls).toEqual([]);
    } finally {
      await elsewhere.close();
    }
  }, 30_000);
});
