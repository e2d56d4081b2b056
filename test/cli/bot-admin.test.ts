import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { oauthBotOn, webhookBotOn } from '../../devtools/fixtures.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { buildCli, type BuiltCli } from '../support/built-cli.js';

// Managing the bots already registered on a portal: list them, point their events elsewhere, remove them.
// The built CLI against the loopback portal, credentials in a file.

let cli: BuiltCli;
let portal: FakePortal;
let file: string;
let source: string[];
const secretName = () => `p/prod/portals/${portal.domain}`;

beforeAll(async () => {
  cli = await buildCli();
});
afterAll(() => cli?.remove());
beforeEach(async () => {
  portal = await startPortal({ domain: 'bots.bitrix24.test' });
  file = join(await mkdtemp(join(tmpdir(), 'bots-')), 'credentials.json');
  source = ['--source', `file:${file}`, '--prefix', 'p/prod', '--domain', portal.domain];
});
afterEach(() => portal.close());

const store = (secret: unknown) => writeFile(file, JSON.stringify({ [secretName()]: secret }));
const stored = async () => (JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>)[secretName()];

describe('bot list', () => {
  it("lists every bot on the portal and marks the portal's default one", async () => {
    // Prepare
    const { secret } = webhookBotOn(portal, 39);
    oauthBotOn(portal, 41);
    await store(secret);

    // Act
    const human = await cli.run(['bot', 'list', ...source]);
    const json = await cli.run(['bot', 'list', ...source, '--json']);

    // Assess
    expect(human.code).toBe(0);
    expect(human.stdout).toBe(
      ['* 39     bot39                bot39', '  41     bot41                bot41', ''].join('\n'),
    );
    expect(json.json()).toEqual({
      ok: true,
      portal: portal.domain,
      defaultBotId: 39,
      bots: [
        { id: 39, code: 'bot39', name: 'bot39', openLine: false },
        { id: 41, code: 'bot41', name: 'bot41', openLine: false },
      ],
    });
  });
});

describe('bot set-handler', () => {
  it("points all of a webhook bot's events at the new URL, with its CLIENT_ID appended", async () => {
    // Prepare
    const { secret, clientId } = webhookBotOn(portal, 39);
    await store(secret);

    // Act
    const result = await cli.run([
      'bot',
      'set-handler',
      '--bot',
      '39',
      '--events-url',
      'https://typing.example.com/bitrix/events',
      ...source,
    ]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `Bot 39 on ${portal.domain} now sends its events to https://typing.example.com/bitrix/events.\n`,
    );
    const handler = `https://typing.example.com/bitrix/events?CLIENT_ID=${clientId}`;
    expect(portal.bots.get(39)?.handlers).toEqual({
      EVENT_MESSAGE_ADD: handler,
      EVENT_MESSAGE_UPDATE: handler,
      EVENT_MESSAGE_DELETE: handler,
      EVENT_WELCOME_MESSAGE: handler,
      EVENT_BOT_DELETE: handler,
    });
  });

  it("fails with the portal's code for a bot of another application", async () => {
    // Prepare
    const { secret } = webhookBotOn(portal, 39);
    oauthBotOn(portal, 41);
    await store(secret);

    // Act
    const result = await cli.run([
      'bot',
      'set-handler',
      '--bot',
      '41',
      '--events-url',
      'https://typing.example.com/bitrix/events',
      ...source,
      '--json',
    ]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({ ok: false, error: { code: 'APP_ID_ERROR', status: 400 } });
  });
});

describe('bot unregister', () => {
  it('removes the bot from the portal and from the portal secret', async () => {
    // Prepare
    const { secret } = webhookBotOn(portal, 39);
    await store({ ...secret, bots: { '39': { api: 'v1', type: 'B' } } });

    // Act
    const result = await cli.run(['bot', 'unregister', '--bot', '39', ...source]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Unregistered bot 39 on ${portal.domain}.\n`);
    expect(portal.bots.has(39)).toBe(false);
    expect(await stored()).toEqual({ domain: portal.domain, memberId: portal.memberId, webhook: secret.webhook });
  });

  it('exits 1 with BOT_ID_ERROR for a bot the portal does not have, keeping the secret', async () => {
    // Prepare
    const { secret } = webhookBotOn(portal, 39);
    await store(secret);

    // Act
    const result = await cli.run(['bot', 'unregister', '--bot', '77', ...source, '--json']);

    // Assess
    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({ ok: false, error: { code: 'BOT_ID_ERROR' } });
    expect(await stored()).toEqual(secret);
  });
});
