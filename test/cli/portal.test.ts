import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { cli } from '../support/cli.js';
import { oauthBotOn, random, webhookBotOn } from '../../devtools/fixtures.js';
import { putSecret, readSecret, uniquePrefix } from '../support/secrets.js';

let prefix: string;
let sm: string[];
let dir: string;
let file: string[];
const portals: FakePortal[] = [];

async function portal(domain: string): Promise<FakePortal> {
  const started = await startPortal({ domain });
  portals.push(started);
  return started;
}

beforeEach(async () => {
  prefix = uniquePrefix();
  sm = ['--source', 'secrets-manager', '--prefix', prefix];
  dir = await mkdtemp(join(tmpdir(), 'portal-'));
  file = ['--source', `file:${join(dir, 'credentials.json')}`, '--prefix', prefix];
});
afterEach(async () => {
  await Promise.all(portals.splice(0).map((p) => p.close()));
});

describe('portal add', () => {
  it('stores a webhook portal in Secrets Manager with a generated CLIENT_ID, printing no secret', async () => {
    // Prepare
    const url = `https://example.bitrix24.com/rest/1/${random(8)}/`;

    // Act
    const result = await cli([
      'portal',
      'add',
      '--domain',
      'Example.Bitrix24.com',
      '--webhook',
      url,
      '--bot-id',
      '39',
      ...sm,
    ]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `Added example.bitrix24.com (webhook, bot 39) as ${prefix}/portals/example.bitrix24.com in secrets-manager.\n`,
    );
    const stored = await readSecret<{ webhook: { url: string; clientId: string } }>(
      `${prefix}/portals/example.bitrix24.com`,
    );
    expect(stored).toEqual({
      domain: 'example.bitrix24.com',
      botId: 39,
      webhook: { url, clientId: expect.stringMatching(/^[0-9a-f]{48}$/) },
    });
    expect(result.stdout + result.stderr).not.toContain(stored.webhook.clientId);
    expect(result.stdout + result.stderr).not.toContain(url);
  });

  it('keeps a given CLIENT_ID, member id and application token, and reports a replacement under --json', async () => {
    // Prepare
    const args = [
      'portal',
      'add',
      '--domain',
      'example.bitrix24.com',
      '--webhook',
      'https://example.bitrix24.com/rest/1/abc/',
      '--client-id',
      'cid-1234567890abcd',
    ];
    await cli([...args, ...sm]);

    // Act
    const result = await cli([
      ...args,
      '--member-id',
      'm1',
      '--application-token',
      'apptoken-0123456789',
      '--force',
      ...sm,
      '--json',
    ]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.json()).toEqual({
      ok: true,
      portal: 'example.bitrix24.com',
      secret: `${prefix}/portals/example.bitrix24.com`,
      source: 'secrets-manager',
      mode: 'webhook',
      botId: null,
      replaced: true,
      clientIdGenerated: false,
    });
    expect(await readSecret(`${prefix}/portals/example.bitrix24.com`)).toEqual({
      domain: 'example.bitrix24.com',
      memberId: 'm1',
      applicationToken: 'apptoken-0123456789',
      webhook: { url: 'https://example.bitrix24.com/rest/1/abc/', clientId: 'cid-1234567890abcd' },
    });
  });

  it("stores an OAuth portal from Bitrix24's own token answer plus the app's client id and secret", async () => {
    // Prepare
    const oauthJson = join(dir, 'install.json');
    const expires = Math.floor(Date.now() / 1000) + 3600;
    await writeFile(
      oauthJson,
      JSON.stringify({
        client_id: 'app.123',
        client_secret: 'secret-456',
        access_token: 'access-789',
        refresh_token: 'refresh-012',
        expires,
        client_endpoint: 'https://example.bitrix24.com/rest/',
        server_endpoint: 'https://oauth.bitrix.info/rest/',
        member_id: 'member-1',
        application_token: 'apptok-0123456789ab',
      }),
    );

    // Act
    const result = await cli(
      ['portal', 'add', '--domain', 'example.bitrix24.com', '--oauth-json', 'install.json', ...file],
      { cwd: dir },
    );

    // Assess
    expect(result.code).toBe(0);
    const stored = JSON.parse(await readFile(join(dir, 'credentials.json'), 'utf8')) as Record<string, unknown>;
    expect(stored[`${prefix}/portals/example.bitrix24.com`]).toEqual({
      domain: 'example.bitrix24.com',
      memberId: 'member-1',
      applicationToken: 'apptok-0123456789ab',
      oauth: {
        clientId: 'app.123',
        clientSecret: 'secret-456',
        accessToken: 'access-789',
        refreshToken: 'refresh-012',
        expiresAt: expires,
        clientEndpoint: 'https://example.bitrix24.com/rest/',
        serverEndpoint: 'https://oauth.bitrix.info/rest/',
      },
    });
    for (const secret of ['secret-456', 'access-789', 'refresh-012'])
      expect(result.stdout + result.stderr).not.toContain(secret);
  });

  it.each([
    [
      'neither --webhook nor --oauth-json',
      ['--domain', 'example.bitrix24.com'],
      'exactly one of --webhook or --oauth-json',
    ],
    [
      'both',
      ['--domain', 'example.bitrix24.com', '--webhook', 'https://e.bitrix24.com/rest/1/a/', '--oauth-json', 'x.json'],
      'exactly one',
    ],
    [
      'a domain that is no host name',
      ['--domain', '../typing-keys', '--webhook', 'https://e.bitrix24.com/rest/1/a/'],
      'not a host name',
    ],
    [
      'a plain-http webhook',
      ['--domain', 'example.bitrix24.com', '--webhook', 'http://e.bitrix24.com/rest/1/a/'],
      'webhook.url must be an https URL',
    ],
    [
      'a bot id that is no number',
      ['--domain', 'example.bitrix24.com', '--webhook', 'https://e.bitrix24.com/rest/1/a/', '--bot-id', 'x'],
      '--bot-id must be a positive integer',
    ],
    [
      '--client-id without --webhook',
      ['--domain', 'example.bitrix24.com', '--oauth-json', 'x.json', '--client-id', 'c'],
      '--client-id belongs to --webhook',
    ],
  ])('exits 2 and stores nothing given %s', async (_case, args, message) => {
    // Act
    const result = await cli(['portal', 'add', ...args, ...file]);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    await expect(readFile(join(dir, 'credentials.json'), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('exits 2 on OAuth data missing a field, and 3 on a missing file', async () => {
    // Prepare
    await writeFile(join(dir, 'partial.json'), JSON.stringify({ access_token: 'a' }));

    // Act
    const partial = await cli(
      ['portal', 'add', '--domain', 'example.bitrix24.com', '--oauth-json', 'partial.json', ...file],
      { cwd: dir },
    );
    const missing = await cli(
      ['portal', 'add', '--domain', 'example.bitrix24.com', '--oauth-json', 'nope.json', ...file],
      { cwd: dir },
    );

    // Assess
    expect(partial.code).toBe(2);
    expect(partial.stderr).toContain('oauth.expiresAt must be unix seconds');
    expect(missing.code).toBe(3);
  });
});

describe('portal list', () => {
  it('lists the portals under the prefix in Secrets Manager, and nothing of other prefixes', async () => {
    // Prepare
    await putSecret(`${prefix}/portals/b.bitrix24.com`, { domain: 'b.bitrix24.com' });
    await putSecret(`${prefix}/portals/a.bitrix24.com`, { domain: 'a.bitrix24.com' });
    await putSecret(`${prefix}/typing-keys`, { keys: [] });
    await putSecret(`${prefix}x/portals/c.bitrix24.com`, { domain: 'c.bitrix24.com' });

    // Act
    const human = await cli(['portal', 'list', ...sm]);
    const json = await cli(['portal', 'list', ...sm, '--json']);

    // Assess
    expect(human.code).toBe(0);
    expect(human.stdout).toBe('a.bitrix24.com\nb.bitrix24.com\n');
    expect(json.json()).toEqual({
      ok: true,
      prefix,
      source: 'secrets-manager',
      portals: ['a.bitrix24.com', 'b.bitrix24.com'],
    });
  });

  it('lists the portals of the file source', async () => {
    // Prepare
    await cli([
      'portal',
      'add',
      '--domain',
      'one.bitrix24.com',
      '--webhook',
      'https://one.bitrix24.com/rest/1/a/',
      ...file,
    ]);

    // Act
    const result = await cli(['portal', 'list', ...file, '--json']);

    // Assess
    expect(result.json()).toMatchObject({ ok: true, portals: ['one.bitrix24.com'] });
  });

  it('says so on stderr when there are none, and exits 0', async () => {
    // Act
    const result = await cli(['portal', 'list', ...file]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`No portals under ${prefix}/portals/`);
  });
});

describe('portal check', () => {
  it('calls profile through the webhook and prints OK', async () => {
    // Prepare
    const p = await portal('hook.bitrix24.test');
    await putSecret(`${prefix}/portals/${p.domain}`, webhookBotOn(p).secret);

    // Act
    const human = await cli(['portal', 'check', '--domain', p.domain, ...sm]);
    const json = await cli(['portal', 'check', '--domain', p.domain, ...sm, '--json']);

    // Assess
    expect(human.code).toBe(0);
    expect(human.stdout).toBe(`OK ${p.domain}: profile answered 200 (webhook)\n`);
    expect(json.json()).toEqual({
      ok: true,
      portal: p.domain,
      mode: 'webhook',
      method: 'profile',
      status: 200,
      refreshed: false,
    });
    expect(p.calls.map((call) => [call.method, call.via])).toEqual([
      ['profile', 'webhook'],
      ['profile', 'webhook'],
    ]);
  });

  it('calls app.info with the OAuth token, refreshing and storing an expired one', async () => {
    // Prepare
    const p = await portal('oauth.bitrix24.test');
    const bot = oauthBotOn(p);
    await putSecret(`${prefix}/portals/${p.domain}`, bot.secret);
    p.expireAccessTokens();

    // Act
    const result = await cli(['portal', 'check', '--domain', p.domain, ...sm, '--json'], {
      env: { OAUTH_SERVER: p.url },
    });

    // Assess
    expect(result.code).toBe(0);
    expect(result.json()).toEqual({
      ok: true,
      portal: p.domain,
      mode: 'oauth',
      method: 'app.info',
      status: 200,
      refreshed: true,
    });
    const stored = await readSecret<typeof bot.secret>(`${prefix}/portals/${p.domain}`);
    expect(stored.oauth.refreshToken).not.toBe(bot.secret.oauth.refreshToken);
    expect(p.refreshCalls).toHaveLength(1);
    expect(result.stdout).not.toContain(stored.oauth.accessToken);
  });

  it("exits 1 with the portal's error code when the credentials are refused", async () => {
    // Prepare
    const p = await portal('hook.bitrix24.test');
    await putSecret(`${prefix}/portals/${p.domain}`, {
      domain: p.domain,
      webhook: { url: `${p.url}/rest/1/wrongcode/`, clientId: 'client-id-0123456789' },
    });

    // Act
    const human = await cli(['portal', 'check', '--domain', p.domain, ...sm]);
    const json = await cli(['portal', 'check', '--domain', p.domain, ...sm, '--json']);

    // Assess
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('profile failed with INVALID_CREDENTIALS');
    expect(human.stderr).not.toContain('wrongcode');
    expect(json.json()).toEqual({
      ok: false,
      portal: p.domain,
      mode: 'webhook',
      method: 'profile',
      error: {
        code: 'INVALID_CREDENTIALS',
        message: expect.any(String),
        status: 401,
        description: 'Invalid request credentials',
      },
    });
  });

  it('exits 3 for a portal with no secret', async () => {
    // Act
    const result = await cli(['portal', 'check', '--domain', 'nobody.bitrix24.com', ...sm, '--json']);

    // Assess
    expect(result.code).toBe(3);
    expect(result.json()).toMatchObject({
      ok: false,
      portal: 'nobody.bitrix24.com',
      error: { code: 'PORTAL_UNKNOWN' },
    });
  });

  it('exits 2 without --domain', async () => {
    // Act
    const result = await cli(['portal', 'check', ...sm]);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--domain is required');
  });
});

describe('portal add: a bot of the chat-bot API v2', () => {
  it('records a webhook portal’s v2 bot with its botToken from BITRIX24_BOT_TOKEN, printing no token', async () => {
    // Prepare
    const botToken = random(16);
    const url = `https://example.bitrix24.com/rest/1/${random(8)}/`;

    // Act
    const result = await cli(
      [
        'portal',
        'add',
        '--domain',
        'example.bitrix24.com',
        '--webhook',
        url,
        '--bot-id',
        '567',
        '--bot-api',
        'v2',
        ...sm,
      ],
      { env: { BITRIX24_BOT_TOKEN: botToken } },
    );

    // Assess
    expect(result.code).toBe(0);
    const stored = await readSecret<{ botId: number; bots: unknown }>(`${prefix}/portals/example.bitrix24.com`);
    expect(stored.botId).toBe(567);
    expect(stored.bots).toEqual({ '567': { api: 'v2', botToken } });
    expect(result.stdout + result.stderr).not.toContain(botToken);
  });

  it('records an OAuth portal’s v2 bot without a token: OAuth calls need none', async () => {
    // Prepare
    const p = await portal('oauth.bitrix24.test');
    const oauthFile = join(dir, 'install.json');
    await writeFile(oauthFile, JSON.stringify(oauthBotOn(p, 568).secret.oauth));

    // Act
    const result = await cli(
      ['portal', 'add', '--domain', p.domain, '--oauth-json', oauthFile, '--bot-id', '568', '--bot-api', 'v2', ...sm],
      { env: { BITRIX24_BOT_TOKEN: random(16) } },
    );

    // Assess
    expect(result.code).toBe(0);
    expect((await readSecret<{ bots: unknown }>(`${prefix}/portals/${p.domain}`)).bots).toEqual({
      '568': { api: 'v2' },
    });
  });

  it.each([
    ['a v2 webhook bot without a botToken', ['--bot-id', '567', '--bot-api', 'v2'], 'set BITRIX24_BOT_TOKEN'],
    ['--bot-api without --bot-id', ['--bot-api', 'v2', '--bot-token', 'x'.repeat(32)], 'give --bot-id'],
    ['an unknown API', ['--bot-id', '567', '--bot-api', 'v3'], '--bot-api must be v1 or v2'],
    ['a token for a v1 bot', ['--bot-id', '39', '--bot-api', 'v1', '--bot-token', 'x'.repeat(32)], 'only for a v2'],
    ['a token shorter than 16 characters', ['--bot-id', '567', '--bot-api', 'v2', '--bot-token', 'short'], '16'],
  ])('refuses %s with exit 2, storing nothing', async (_case, args, message) => {
    // Act
    const url = `https://example.bitrix24.com/rest/1/${random(8)}/`;
    const result = await cli(['portal', 'add', '--domain', 'example.bitrix24.com', '--webhook', url, ...args, ...file]);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    await expect(readFile(join(dir, 'credentials.json'), 'utf8')).rejects.toThrow();
  });
});
