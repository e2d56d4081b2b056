import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { cli } from '../support/cli.js';
import { oauthBotOn, webhookBotOn } from '../../devtools/fixtures.js';
import { putSecret, readSecret, uniquePrefix } from '../support/secrets.js';

const EVENTS_URL = 'https://api.example.test/bitrix/events';
let prefix: string;
let sm: string[];
let p: FakePortal;

beforeEach(async () => {
  prefix = uniquePrefix();
  sm = ['--source', 'secrets-manager', '--prefix', prefix];
  p = await startPortal({ domain: 'bots.bitrix24.test' });
});
afterEach(async () => {
  await p.close();
});

describe('bot register', () => {
  it('registers a webhook bot with EVENT_HANDLER and CLIENT_ID, and stores its BOT_ID', async () => {
    // Prepare
    const { secret, clientId } = webhookBotOn(p, 39);
    await putSecret(`${prefix}/portals/${p.domain}`, secret);

    // Act
    const result = await cli([
      'bot',
      'register',
      '--domain',
      p.domain,
      '--events-url',
      EVENTS_URL,
      '--code',
      'typing_bot',
      '--name',
      'Typist',
      ...sm,
    ]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Registered bot 40 (typing_bot) on ${p.domain}; its events go to ${EVENTS_URL}.\n`);
    expect(result.stderr).toContain('replaces bot 39');
    expect(p.bots.get(40)).toMatchObject({
      code: 'typing_bot',
      clientId,
      handlers: { EVENT_MESSAGE_ADD: `${EVENTS_URL}?CLIENT_ID=${clientId}` },
      properties: { NAME: 'Typist' },
    });
    expect(await readSecret(`${prefix}/portals/${p.domain}`)).toEqual({ ...secret, botId: 40 });
    expect(result.stdout + result.stderr).not.toContain(clientId);
  });

  it('registers an OAuth app bot, names it after its code by default, and answers --json', async () => {
    // Prepare
    const { secret, clientId } = oauthBotOn(p, 41);
    await putSecret(`${prefix}/portals/${p.domain}`, secret);

    // Act
    const result = await cli([
      'bot',
      'register',
      '--domain',
      p.domain,
      '--events-url',
      EVENTS_URL,
      '--code',
      'helper',
      ...sm,
      '--json',
    ]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.json()).toEqual({
      ok: true,
      portal: p.domain,
      mode: 'oauth',
      botId: 42,
      code: 'helper',
      eventsUrl: EVENTS_URL,
      previousBotId: 41,
    });
    expect(p.bots.get(42)).toMatchObject({ appClientId: clientId, properties: { NAME: 'helper' } });
    expect(await readSecret(`${prefix}/portals/${p.domain}`)).toMatchObject({
      botId: 42,
      oauth: { accessToken: secret.oauth.accessToken },
    });
  });

  it("exits 1 with the portal's error code and stores nothing when the portal refuses", async () => {
    // Prepare
    const { secret } = webhookBotOn(p, 39);
    await putSecret(`${prefix}/portals/${p.domain}`, secret);
    p.script('imbot.register', [
      { status: 400, body: { error: 'WRONG_REQUEST', error_description: 'Limit of bots reached' } },
    ]);

    // Act
    const result = await cli([
      'bot',
      'register',
      '--domain',
      p.domain,
      '--events-url',
      EVENTS_URL,
      '--code',
      'x',
      ...sm,
      '--json',
    ]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.json()).toEqual({
      ok: false,
      portal: p.domain,
      error: {
        code: 'WRONG_REQUEST',
        message: `${p.domain}: imbot.register failed with WRONG_REQUEST (Limit of bots reached)`,
        status: 400,
      },
    });
    expect(await readSecret(`${prefix}/portals/${p.domain}`)).toEqual(secret);
  });

  it('exits 3 for a portal with no secret, before calling anything', async () => {
    // Act
    const result = await cli([
      'bot',
      'register',
      '--domain',
      p.domain,
      '--events-url',
      EVENTS_URL,
      '--code',
      'x',
      ...sm,
    ]);

    // Assess
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`No portal ${p.domain}`);
    expect(p.calls).toHaveLength(0);
  });

  it.each([
    [
      'a plain-http events URL',
      ['--events-url', 'http://api.example.test/bitrix/events', '--code', 'x'],
      '--events-url must be an https URL',
    ],
    ['no code', ['--events-url', EVENTS_URL], '--code is required'],
    ['no events URL', ['--code', 'x'], '--events-url is required'],
  ])('exits 2 given %s', async (_case, args, message) => {
    // Act
    const result = await cli(['bot', 'register', '--domain', p.domain, ...args, ...sm]);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});

describe('bot register --api v2', () => {
  it('registers a webhook bot with a fresh botToken and the portal’s eventsToken in its URL, storing both unprinted', async () => {
    // Prepare
    const { secret } = webhookBotOn(p, 39);
    await putSecret(`${prefix}/portals/${p.domain}`, secret);

    // Act
    const args = ['--domain', p.domain, '--events-url', EVENTS_URL, '--code', 'agent', '--name', 'Agent'];
    const result = await cli(['bot', 'register', '--api', 'v2', ...args, ...sm]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Registered v2 bot 40 (agent) on ${p.domain}; its events go to ${EVENTS_URL}.\n`);
    const stored = await readSecret<{
      botId: number;
      bots: Record<string, { api: string; type: string; botToken: string }>;
      webhook: { eventsToken: string };
    }>(`${prefix}/portals/${p.domain}`);
    const { botToken } = stored.bots['40']!;
    const { eventsToken } = stored.webhook;
    expect(stored.botId).toBe(40);
    expect(stored.bots['40']).toEqual({ api: 'v2', type: 'bot', botToken });
    expect(botToken).toMatch(/^[0-9a-f]{32}$/);
    expect(eventsToken).toMatch(/^[0-9a-f]{48}$/);
    expect(p.bots.get(40)).toMatchObject({
      api: 'v2',
      code: 'agent',
      type: 'bot',
      botToken,
      eventMode: 'webhook',
      webhookUrl: `${EVENTS_URL}?eventsToken=${eventsToken}`,
    });
    expect(result.stdout + result.stderr).not.toContain(botToken);
    expect(result.stdout + result.stderr).not.toContain(eventsToken);
  });

  it('registers an OAuth app’s bot without a token, its events verified by the application token', async () => {
    // Prepare
    const { secret } = oauthBotOn(p, 41);
    await putSecret(`${prefix}/portals/${p.domain}`, secret);

    // Act
    const args = ['--domain', p.domain, '--events-url', EVENTS_URL, '--code', 'agent', '--type', 'personal'];
    const result = await cli(['bot', 'register', '--api', 'v2', ...args, ...sm, '--json']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ ok: true, api: 'v2', botId: 42, mode: 'oauth', type: 'personal' });
    expect(p.bots.get(42)).toMatchObject({ api: 'v2', type: 'personal', webhookUrl: EVENTS_URL });
    const stored = await readSecret<{ bots: unknown }>(`${prefix}/portals/${p.domain}`);
    expect(stored.bots).toEqual({ '42': { api: 'v2', type: 'personal' } });
  });

  it('exits 1 with the portal’s code when the code belongs to another owner', async () => {
    // Prepare: bot39 is the v1 bot's code, owned by its CLIENT_ID
    const { secret } = webhookBotOn(p, 39);
    await putSecret(`${prefix}/portals/${p.domain}`, secret);

    // Act
    const args = ['--domain', p.domain, '--events-url', EVENTS_URL, '--code', 'bot39'];
    const result = await cli(['bot', 'register', '--api', 'v2', ...args, ...sm]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('imbot.v2.Bot.register failed with BOT_CODE_ALREADY_TAKEN');
    expect((await readSecret<{ bots?: unknown }>(`${prefix}/portals/${p.domain}`)).bots).toBeUndefined();
  });

  it.each([
    ['--api v3', ['--api', 'v3'], '--api must be v1 or v2'],
    ['--type without --api v2', ['--type', 'bot'], '--type belongs to --api v2'],
    ['an unknown --type', ['--api', 'v2', '--type', 'B'], '--type must be one of bot, supervisor, personal, openline'],
  ])('exits 2 given %s', async (_case, args, message) => {
    // Act
    const result = await cli([
      'bot',
      'register',
      '--domain',
      p.domain,
      '--events-url',
      EVENTS_URL,
      '--code',
      'a',
      ...args,
      ...sm,
    ]);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(p.calls).toHaveLength(0);
  });
});
