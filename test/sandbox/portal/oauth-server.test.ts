import { afterEach, describe, expect, it } from 'vitest';
import type { FakePortal } from '../../../sandbox/portal/index.js';
import { closeStartedPortals, getJson, portal, postForm, postJson, seeded } from './portal-scene.js';

afterEach(closeStartedPortals);

describe('OAuth refresh', () => {
  function refreshUrl(p: FakePortal, q: Record<string, string>): string {
    return `${p.oauthUrl}?${new URLSearchParams({ grant_type: 'refresh_token', ...q }).toString()}`;
  }

  it('serves the refresh URL derived from server_endpoint', async () => {
    // Prepare
    const p = await portal();

    // Assess
    expect(new URL('/oauth/token/', p.serverEndpoint).toString()).toBe(p.oauthUrl);
  });

  it('runs on a host of its own, as oauth.bitrix.info is not the portal', async () => {
    // Prepare: old behaviour named the portal itself as server_endpoint and OAuth server.
    const { p, tokens } = await seeded();

    // Act
    const refreshed = await getJson(
      refreshUrl(p, { client_id: 'app.one', client_secret: 's3cret', refresh_token: tokens.refreshToken }),
    );
    const restOnOAuthHost = await postJson(`${p.oauthServer}/rest/profile`, { auth: refreshed.body.access_token });

    // Assess
    expect(new URL(p.serverEndpoint).origin).toBe(p.oauthServer);
    expect(p.oauthServer).not.toBe(p.url);
    expect(refreshed.body.server_endpoint).toBe(`${p.oauthServer}/rest/`);
    expect(restOnOAuthHost.status).toBe(404);
    expect(p.refreshCalls.map((c) => c.host)).toEqual(['oauth']);
  });

  it("answers PAYMENT_REQUIRED once the application's paid period is over, with its description", async () => {
    // Prepare
    const { p, tokens } = await seeded();
    p.expireAppPayment('app.one');

    // Act
    const reply = await getJson(
      refreshUrl(p, { client_id: 'app.one', client_secret: 's3cret', refresh_token: tokens.refreshToken }),
    );

    // Assess: old behaviour issued tokens whatever the application's payment.
    expect(reply.status).toBe(402);
    expect(reply.body).toEqual({ error: 'PAYMENT_REQUIRED', error_description: 'Payment required' });
  });

  it('answers invalid_scope to a refresh asking for more than the application card grants', async () => {
    // Prepare
    const { p, tokens } = await seeded();
    p.setAppScope('app.one', ['imbot']);

    // Act
    const reply = await getJson(
      refreshUrl(p, {
        client_id: 'app.one',
        client_secret: 's3cret',
        refresh_token: tokens.refreshToken,
        scope: 'imbot,crm',
      }),
    );

    // Assess
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ error: 'invalid_scope', error_description: 'Invalid scope' });
  });

  it('rotates the pair: new tokens work, the old access token becomes invalid_token, the old refresh token invalid_grant', async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const refreshed = await getJson(
      refreshUrl(p, { client_id: 'app.one', client_secret: 's3cret', refresh_token: tokens.refreshToken }),
    );
    const oldAccess = await postJson(`${p.clientEndpoint}profile`, { auth: tokens.accessToken });
    const newAccess = await postJson(`${p.clientEndpoint}profile`, { auth: refreshed.body.access_token });
    const reused = await getJson(
      refreshUrl(p, { client_id: 'app.one', client_secret: 's3cret', refresh_token: tokens.refreshToken }),
    );

    // Assess
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      expires: expect.any(Number),
      expires_in: 3600,
      client_endpoint: p.clientEndpoint,
      server_endpoint: p.serverEndpoint,
      member_id: p.memberId,
      scope: expect.any(String),
      status: expect.any(String),
      user_id: 1,
      domain: new URL(p.oauthUrl).host,
    });
    expect(oldAccess.body.error).toBe('invalid_token');
    expect(newAccess.status).toBe(200);
    expect(reused.status).toBe(400);
    expect(reused.body).toEqual({ error: 'invalid_grant', error_description: 'Invalid grant' });
    expect(p.refreshCalls.map((c) => [c.clientId, c.ok, c.error])).toEqual([
      ['app.one', true, undefined],
      ['app.one', false, 'invalid_grant'],
    ]);
    expect(p.calls.every((c) => c.method === 'profile')).toBe(true);
  });

  it('redeems a pair issued with given token values, and names its public endpoint when it has one', async () => {
    // Prepare: the portal of a documented example, reached through loopback but known by its real name
    const p = await portal({
      memberId: 'a223c6b3710f85df22e9377d6c4f7553',
      publicEndpoint: 'https://some-domain.bitrix24.com/rest/',
    });
    p.addApp({ clientId: 'app.one', clientSecret: 's3cret' });
    p.issueTokens('app.one', {
      accessToken: 's6p6eclrvim6da22ft9ch94ekreb52lv',
      refreshToken: '4s386p3q0tr8dy89xvmt96234v3dljg8',
    });

    // Act
    const refreshed = await getJson(
      refreshUrl(p, {
        client_id: 'app.one',
        client_secret: 's3cret',
        refresh_token: '4s386p3q0tr8dy89xvmt96234v3dljg8',
      }),
    );

    // Assess
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({
      client_endpoint: 'https://some-domain.bitrix24.com/rest/',
      member_id: 'a223c6b3710f85df22e9377d6c4f7553',
    });
  });

  it('refreshes after expireAccessTokens() through a form POST', async () => {
    // Prepare
    const { p, tokens } = await seeded();
    p.expireAccessTokens();

    // Act
    const refreshed = await postForm(
      p.oauthUrl,
      new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: 'app.one',
        client_secret: 's3cret',
        refresh_token: tokens.refreshToken,
      }).toString(),
    );
    const call = await postJson(`${p.clientEndpoint}profile`, { auth: refreshed.body.access_token });

    // Assess
    expect(refreshed.status).toBe(200);
    expect(call.status).toBe(200);
  });

  it('answers 401 invalid_client to an unknown client or a wrong secret', async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const unknown = await getJson(
      refreshUrl(p, { client_id: 'nobody', client_secret: 'x', refresh_token: tokens.refreshToken }),
    );
    const badSecret = await getJson(
      refreshUrl(p, { client_id: 'app.one', client_secret: 'wrong', refresh_token: tokens.refreshToken }),
    );

    // Assess
    for (const reply of [unknown, badSecret]) {
      expect(reply.status).toBe(401);
      expect(reply.body).toEqual({ error: 'invalid_client', error_description: 'Invalid client' });
    }
    expect(p.refreshCalls.map((c) => c.error)).toEqual(['invalid_client', 'invalid_client']);
  });

  it("answers invalid_grant to an unknown refresh token and to another app's token", async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const unknown = await getJson(
      refreshUrl(p, { client_id: 'app.one', client_secret: 's3cret', refresh_token: 'nope' }),
    );
    const foreign = await getJson(
      refreshUrl(p, { client_id: 'app.two', client_secret: 'other', refresh_token: tokens.refreshToken }),
    );

    // Assess
    expect([unknown.body.error, foreign.body.error]).toEqual(['invalid_grant', 'invalid_grant']);
  });

  it('resetCalls() forgets calls and refreshes', async () => {
    // Prepare
    const { p, hook } = await seeded();
    await postJson(`${hook}profile`, {});
    await getJson(refreshUrl(p, { client_id: 'x', client_secret: 'y', refresh_token: 'z' }));

    // Act
    p.resetCalls();

    // Assess
    expect(p.calls).toEqual([]);
    expect(p.refreshCalls).toEqual([]);
  });
});
