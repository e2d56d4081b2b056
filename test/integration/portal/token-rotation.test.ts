import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPortalClient } from '../../../lib/portal/portal-client.js';
import { createRestClient } from '../../../lib/bitrix24/rest-client.js';
import { Credentials } from '../../../lib/portal/index.js';
import { createSecretsManagerStore } from '../../../lib/secrets/secrets-manager-store.js';
import { Deadline } from '../../../lib/deadline/index.js';
import { ServiceError } from '../../../lib/errors/index.js';
import { versionKey } from '../../../lib/portal/credentials.js';
import { sendTyping } from '../../../lib/imbot/send-typing.js';
import { startPortal, type FakePortal } from '../../../sandbox/portal/index.js';
import { oauthBotOn } from '../../../devtools/fixtures.js';
import { captureLogger } from '../../support/logs.js';
import { putSecret, readSecret, uniquePrefix } from '../../support/secrets.js';

let portal: FakePortal;
beforeEach(async () => {
  portal = await startPortal();
});
afterEach(async () => {
  await portal.close();
});

/** One "container": its own credentials cache and REST client, sharing only Secrets Manager with the others. */
function container(prefix: string) {
  const { logger, lines } = captureLogger();
  const credentials = new Credentials(createSecretsManagerStore({ timeoutMs: 2_000 }), prefix, logger, {
    ttlMs: 60_000,
    staleMs: 60_000,
    allowLoopbackEndpoints: true,
  });
  const rest = createRestClient({ timeoutMs: 2_000, maxAttempts: 3, backoffBaseMs: 20 });
  const oauthServer = portal.url;
  return {
    credentials,
    lines,
    portals: createPortalClient({ rest, credentials, logger, timeoutMs: 2_000, oauthServer }),
  };
}

