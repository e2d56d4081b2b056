import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodePhpForm } from '../../sandbox/portal/index.js';
import { cli } from '../support/cli.js';
import { freePort } from '../../devtools/net.js';
import { startScriptedServer, type ScriptedServer } from '../support/scripted-server.js';

let events: ScriptedServer;

beforeEach(async () => {
  events = await startScriptedServer({ status: 200, body: { ok: true } });
});
afterEach(async () => {
  await events.close();
});

describe('events send', () => {
  it('posts a built-in message fixture form-encoded to <url>/bitrix/events, as a portal does', async () => {
    // Act
    const result = await cli(['events', 'send', 'message-webhook-bot', '--url', events.url]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`POST ${events.url}/bitrix/events → 200\n{\n  "ok": true\n}\n`);
    const posted = events.requests[0]!;
    expect(posted).toMatchObject({ method: 'POST', url: '/bitrix/events' });
    expect(posted.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(decodePhpForm(posted.body)).toEqual({
      event: 'ONIMBOTMESSAGEADD',
      event_handler_id: '403',
      data: {
        BOT: { 39: { BOT_ID: '39', BOT_CODE: 'typing_bot' } },
        PARAMS: {
          MESSAGE: 'Hello',
          MESSAGE_TYPE: 'P',
          FROM_USER_ID: '27',
          DIALOG_ID: '27',
          TO_CHAT_ID: '1407',
          MESSAGE_ID: '84331',
          CHAT_TYPE: 'P',
          LANGUAGE: 'en',
        },
        USER: { ID: '27', NAME: 'Svetlana Ivanova' },
      },
      ts: '1771928985',
      auth: {
        domain: 'some-domain.bitrix24.com',
        client_endpoint: 'https://some-domain.bitrix24.com/rest/',
        server_endpoint: 'https://oauth.bitrix.info/rest/',
        member_id: 'bac1cd5c8940947a75e0d71b1a84e348',
        application_token: 'the-client-id-the-bot-was-registered-with',
      },
    });
  });

  it('replaces auth[domain], auth[application_token] and auth[member_id], and keeps a full events URL as given', async () => {
    // Act
    const result = await cli([
      'events',
      'send',
      'join-chat-webhook-bot',
      '--url',
      `${events.url}/bitrix/events?CLIENT_ID=abc`,
      '--domain',
      'sandbox.bitrix24.test',
      '--token',
      'the-real-client-id',
      '--member-id',
      'member-2',
      '--json',
    ]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.json()).toEqual({
      ok: true,
      url: `${events.url}/bitrix/events?CLIENT_ID=abc`,
      event: 'ONIMBOTJOINCHAT',
      fixture: expect.stringMatching(/bin\/fixtures\/join-chat-webhook-bot\.txt$/),
      status: 200,
      body: { ok: true },
    });
    expect(events.requests[0]?.url).toBe('/bitrix/events?CLIENT_ID=abc');
    const form = decodePhpForm(events.requests[0]!.body) as {
      auth: Record<string, string>;
      data: { PARAMS: Record<string, string> };
    };
    expect(form.auth).toMatchObject({
      domain: 'sandbox.bitrix24.test',
      application_token: 'the-real-client-id',
      member_id: 'member-2',
    });
    expect(form.data.PARAMS).toMatchObject({ DIALOG_ID: 'chat1157', CHAT_TYPE: 'C', BOT_ID: '39' });
  });

  it("takes the token and member id from the portal's stored secret with --stored-token", async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'events-'));
    const source = ['--source', `file:${join(dir, 'credentials.json')}`, '--prefix', 'p/dev'];
    const webhook = [
      '--webhook',
      'https://sandbox.bitrix24.test/rest/1/abc/',
      '--client-id',
      'stored-client-id-123',
      '--member-id',
      'member-9',
    ];
    await cli(['portal', 'add', '--domain', 'sandbox.bitrix24.test', ...webhook, ...source]);

    // Act
    const stored = await cli([
      'events',
      'send',
      'message-webhook-bot',
      '--url',
      events.url,
      '--domain',
      'sandbox.bitrix24.test',
      '--stored-token',
      ...source,
    ]);
    const unknown = await cli([
      'events',
      'send',
      'message-webhook-bot',
      '--url',
      events.url,
      '--domain',
      'other.bitrix24.test',
      '--stored-token',
      ...source,
    ]);

    // Assess
    expect([stored.code, unknown.code]).toEqual([0, 0]);
    expect(stored.stderr).toBe(
      'Using the stored auth[application_token] and auth[member_id] of p/dev/portals/sandbox.bitrix24.test.\n',
    );
    expect(stored.stdout).not.toContain('stored-client-id-123');
    const [first, second] = events.requests.map(
      (r) => (decodePhpForm(r.body) as { auth: Record<string, string> }).auth,
    );
    expect(first).toMatchObject({
      domain: 'sandbox.bitrix24.test',
      application_token: 'stored-client-id-123',
      member_id: 'member-9',
    });
    expect(second).toMatchObject({
      domain: 'other.bitrix24.test',
      application_token: 'the-client-id-the-bot-was-registered-with',
    });
  });

  it("sends the fixture's token, not the stored one, when --stored-token is not given", async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'events-'));
    const source = ['--source', `file:${join(dir, 'credentials.json')}`, '--prefix', 'p/dev'];
    const webhook = ['--webhook', 'https://sandbox.bitrix24.test/rest/1/abc/', '--client-id', 'stored-client-id-123'];
    await cli(['portal', 'add', '--domain', 'sandbox.bitrix24.test', ...webhook, ...source]);

    // Act
    const result = await cli([
      'events',
      'send',
      'message-webhook-bot',
      '--url',
      events.url,
      '--domain',
      'sandbox.bitrix24.test',
      ...source,
    ]);

    // Assess
    expect(result.code).toBe(0);
    const auth = (decodePhpForm(events.requests[0]!.body) as { auth: Record<string, string> }).auth;
    expect(auth.application_token).toBe('the-client-id-the-bot-was-registered-with');
  });

  it.each([
    ['plain http to another host', 'http://events.example.com'],
    ['plain http to a private address', 'http://10.0.0.7:3000'],
  ])('refuses --stored-token with %s, before reading or sending anything', async (_name, url) => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'events-'));
    const source = ['--source', `file:${join(dir, 'credentials.json')}`, '--prefix', 'p/dev'];

    // Act
    const result = await cli([
      'events',
      'send',
      'message-webhook-bot',
      '--url',
      url,
      '--domain',
      'sandbox.bitrix24.test',
      '--stored-token',
      ...source,
    ]);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--url must be https (plain http only on loopback)');
    expect(events.requests).toHaveLength(0);
  });

  it('reads a fixture file of key=value lines, encoding every value', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'events-'));
    await writeFile(
      join(dir, 'custom.txt'),
      '# a comment\nevent=ONIMBOTMESSAGEADD\n\ndata[PARAMS][MESSAGE]=a & b = c?\nauth[domain]=x.bitrix24.com\n',
    );

    // Act
    const result = await cli(['events', 'send', 'custom.txt', '--url', events.url, '--token', 't0k'], { cwd: dir });

    // Assess
    expect(result.code).toBe(0);
    expect(decodePhpForm(events.requests[0]!.body)).toEqual({
      event: 'ONIMBOTMESSAGEADD',
      data: { PARAMS: { MESSAGE: 'a & b = c?' } },
      auth: { domain: 'x.bitrix24.com', application_token: 't0k' },
    });
  });

  it('prints the status and body of a refusal and exits 1, with the problem code under --json', async () => {
    // Prepare
    events.script({
      status: 401,
      headers: { 'content-type': 'application/problem+json' },
      body: {
        title: 'Event not verified',
        status: 401,
        code: 'EVENT_UNVERIFIED',
        detail: 'The event could not be verified.',
      },
    });
    events.script({ status: 501, body: 'Not Implemented' });

    // Act
    const json = await cli(['events', 'send', 'message-webhook-bot', '--url', events.url, '--json']);
    const human = await cli(['events', 'send', 'message-webhook-bot', '--url', events.url]);

    // Assess
    expect(json.code).toBe(1);
    expect(json.json()).toMatchObject({
      ok: false,
      status: 401,
      event: 'ONIMBOTMESSAGEADD',
      body: { code: 'EVENT_UNVERIFIED' },
      error: { code: 'EVENT_UNVERIFIED' },
    });
    expect(human.code).toBe(1);
    expect(human.stderr).toBe(`error: POST ${events.url}/bitrix/events answered 501:\nNot Implemented\n`);
  });

  it('exits 1 with NETWORK_ERROR when nothing listens', async () => {
    // Prepare
    const port = await freePort();

    // Act
    const result = await cli([
      'events',
      'send',
      'join-chat-webhook-bot',
      '--url',
      `http://127.0.0.1:${port}`,
      '--json',
    ]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({ ok: false, error: { code: 'NETWORK_ERROR' } });
  });

  it('exits 3 for a fixture that does not exist, naming the built-in ones', async () => {
    // Act
    const result = await cli(['events', 'send', 'nope', '--url', events.url]);

    // Assess
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      'built-in ones: command-webhook-bot, delete-webhook-bot, install-oauth-app, join-chat-webhook-bot, ' +
        'message-webhook-bot, update-oauth-app',
    );
    expect(events.requests).toHaveLength(0);
  });

  it('exits 2 for a malformed fixture, a missing --url or a missing fixture argument', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'events-'));
    await writeFile(join(dir, 'bad.txt'), 'event=X\nthis line has no equals sign\n');

    // Act
    const malformed = await cli(['events', 'send', 'bad.txt', '--url', events.url], { cwd: dir });
    const noUrl = await cli(['events', 'send', 'join-chat-webhook-bot']);
    const noFixture = await cli(['events', 'send', '--url', events.url]);

    // Assess
    expect([malformed.code, noUrl.code, noFixture.code]).toEqual([2, 2, 2]);
    expect(malformed.stderr).toContain('fixture line 2 is not key=value');
    expect(noFixture.stderr).toContain('expected <fixture>');
    expect(events.requests).toHaveLength(0);
  });
});
