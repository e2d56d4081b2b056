import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botEventsDependencies, createBotEventsHandler } from '../../../functions/bot-events.js';
import { createTypingHandler, typingDependencies } from '../../../functions/typing.js';
import { startPortal, type FakePortal } from '../../../sandbox/portal/index.js';
import { webhookBotOn } from '../../../devtools/fixtures.js';
import { httpEvent, lambdaContext, signedTypingEvent } from '../../../devtools/lambda.js';
import { encodeForm, messageEvent } from '../../support/bot-events.js';
import { captureLogger } from '../../support/logs.js';
import { recordScenario } from '../../support/report.js';
import { putSecret, readSecret, seedTypingKeys, uniquePrefix } from '../../support/secrets.js';

/**
 * A portal renamed from old.bitrix24.test to new.bitrix24.test: its events name the new domain with the same
 * member id and token, and its old address answers 302 to the new one.
 */
const FILE = 'test/reliability/faults/renamed-portal.test.ts';
const OLD = 'old.bitrix24.test';
const NEW = 'new.bitrix24.test';

let portal: FakePortal;
let bot: ReturnType<typeof webhookBotOn>;
let prefix: string;
let key: string;

beforeAll(async () => {
  portal = await startPortal({ domain: NEW });
  bot = webhookBotOn(portal, 39);
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
  // As stored before the rename: under the old name, indexed by member id.
  await putSecret(`${prefix}/portals/${OLD}`, { ...bot.secret, domain: OLD });
  await putSecret(`${prefix}/portals/members/${portal.memberId}`, { domain: OLD });
});
afterAll(async () => {
  await portal.close();
});

const env = () => ({ CREDENTIALS_SOURCE: 'secrets-manager', TYPING_COALESCE_MS: '0', SECRETS_PREFIX: prefix });
const typingCalls = () => portal.calls.filter((call) => call.method === 'imbot.chat.sendTyping' && call.status === 200);

describe('a renamed portal', () => {
  it('is recognised by member id on its first event from the new domain, its credentials moved, and its old name still served', async () => {
    // Prepare: old behaviour: 401 EVENT_UNVERIFIED for every event, NETWORK_ERROR for every /typing call.
    const events = captureLogger();
    const eventsHandler = createBotEventsHandler(
      botEventsDependencies({ ...env(), INSTALLS_ENABLED: 'true' }, { logger: events.logger }),
    );
    const sender = {
      domain: NEW,
      memberId: portal.memberId,
      clientEndpoint: 'https://evil.example/rest/',
      applicationToken: bot.clientId,
    };
    const typing = createTypingHandler(typingDependencies(env(), { logger: captureLogger().logger }));

    // The old address redirects to the new one: the proof that the new name is the portal's.
    portal.script('app.info', [{ status: 302, body: '', headers: { location: `https://${NEW}/rest/app.info.json` } }]);

    // Act
    const event = await eventsHandler(
      httpEvent({
        path: '/bitrix/events',
        body: encodeForm(messageEvent(sender, { botId: 39 }, { dialogId: '27' })),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      lambdaContext(5_000),
    );
    const typedForEvent = typingCalls().length;
    portal.script('imbot.chat.sendTyping', [
      { status: 302, body: '', headers: { location: `https://${NEW}/rest/1/code/imbot.chat.sendTyping.json` } },
    ]);
    const oldName = await typing(
      signedTypingEvent({ portal: OLD, dialogId: 'chat12', botId: 39 }, key),
      lambdaContext(10_000),
    );

    // Assess
    const moved = await readSecret<{ domain: string; memberId: string }>(`${prefix}/portals/${NEW}`).catch(
      () => undefined,
    );
    const audit = events.records().find((r) => r.message === 'portal renamed: credentials moved to its new domain');
    const row = {
      id: 'faults/portal-renamed',
      section: 'Faults' as const,
      scenario: 'renamed portal: events from the new domain (same member_id), 302 from the old address',
      sent: `a message event naming ${NEW} (the old address answering 302 to it); then POST /typing naming ${OLD}, whose address answers 302 to ${NEW}`,
      got: `event ${event.statusCode}, credentials moved (audit line: ${audit ? 'yes' : 'no'}); /typing ${oldName.statusCode} via the stored ${NEW} credentials`,
      figures: { typingCalls: typingCalls().length, redirectsAnswered: 1 },
      command: `node scripts/test.mjs ${FILE}`,
      observations: typingCalls().length,
    };
    recordScenario(row);
    expect(event.statusCode).toBe(200);
    expect(typedForEvent).toBe(1);
    expect(moved).toMatchObject({ domain: NEW, memberId: portal.memberId });
    expect(audit).toMatchObject({ portal: NEW, renamedFrom: OLD, stored: true });
    expect(oldName.statusCode).toBe(200);
    expect(typingCalls()).toHaveLength(2);
  });

  it('refuses an event claiming a new name the old address does not redirect to, storing nothing', async () => {
    // Prepare: a genuine token (a webhook bot's CLIENT_ID sits in access logs) claiming a name of the sender's choice.
    const eventsHandler = createBotEventsHandler(
      botEventsDependencies({ ...env(), INSTALLS_ENABLED: 'true' }, { logger: captureLogger().logger }),
    );
    const claimed = 'elsewhere.bitrix24.test';
    const sender = {
      domain: claimed,
      memberId: portal.memberId,
      clientEndpoint: 'https://evil.example/rest/',
      applicationToken: bot.clientId,
    };
    const before = typingCalls().length;

    // Act
    const event = await eventsHandler(
      httpEvent({
        path: '/bitrix/events',
        body: encodeForm(messageEvent(sender, { botId: 39 }, { dialogId: '27' })),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      lambdaContext(5_000),
    );

    // Assess
    expect(event.statusCode).toBe(401);
    expect(typingCalls().length).toBe(before);
    await expect(readSecret(`${prefix}/portals/${claimed}`)).rejects.toThrow();
  });

  it('answers a /typing call whose redirect names an unverified host with 502 PORTAL_MOVED and no call there', async () => {
    // Prepare
    const typing = createTypingHandler(typingDependencies(env(), { logger: captureLogger().logger }));
    portal.script('imbot.chat.sendTyping', [
      { status: 302, body: '', headers: { location: 'https://evil.example/rest/1/code/imbot.chat.sendTyping.json' } },
    ]);
    const before = typingCalls().length;

    // Act
    const answer = await typing(
      signedTypingEvent({ portal: OLD, dialogId: 'chat12', botId: 39 }, key),
      lambdaContext(10_000),
    );

    // Assess
    expect(answer.statusCode).toBe(502);
    expect(JSON.parse(answer.body as string)).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamCode: 'PORTAL_MOVED' });
    expect(typingCalls().length).toBe(before);
  });
});
