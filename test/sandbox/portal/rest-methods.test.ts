import { afterEach, describe, expect, it } from 'vitest';
import { closeStartedPortals, postJson, seeded } from './portal-scene.js';

afterEach(closeStartedPortals);

describe('app.info and profile', () => {
  it('describes the application to an OAuth caller and only scope and license to a webhook', async () => {
    // Prepare
    const { p, hook, tokens } = await seeded();

    // Act
    const viaOauth = await postJson(`${p.clientEndpoint}app.info`, { auth: tokens.accessToken });
    const viaHook = await postJson(`${hook}app.info`, {});
    const me = await postJson(`${hook}profile`, {});

    // Assess
    expect(Object.keys(viaOauth.body.result as object)).toEqual(
      expect.arrayContaining(['ID', 'CODE', 'VERSION', 'STATUS', 'INSTALLED']),
    );
    expect(Object.keys(viaHook.body.result as object).sort()).toEqual(['LICENSE', 'SCOPE']);
    expect(me.body.result).toMatchObject({ ID: '1' });
  });
});
