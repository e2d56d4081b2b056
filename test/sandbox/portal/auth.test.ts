import { afterEach, describe, expect, it } from 'vitest';
import { closeStartedPortals, portal, postJson, seeded } from './portal-scene.js';

afterEach(closeStartedPortals);

describe('authentication', () => {
  it('answers 401 NO_AUTH_FOUND to an OAuth call without auth', async () => {
    // Prepare
    const p = await portal();

    // Act
    const reply = await postJson(`${p.clientEndpoint}profile`, {});

    // Assess
    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('NO_AUTH_FOUND');
  });

  it('answers 401 invalid_token to an unknown access token', async () => {
    // Prepare
    const p = await portal();

    // Act
    const reply = await postJson(`${p.clientEndpoint}profile`, { auth: 'nope' });

    // Assess
    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('invalid_token');
  });

  it('answers 401 expired_token once the token outlives its lifetime', async () => {
    // Prepare
    const { p } = await seeded();
    const tokens = p.issueTokens('app.one', { expiresInSeconds: 0 });

    // Act
    const reply = await postJson(`${p.clientEndpoint}profile`, { auth: tokens.accessToken });

    // Assess
    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('expired_token');
  });

  it('answers 401 expired_token to every issued token after expireAccessTokens()', async () => {
    // Prepare
    const { p, tokens } = await seeded();
    const before = await postJson(`${p.clientEndpoint}profile`, { auth: tokens.accessToken });

    // Act
    p.expireAccessTokens();
    const after = await postJson(`${p.clientEndpoint}profile`, { auth: tokens.accessToken });

    // Assess
    expect(before.status).toBe(200);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('expired_token');
  });

  it('refuses an unknown webhook code with INVALID_CREDENTIALS', async () => {
    // Prepare
    const p = await portal();
    p.addWebhook({ userId: 1, code: 'right' });

    // Act
    const reply = await postJson(`${p.url}/rest/1/wrong/profile.json`, {});

    // Assess
    expect(reply.status).toBe(401);
    expect(reply.body).toEqual({ error: 'INVALID_CREDENTIALS', error_description: 'Invalid request credentials' });
  });
});
