import { describe, expect, it } from 'vitest';
import { toBotEvent, type BotEvent } from '../../../lib/events/bot-event.js';
import { parseFormBody } from '../../../lib/events/form-body.js';
import { verifyEventOrRenamed } from '../../../lib/events/renamed-portal.js';
import type { HttpAnswer, HttpTransport } from '../../../lib/bitrix24/http-transport.js';
import { Credentials, parsePortalCredentials, type PortalCredentials } from '../../../lib/portal/index.js';
import { encodeForm, messageEvent, withField, type EventPortal } from '../../support/bot-events.js';
import { captureLogger } from '../../support/logs.js';
import { MemoryStore } from '../../support/memory-store.js';
import { ServiceError } from '../../../lib/errors/index.js';

/**
 * Portals can change their address: events then arrive with the new `auth[domain]`, the same `member_id` and
 * token. The portal is recognised by its member id, its credentials moved, and an audit line written.
 */
const PREFIX = 'bitrix24-typing/test';
const MEMBER_ID = 'bac1cd5c8940947a75e0d71b1a84e348';
const CLIENT_ID = 'typingbotclientid0000000000000001';
const old: PortalCredentials = {
  domain: 'old.bitrix24.com',
  memberId: MEMBER_ID,
  botId: 39,
  webhook: { url: 'https://old.bitrix24.com/rest/1/k3yc0de9x7w2q4/', clientId: CLIENT_ID },
};
const sender: EventPortal = {
  domain: 'new.bitrix24.com',
  memberId: MEMBER_ID,
  clientEndpoint: 'https://new.bitrix24.com/rest/',
  applicationToken: CLIENT_ID,
};
/** The old address as the probe sees it: a 302 to `location`, or an ordinary answer. */
const answer = (status: number, headers: Record<string, string> = {}, text = ''): HttpAnswer => ({
  status,
  header: (name) => headers[name],
  text,
});
const oldAddress =
  (location?: string): HttpTransport =>
  async () =>
    location === undefined ? answer(401, {}, '{"error":"NO_AUTH_FOUND"}') : answer(302, { location });
const redirectsToNew = oldAddress('https://new.bitrix24.com/rest/app.info.json');

const eventOf = (fields: Array<[string, string]>): BotEvent =>
  toBotEvent(parseFormBody(Buffer.from(encodeForm(fields))));

function setUp(options: { indexed?: boolean; stored?: PortalCredentials[] } = {}) {
  const store = new MemoryStore();
  for (const secret of options.stored ?? [old]) {
    store.values.set(`${PREFIX}/portals/${secret.domain}`, JSON.stringify(secret));
  }
  if (options.indexed !== false) {
    store.values.set(`${PREFIX}/portals/members/${MEMBER_ID}`, JSON.stringify({ domain: old.domain }));
  }
  const capture = captureLogger();
  const credentials = new Credentials(store, PREFIX, capture.logger, { ttlMs: 60_000, staleMs: 0 });
  return { store, credentials, capture };
}

async function refusalOf(promise: Promise<unknown>): Promise<ServiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  return error as ServiceError;
}

const stored = (store: MemoryStore, domain: string) => {
  const raw = store.values.get(`${PREFIX}/portals/${domain}`);
  return raw === undefined ? undefined : parsePortalCredentials(raw, domain);
};

