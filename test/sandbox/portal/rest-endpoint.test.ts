import { afterEach, describe, expect, it } from 'vitest';
import type { PortalCall } from '../../../sandbox/portal/index.js';
import { closeStartedPortals, getJson, portal, postJson, seeded } from './portal-scene.js';

afterEach(closeStartedPortals);

describe('routes and envelopes', () => {
  it('answers an OAuth call with the result envelope and the JSON content type', async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const reply = await postJson(`${p.clientEndpoint}imbot.chat.sendTyping`, {
      auth: tokens.accessToken,
      BOT_ID: 7,
      DIALOG_ID: '27',
    });

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.contentType).toBe('application/json; charset=utf-8');
    expect(reply.body.result).toBe(true);
    expect(reply.body.time).toMatchObject({
      start: expect.any(Number),
      finish: expect.any(Number),
      duration: expect.any(Number),
      processing: expect.any(Number),
      date_start: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/),
      date_finish: expect.any(String),
    });
  });

  it('accepts the .json suffix, any letter case, auth in the query string and a GET', async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    const reply = await getJson(
      `${p.clientEndpoint}IMBOT.Chat.SENDTYPING.json?auth=${tokens.accessToken}&DIALOG_ID=chat1157`,
    );

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.body.result).toBe(true);
    expect(p.calls[0]).toMatchObject({ method: 'imbot.chat.sendTyping', via: 'oauth', status: 200, userId: 1 });
  });

  it('answers 404 ERROR_METHOD_NOT_FOUND for an unknown method, before checking auth', async () => {
    // Prepare
    const p = await portal();

    // Act
    const reply = await postJson(`${p.clientEndpoint}crm.deal.nothing`, {});

    // Assess
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ error: 'ERROR_METHOD_NOT_FOUND', error_description: 'Method not found!' });
    expect(p.calls[0]).toMatchObject({ method: 'crm.deal.nothing', status: 404, error: 'ERROR_METHOD_NOT_FOUND' });
  });

  it('keeps the access token out of the recorded params and calls onCall for every call', async () => {
    // Prepare
    const seen: PortalCall[] = [];
    const { p, tokens } = await seeded({ onCall: (call) => seen.push(call) });

    // Act
    await postJson(`${p.clientEndpoint}profile`, { auth: tokens.accessToken });

    // Assess
    expect(seen).toHaveLength(1);
    expect(seen[0]?.params).toEqual({});
    expect(p.calls).toEqual(seen);
  });
});
