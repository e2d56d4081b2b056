import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { cli } from '../support/cli.js';
import { random, webhookBotOn } from '../../devtools/fixtures.js';
import { freePort } from '../../devtools/net.js';
import { startOffline, type OfflineService } from '../support/offline.js';
import { startScriptedServer } from '../support/scripted-server.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../support/secrets.js';

// `typing send` against the real service: `npm start` (serverless-offline) with Secrets Manager on moto.
let portal: FakePortal;
let service: OfflineService;
let prefix: string;
let key: string;
let sm: string[];

beforeAll(async () => {
  portal = await startPortal({ domain: 'typing.bitrix24.test' });
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix, [generateSigningKey(), generateSigningKey()])) as [string];
  // Bot 39 is a v1 bot; bot 567 a v2 one, registered through the same webhook with its botToken.
  const botToken = random(16);
  portal.addBotV2({ botId: 567, botToken });
  await putSecret(`${prefix}/portals/${portal.domain}`, {
    ...webhookBotOn(portal, 39).secret,
    bots: { '567': { api: 'v2', botToken } },
  });
  sm = ['--source', 'secrets-manager', '--prefix', prefix];
  service = await startOffline({
    CREDENTIALS_SOURCE: 'secrets-manager',
    TYPING_COALESCE_MS: '0',
    SECRETS_PREFIX: prefix,
  });
});
afterAll(async () => {
  await service?.stop();
  await portal?.close();
});
beforeEach(() => {
  portal.resetCalls();
});

describe('typing send', () => {
  it('signs with the first stored key, sends, and prints the outcome', async () => {
    // Act
    const result = await cli([
      'typing',
      'send',
      '--portal',
      portal.domain,
      '--dialog',
      'chat12',
      '--url',
      service.url,
      ...sm,
    ]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `✓ the default bot is typing in chat12 on ${portal.domain} (the indicator shows for about 35 s)\n`,
    );
    expect(portal.typingCalls()).toHaveLength(1);
    expect(portal.typingCalls()[0]?.params).toMatchObject({ BOT_ID: 39, DIALOG_ID: 'chat12' });
  });

  it('takes the key from TYPING_KEY and prints --json', async () => {
    // Act
    const result = await cli(
      ['typing', 'send', '--portal', portal.domain, '--dialog', '27', '--bot', '39', '--url', service.url, '--json'],
      {
        env: { TYPING_KEY: key },
      },
    );

    // Assess
    expect(result.code).toBe(0);
    expect(result.json()).toEqual({
      ok: true,
      portal: portal.domain,
      dialogId: '27',
      botId: 39,
      url: service.url,
      indicatorSeconds: 35,
    });
    expect(portal.typingCalls()[0]?.params).toMatchObject({ BOT_ID: 39, DIALOG_ID: '27' });
  });

  it('asks a v2 bot for a status and duration and prints what it shows and for how long', async () => {
    // Act
    const args = ['--portal', portal.domain, '--dialog', 'chat1', '--bot', '567', '--duration', '60'];
    const result = await cli(['typing', 'send', ...args, '--status', 'thinking', '--url', service.url, ...sm]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `✓ bot 567 is thinking in chat1 on ${portal.domain} (the indicator shows for about 60 s)\n`,
    );
    expect(
      portal.typingCalls().map((call) => [call.method, call.params.duration, call.params.statusMessageCode]),
    ).toEqual([['imbot.v2.Chat.InputAction.notify', 60, 'IMBOT_AGENT_ACTION_THINKING']]);
  });

  it("retries the service's 502 with the same webhook-id, which the service accepts", async () => {
    // Prepare
    portal.script('imbot.chat.sendTyping', [
      { status: 500, body: { error: 'INTERNAL_SERVER_ERROR', error_description: 'Internal error' } },
    ]);

    // Act
    const result = await cli([
      'typing',
      'send',
      '--portal',
      portal.domain,
      '--dialog',
      'chat3',
      '--url',
      service.url,
      '--key',
      key,
      '--json',
    ]);

    // Assess
    expect(result.code).toBe(0);
    expect(portal.calls.map((call) => call.status)).toEqual([500, 200]);
  });

  it('exits 3 with the problem fields when the portal is unknown', async () => {
    // Act
    const result = await cli([
      'typing',
      'send',
      '--portal',
      'nobody.bitrix24.test',
      '--dialog',
      '27',
      '--url',
      service.url,
      '--key',
      key,
      '--json',
    ]);

    // Assess
    expect(result.code).toBe(3);
    expect(result.json()).toEqual({
      ok: false,
      portal: 'nobody.bitrix24.test',
      dialogId: '27',
      botId: null,
      url: service.url,
      error: {
        code: 'PORTAL_UNKNOWN',
        message: expect.stringContaining('PORTAL_UNKNOWN 404'),
        status: 404,
        detail: 'No credentials are stored for portal nobody.bitrix24.test.',
        retryAfterSeconds: null,
        requestId: expect.any(String),
        upstreamCode: null,
        attempts: 1,
      },
    });
  });

  it('exits 3 when the portal does not know the bot', async () => {
    // Act
    const result = await cli([
      'typing',
      'send',
      '--portal',
      portal.domain,
      '--dialog',
      '27',
      '--bot',
      '4040',
      '--url',
      service.url,
      '--key',
      key,
    ]);

    // Assess
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^error: BOT_ID_ERROR 404: /);
  });

  it('exits 1 with SIGNATURE_INVALID under a key the service does not hold', async () => {
    // Act
    const result = await cli([
      'typing',
      'send',
      '--portal',
      portal.domain,
      '--dialog',
      '27',
      '--url',
      service.url,
      '--key',
      generateSigningKey(),
      '--json',
    ]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({ ok: false, error: { code: 'SIGNATURE_INVALID', status: 401 } });
    expect(portal.calls).toHaveLength(0);
  });
});

