import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildCli, type BuiltCli } from '../support/built-cli.js';

// A portal already stored holds what its registered bot depends on: the CLIENT_ID its events carry and its BOT_ID.
// Driven through the built CLI, on a file source.

const SECRET = 'p/prod/portals/example.bitrix24.com';
let cli: BuiltCli;
let file: string;
let source: string[];

beforeAll(async () => {
  cli = await buildCli();
});
afterAll(() => cli?.remove());
beforeEach(async () => {
  file = join(await mkdtemp(join(tmpdir(), 'replace-')), 'credentials.json');
  source = ['--source', `file:${file}`, '--prefix', 'p/prod'];
});

const stored = async () => (JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>)[SECRET];
const add = (...args: string[]) => cli.run(['portal', 'add', '--domain', 'example.bitrix24.com', ...args, ...source]);

async function registeredBot(): Promise<void> {
  const first = await add(
    '--webhook',
    'https://example.bitrix24.com/rest/1/old/',
    '--client-id',
    'client-id-of-bot-39',
    '--bot-id',
    '39',
    '--member-id',
    'member1',
  );
  expect(first.code).toBe(0);
}

describe('portal add over a stored portal', () => {
  it('refuses without --force and changes nothing', async () => {
    // Prepare
    await registeredBot();
    const before = await stored();

    // Act
    const result = await add('--webhook', 'https://example.bitrix24.com/rest/1/new/', '--json');

    // Assess
    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({ ok: false, error: { code: 'PORTAL_EXISTS' } });
    expect((result.json().error as { message: string }).message).toBe(
      `example.bitrix24.com is already stored as ${SECRET} in file:${file} (webhook, bot 39). To change its webhook ` +
        'URL run "portal rotate-webhook"; to replace it, add --force.',
    );
    expect(await stored()).toEqual(before);
  });

  it("with --force keeps the bot's CLIENT_ID, BOT_ID and the member id unless given", async () => {
    // Prepare
    await registeredBot();

    // Act
    const result = await add('--webhook', 'https://example.bitrix24.com/rest/1/new/', '--force');

    // Assess
    expect(result.code).toBe(0);
    expect(await stored()).toEqual({
      domain: 'example.bitrix24.com',
      memberId: 'member1',
      botId: 39,
      webhook: { url: 'https://example.bitrix24.com/rest/1/new/', clientId: 'client-id-of-bot-39' },
    });
    expect(result.notes).toBe(
      'Kept from the stored portal: CLIENT_ID, bot 39, member id.\n' +
        'Running containers keep the previous version for up to 5 min (SECRETS_CACHE_TTL_SECONDS); new containers ' +
        'use this one.\n',
    );
  });

  it('with --force takes the CLIENT_ID and bot it is given', async () => {
    // Prepare
    await registeredBot();

    // Act
    const result = await add(
      '--webhook',
      'https://example.bitrix24.com/rest/1/new/',
      '--client-id',
      'client-id-of-bot-41',
      '--bot-id',
      '41',
      '--force',
    );

    // Assess
    expect(result.code).toBe(0);
    expect(await stored()).toMatchObject({ botId: 41, webhook: { clientId: 'client-id-of-bot-41' } });
  });
});

describe('portal add of a new portal', () => {
  it('says a container that found it unknown before learns of it within a minute', async () => {
    // Act
    const result = await add(
      '--webhook',
      'https://example.bitrix24.com/rest/1/abc/',
      '--client-id',
      'client-id-of-bot-1',
    );

    // Assess
    expect(result.code).toBe(0);
    expect(result.notes).toBe(
      'In effect at once, except in a container that looked this portal up before it existed: that one answers ' +
        'PORTAL_UNKNOWN for up to 60 s more.\n',
    );
  });
});

describe('portal rotate-webhook', () => {
  it('replaces only the webhook URL and says when running containers follow', async () => {
    // Prepare
    await registeredBot();

    // Act
    const result = await cli.run([
      'portal',
      'rotate-webhook',
      '--domain',
      'example.bitrix24.com',
      '--webhook',
      'https://example.bitrix24.com/rest/1/rotated/',
      ...source,
    ]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `Rotated the webhook of example.bitrix24.com in file:${file}, keeping bot 39 and its CLIENT_ID.\n`,
    );
    expect(await stored()).toEqual({
      domain: 'example.bitrix24.com',
      memberId: 'member1',
      botId: 39,
      webhook: { url: 'https://example.bitrix24.com/rest/1/rotated/', clientId: 'client-id-of-bot-39' },
    });
    expect(result.notes).toContain('Delete the old webhook on the portal after that.');
  });

  it('refuses an OAuth portal and an unknown one', async () => {
    // Prepare
    const rotate = ['portal', 'rotate-webhook', '--domain', 'example.bitrix24.com', '--webhook'];
    const url = 'https://example.bitrix24.com/rest/1/rotated/';
    const otherFile = join(await mkdtemp(join(tmpdir(), 'replace-')), 'credentials.json');
    await writeFile(
      otherFile,
      JSON.stringify({
        [SECRET]: {
          domain: 'example.bitrix24.com',
          oauth: {
            clientId: 'app.1',
            clientSecret: 'secret',
            accessToken: 'access',
            refreshToken: 'refresh',
            expiresAt: 1771932585,
            clientEndpoint: 'https://example.bitrix24.com/rest/',
            serverEndpoint: 'https://oauth.bitrix.info/rest/',
          },
        },
      }),
    );

    // Act
    const unknown = await cli.run([...rotate, url, ...source]);
    const oauth = await cli.run([...rotate, url, '--source', `file:${otherFile}`, '--prefix', 'p/prod', '--json']);

    // Assess
    expect(oauth.code).toBe(1);
    expect(oauth.json()).toMatchObject({ ok: false, error: { code: 'NOT_A_WEBHOOK_PORTAL' } });
    expect(unknown.code).toBe(3);
    expect(unknown.notes).toContain(`No portal example.bitrix24.com: ${SECRET} does not exist in file:${file}.`);
  });
});