describe('verifyEventOrRenamed', () => {
  it('recognises a renamed portal by its member id and moves its credentials to the new domain', async () => {
    // Prepare: old behaviour answered 401 EVENT_UNVERIFIED (no secret under the new name).
    const { store, credentials, capture } = setUp();

    // Act
    const portal = await verifyEventOrRenamed(credentials, eventOf(messageEvent(sender, { botId: 39 })), {
      logger: capture.logger,
      mayStore: true,
      transport: redirectsToNew,
    });

    // Assess
    expect(portal).toMatchObject({
      domain: 'new.bitrix24.com',
      memberId: MEMBER_ID,
      webhook: { url: 'https://new.bitrix24.com/rest/1/k3yc0de9x7w2q4/', clientId: CLIENT_ID },
    });
    expect(stored(store, 'new.bitrix24.com')).toEqual(portal);
    expect(JSON.parse(store.values.get(`${PREFIX}/portals/members/${MEMBER_ID}`) ?? '{}')).toEqual({
      domain: 'new.bitrix24.com',
    });
    expect(
      capture.records().find((r) => r.message === 'portal renamed: credentials moved to its new domain'),
    ).toMatchObject({
      level: 'warn',
      portal: 'new.bitrix24.com',
      renamedFrom: 'old.bitrix24.com',
      memberId: MEMBER_ID,
      stored: true,
    });
  });

  it('serves the event but stores nothing where the function may not write secrets, and says so at error level', async () => {
    // Prepare
    const { store, credentials, capture } = setUp();

    // Act
    const portal = await verifyEventOrRenamed(credentials, eventOf(messageEvent(sender, { botId: 39 })), {
      logger: capture.logger,
      mayStore: false,
      transport: redirectsToNew,
    });
    const again = await credentials.portal('new.bitrix24.com');

    // Assess
    expect(portal.domain).toBe('new.bitrix24.com');
    expect(again).toEqual(portal);
    expect(stored(store, 'new.bitrix24.com')).toBeUndefined();
    expect(capture.records().find((r) => r.message?.toString().startsWith('portal renamed'))).toMatchObject({
      level: 'error',
      stored: false,
    });
  });

  it.each([
    ['a wrong token', withField(messageEvent(sender, { botId: 39 }), 'auth[application_token]', 'x'.repeat(32))],
    ['another member id', withField(messageEvent(sender, { botId: 39 }), 'auth[member_id]', 'f'.repeat(32))],
  ])('refuses an event from an unknown domain with %s as before', async (_label, fields) => {
    const { store, credentials, capture } = setUp();
    const error = await refusalOf(
      verifyEventOrRenamed(credentials, eventOf(fields), {
        logger: capture.logger,
        mayStore: true,
        transport: redirectsToNew,
      }),
    );
    expect(error.code).toBe('EVENT_UNVERIFIED');
    expect(stored(store, 'new.bitrix24.com')).toBeUndefined();
  });

  it('refuses when no portal is indexed under the member id', async () => {
    const { credentials, capture } = setUp({ indexed: false });
    const error = await refusalOf(
      verifyEventOrRenamed(credentials, eventOf(messageEvent(sender, { botId: 39 })), {
        logger: capture.logger,
        mayStore: true,
        transport: redirectsToNew,
      }),
    );
    expect(error.code).toBe('EVENT_UNVERIFIED');
  });

  it('refuses when the indexed portal carries another member id (the index is only a hint)', async () => {
    const { credentials, capture } = setUp({ stored: [{ ...old, memberId: 'a'.repeat(32) }] });
    const error = await refusalOf(
      verifyEventOrRenamed(credentials, eventOf(messageEvent(sender, { botId: 39 })), {
        logger: capture.logger,
        mayStore: true,
        transport: redirectsToNew,
      }),
    );
    expect(error.code).toBe('EVENT_UNVERIFIED');
  });
});

describe('verifyEventOrRenamed: the new name must be where the old address redirects', () => {
  it.each([
    ['does not redirect', oldAddress()],
    ['redirects elsewhere', oldAddress('https://evil.example/rest/app.info.json')],
  ])('refuses a genuine token claiming a new name when the old address %s, storing nothing', async (_label, probe) => {
    // Prepare: a webhook bot's token (its CLIENT_ID) sits in access logs; with it alone anyone could otherwise
    // move the credentials, webhook code included, to a name of their choosing.
    const { store, credentials, capture } = setUp();

    // Act
    const error = await refusalOf(
      verifyEventOrRenamed(credentials, eventOf(messageEvent(sender, { botId: 39 })), {
        logger: capture.logger,
        mayStore: true,
        transport: probe,
      }),
    );

    // Assess
    expect(error.code).toBe('EVENT_UNVERIFIED');
    expect(stored(store, 'new.bitrix24.com')).toBeUndefined();
    expect(capture.records().find((r) => r.message?.toString().startsWith('portal rename refused'))).toMatchObject({
      level: 'warn',
      portal: 'new.bitrix24.com',
      renamedFrom: 'old.bitrix24.com',
    });
  });

  it('asks the old address for a REST method without any credentials', async () => {
    // Prepare
    const { credentials, capture } = setUp();
    const asked: Array<{ url: string; headers: unknown; body: unknown }> = [];
    const probe: HttpTransport = async (call) => {
      asked.push({ url: String(call.url), headers: call.headers, body: call.body });
      return answer(302, { location: 'https://new.bitrix24.com/rest/app.info.json' });
    };

    // Act
    await verifyEventOrRenamed(credentials, eventOf(messageEvent(sender, { botId: 39 })), {
      logger: capture.logger,
      mayStore: false,
      transport: probe,
    });

    // Assess: not the webhook URL, whose path holds the webhook's code.
    expect(asked).toEqual([
      { url: 'https://old.bitrix24.com/rest/app.info.json', headers: undefined, body: undefined },
    ]);
  });
});

describe('the member-id index', () => {
  it('is written when a portal is stored, and not by a token rotation', async () => {
    // Prepare
    const { store, credentials } = setUp({ indexed: false, stored: [] });

    // Act
    await credentials.savePortal(old);
    const afterSave = store.values.get(`${PREFIX}/portals/members/${MEMBER_ID}`);
    store.values.delete(`${PREFIX}/portals/members/${MEMBER_ID}`);
    await credentials.savePortal({ ...old, botId: 40 }, { key: 'rotation-key' });

    // Assess
    expect(JSON.parse(afterSave ?? '{}')).toEqual({ domain: 'old.bitrix24.com' });
    expect(store.values.has(`${PREFIX}/portals/members/${MEMBER_ID}`)).toBe(false);
  });
});