describe('typing send without the service', () => {
  it('exits 1 with NETWORK_ERROR when nothing listens at --url', async () => {
    // Prepare
    const port = await freePort();

    // Act
    const result = await cli([
      'typing',
      'send',
      '--portal',
      portal.domain,
      '--dialog',
      '27',
      '--url',
      `http://127.0.0.1:${port}`,
      '--key',
      key,
      '--json',
    ]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({ ok: false, error: { code: 'NETWORK_ERROR', status: 0, attempts: 4 } });
  });

  it('exits 1 with REQUEST_IN_PROGRESS once its retries run out, saying the first attempt may still show typing', async () => {
    // Prepare: a service that is still running the first attempt of this webhook-id whenever it is asked
    const busy = await startScriptedServer({
      status: 409,
      headers: { 'content-type': 'application/problem+json', 'retry-after': '1' },
      body: {
        title: 'Request with this webhook id in progress',
        status: 409,
        detail: 'A request with this webhook-id is still running.',
        code: 'REQUEST_IN_PROGRESS',
        requestId: 'req-1',
      },
    });

    // Act
    const result = await cli([
      'typing',
      'send',
      '--portal',
      portal.domain,
      '--dialog',
      '27',
      '--url',
      busy.url,
      '--key',
      key,
    ]);
    await busy.close();

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'error: REQUEST_IN_PROGRESS 409: A request with this webhook-id is still running. (request req-1)\n' +
        'The first attempt of this request was still running when the retries ran out; it may still show typing. Running the command again sends a new request.\n',
    );
    expect(new Set(busy.requests.map((request) => request.headers['webhook-id'])).size).toBe(1);
    expect(busy.requests).toHaveLength(4);
  });

  it('exits 3 when no key is given and none is stored', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'typing-'));

    // Act
    const result = await cli(['typing', 'send', '--portal', portal.domain, '--dialog', '27'], { cwd: dir });

    // Assess
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('No signing key: pass --key, set TYPING_KEY');
  });

  it.each([
    [
      'a malformed dialog',
      ['--dialog', 'room 5', '--key', 'whsec_AAAAAAAAAAAAAAAAAAAAAA=='],
      '--dialog: dialogId must be a user id',
    ],
    [
      'a malformed bot',
      ['--dialog', '27', '--bot', '0', '--key', 'whsec_AAAAAAAAAAAAAAAAAAAAAA=='],
      '--bot must be a positive integer',
    ],
    ['a malformed key', ['--dialog', '27', '--key', 'secret'], '--key: key must be a whsec_'],
    ['no dialog', ['--key', 'whsec_AAAAAAAAAAAAAAAAAAAAAA=='], '--dialog is required'],
    ...['0', '601', '1.5', 'sixty'].map((duration) => [
      `--duration ${duration}`,
      ['--dialog', '27', '--duration', duration, '--key', 'whsec_AAAAAAAAAAAAAAAAAAAAAA=='],
      '--duration: durationSeconds must be a whole number of seconds from 1 to 600.',
    ]),
    [
      'an unknown --status',
      ['--dialog', '27', '--status', 'dreaming', '--key', 'whsec_AAAAAAAAAAAAAAAAAAAAAA=='],
      '--status: status must be one of: typing, thinking,',
    ],
  ])('exits 2 given %s, sending nothing', async (_case, args, message) => {
    // Act
    const result = await cli(['typing', 'send', '--portal', portal.domain, '--url', service.url, ...args]);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(portal.calls).toHaveLength(0);
  });
});