describe('OAuth token rotation', () => {
  it('refreshes an expired access token once, stores the rotated pair and retries the call', async () => {
    // Prepare
    const prefix = uniquePrefix();
    const { secret } = oauthBotOn(portal, 41);
    await putSecret(`${prefix}/portals/${portal.domain}`, secret);
    portal.expireAccessTokens();
    const c = container(prefix);
    const stored = (await c.credentials.portal(portal.domain))!;
    // Act
    const outcome = await sendTyping(c.portals, { portal: stored, dialogId: 'chat12' }, Deadline.in(8_000));
    // Assess
    expect(outcome.refreshed).toBe(true);
    expect(portal.refreshCalls).toHaveLength(1);
    expect(portal.typingCalls()).toHaveLength(1);
    const after = await readSecret<typeof secret>(`${prefix}/portals/${portal.domain}`);
    expect(after.oauth.refreshToken).not.toBe(secret.oauth.refreshToken);
    expect(after.oauth.accessToken).not.toBe(secret.oauth.accessToken);
    expect(c.lines.join('\n')).not.toContain(after.oauth.accessToken);
  });

  it('with two containers refreshing at once, makes one refresh and both calls succeed with the stored pair valid', async () => {
    // Prepare
    const prefix = uniquePrefix();
    const { secret } = oauthBotOn(portal, 41);
    await putSecret(`${prefix}/portals/${portal.domain}`, secret);
    portal.expireAccessTokens();
    const a = container(prefix);
    const b = container(prefix);
    const [pa, pb] = await Promise.all([a.credentials.portal(portal.domain), b.credentials.portal(portal.domain)]);
    // Act
    const results = await Promise.all([
      sendTyping(a.portals, { portal: pa!, dialogId: '27' }, Deadline.in(8_000)),
      sendTyping(b.portals, { portal: pb!, dialogId: '27' }, Deadline.in(8_000)),
    ]);
    // Assess
    expect(results.every((r) => r.refreshed)).toBe(true);
    expect(portal.refreshCalls).toHaveLength(1);
    expect(portal.typingCalls()).toHaveLength(2);
    // The stored refresh token is the live one: a third container can refresh with it.
    portal.expireAccessTokens();
    const c = container(prefix);
    const pc = (await c.credentials.portal(portal.domain))!;
    await expect(sendTyping(c.portals, { portal: pc, dialogId: '27' }, Deadline.in(8_000))).resolves.toMatchObject({
      refreshed: true,
    });
    expect(portal.refreshCalls.filter((r) => r.ok)).toHaveLength(2);
  });

  it('uses a pair another container already stored instead of refreshing again', async () => {
    // Prepare: container A rotates; container B still holds the old pair in its cache
    const prefix = uniquePrefix();
    const { secret } = oauthBotOn(portal, 41);
    await putSecret(`${prefix}/portals/${portal.domain}`, secret);
    const a = container(prefix);
    const b = container(prefix);
    const stale = (await b.credentials.portal(portal.domain))!;
    portal.expireAccessTokens();
    await sendTyping(
      a.portals,
      { portal: (await a.credentials.portal(portal.domain))!, dialogId: '27' },
      Deadline.in(8_000),
    );
    // Act
    const outcome = await sendTyping(b.portals, { portal: stale, dialogId: '27' }, Deadline.in(8_000));
    // Assess
    expect(outcome.refreshed).toBe(true);
    expect(portal.refreshCalls).toHaveLength(1);
  });

  it('sends an event-delivered token to the stored endpoint', async () => {
    // Prepare: the event's token belongs to user 27, the stored pair to user 1; the portal records who called.
    const prefix = uniquePrefix();
    const { secret } = oauthBotOn(portal, 41);
    await putSecret(`${prefix}/portals/${portal.domain}`, secret);
    const c = container(prefix);
    const stored = (await c.credentials.portal(portal.domain))!;
    const eventToken = portal.issueTokens(secret.oauth.clientId, { userId: 27 }).accessToken;
    // Act
    const outcome = await sendTyping(
      c.portals,
      { portal: stored, dialogId: '27', accessToken: eventToken },
      Deadline.in(8_000),
    );
    // Assess
    expect(outcome.refreshed).toBe(false);
    expect(portal.calls.map((call) => [call.userId, call.status])).toEqual([[27, 200]]);
  });

  it('falls back to the stored pair, without a refresh, when the event-delivered token has expired', async () => {
    // Prepare: the event's token (user 27) expired the moment it was issued; the stored pair (user 1) is live.
    const prefix = uniquePrefix();
    const { secret } = oauthBotOn(portal, 41);
    await putSecret(`${prefix}/portals/${portal.domain}`, secret);
    const c = container(prefix);
    const stored = (await c.credentials.portal(portal.domain))!;
    const eventToken = portal.issueTokens(secret.oauth.clientId, { userId: 27, expiresInSeconds: 0 }).accessToken;
    // Act
    const outcome = await sendTyping(
      c.portals,
      { portal: stored, dialogId: '27', accessToken: eventToken },
      Deadline.in(8_000),
    );
    // Assess
    expect(outcome.refreshed).toBe(false);
    expect(portal.calls.map((call) => [call.userId, call.status, call.error])).toEqual([
      [undefined, 401, 'expired_token'],
      [1, 200, undefined],
    ]);
    expect(portal.refreshCalls).toEqual([]);
  });

  it('answers 504 UPSTREAM_TIMEOUT without refreshing once all five claim numbers of the token were taken and released', async () => {
    // Prepare: five earlier attempts on this refresh token each claimed a number and released it after failing.
    const prefix = uniquePrefix();
    const { secret } = oauthBotOn(portal, 41);
    const name = `${prefix}/portals/${portal.domain}`;
    await putSecret(name, secret);
    const c = container(prefix);
    const stored = (await c.credentials.portal(portal.domain))!;
    for (const generation of ['0', '1', '2', '3', '4']) {
      await c.credentials.store.claim(name, versionKey('refresh-claim', secret.oauth.refreshToken, generation), 'peer');
      await c.credentials.store.claim(
        name,
        versionKey('refresh-release', secret.oauth.refreshToken, generation),
        'peer',
      );
    }
    portal.expireAccessTokens();
    // Act
    const started = Date.now();
    const error = await sendTyping(c.portals, { portal: stored, dialogId: '27' }, Deadline.in(8_000)).catch(
      (e: unknown) => e,
    );
    const elapsedMs = Date.now() - started;
    // Assess: a prompt, retryable answer long before the deadline, and the refresh token left unspent.
    expect(error).toBeInstanceOf(ServiceError);
    expect(error).toMatchObject({ code: 'UPSTREAM_TIMEOUT', status: 504, retryAfterSeconds: 1 });
    expect(elapsedMs).toBeLessThan(3_000);
    expect(portal.refreshCalls).toEqual([]);
  });
});
