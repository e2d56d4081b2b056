import { describe, expect, it } from 'vitest';
import { Credentials, type PortalCredentials } from '../../../lib/portal/index.js';
import { MemoryStore } from '../../support/memory-store.js';
import { ServiceError } from '../../../lib/errors/index.js';
import type { BotEvent, EventAuth } from '../../../lib/events/bot-event.js';
import { secretsEqual, verifyEventOrigin } from '../../../lib/events/verification.js';
import { createLogger } from '../../../lib/logging/index.js';

const PREFIX = 'unit/test';

const WEBHOOK_CLIENT_ID = 'f3b9c1d2e4a5968778695a4b3c2d1e0f';
const APPLICATION_TOKEN = '831c76b092f9f135d9b6b36c3a720757';
const MEMBER_ID = 'bac1cd5c8940947a75e0d71b1a84e348';

const webhookPortal: PortalCredentials = {
  domain: 'webhook.bitrix24.com',
  memberId: MEMBER_ID,
  botId: 39,
  webhook: { url: 'https://webhook.bitrix24.com/rest/1/abcdefgh12345678/', clientId: WEBHOOK_CLIENT_ID },
};
const oauthPortal: PortalCredentials = {
  domain: 'oauth.bitrix24.com',
  memberId: MEMBER_ID,
  applicationToken: APPLICATION_TOKEN,
  oauth: {
    clientId: 'app.0123456789abcdef',
    clientSecret: 'client-secret-0123456789abcdef',
    accessToken: 'access-token-0123456789abcdef',
    refreshToken: 'refresh-token-0123456789abcdef',
    expiresAt: 1_900_000_000,
    clientEndpoint: 'https://oauth.bitrix24.com/rest/',
    serverEndpoint: 'https://oauth.bitrix.info/rest/',
  },
};
const noMemberPortal: PortalCredentials = { ...webhookPortal, domain: 'nomember.bitrix24.com', memberId: undefined };

function credentialsWith(...portals: PortalCredentials[]): { credentials: Credentials; store: MemoryStore } {
  const store = new MemoryStore();
  for (const portal of portals) store.values.set(`${PREFIX}/portals/${portal.domain}`, JSON.stringify(portal));
  const credentials = new Credentials(store, PREFIX, createLogger({ sink: () => undefined }), {
    ttlMs: 60_000,
    staleMs: 60_000,
  });
  return { credentials, store };
}

const eventFrom = (auth: Partial<EventAuth>): BotEvent => ({
  name: 'ONIMBOTMESSAGEADD',
  auth: { domain: webhookPortal.domain, memberId: MEMBER_ID, ...auth },
  data: {},
});

async function refusal(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    return error as ServiceError;
  }
  throw new Error('expected the event to be refused, but it was verified');
}

describe('secretsEqual', () => {
  it('is true for equal strings', () => {
    expect(secretsEqual(APPLICATION_TOKEN, `${APPLICATION_TOKEN}`)).toBe(true);
    expect(secretsEqual('', '')).toBe(true);
    expect(secretsEqual('Светлана ✓', 'Светлана ✓')).toBe(true);
  });

  it('is false for strings that differ in one character, in length or in case', () => {
    expect(secretsEqual(APPLICATION_TOKEN, APPLICATION_TOKEN.slice(0, -1) + '8')).toBe(false);
    expect(secretsEqual(APPLICATION_TOKEN, APPLICATION_TOKEN.slice(0, -1))).toBe(false);
    expect(secretsEqual(APPLICATION_TOKEN, `${APPLICATION_TOKEN}0`)).toBe(false);
    expect(secretsEqual('abc', 'ABC')).toBe(false);
    expect(secretsEqual('', 'a')).toBe(false);
  });
});

describe('verifyEventOrigin', () => {
  it("verifies a webhook bot's event whose application_token is the stored CLIENT_ID", async () => {
    // Prepare
    const { credentials } = credentialsWith(webhookPortal);

    // Act
    const portal = await verifyEventOrigin(credentials, eventFrom({ applicationToken: WEBHOOK_CLIENT_ID }));

    // Assess
    expect(portal).toMatchObject({ domain: webhookPortal.domain, botId: 39, webhook: { clientId: WEBHOOK_CLIENT_ID } });
  });

  it("verifies an OAuth application's event whose application_token is the stored one", async () => {
    const { credentials } = credentialsWith(oauthPortal);
    const portal = await verifyEventOrigin(
      credentials,
      eventFrom({ domain: oauthPortal.domain, applicationToken: APPLICATION_TOKEN }),
    );
    expect(portal.domain).toBe(oauthPortal.domain);
  });

  it('accepts either token when the secret holds both an application token and a CLIENT_ID', async () => {
    const both: PortalCredentials = { ...webhookPortal, applicationToken: APPLICATION_TOKEN };
    const { credentials } = credentialsWith(both);
    await expect(
      verifyEventOrigin(credentials, eventFrom({ applicationToken: APPLICATION_TOKEN })),
    ).resolves.toBeDefined();
    await expect(
      verifyEventOrigin(credentials, eventFrom({ applicationToken: WEBHOOK_CLIENT_ID })),
    ).resolves.toBeDefined();
  });

  it('looks the portal up by its normalised domain', async () => {
    const { credentials } = credentialsWith(webhookPortal);
    const portal = await verifyEventOrigin(
      credentials,
      eventFrom({ domain: ' WebHook.Bitrix24.COM. ', applicationToken: WEBHOOK_CLIENT_ID }),
    );
    expect(portal.domain).toBe(webhookPortal.domain);
  });

  it('accepts any member_id when the secret holds none', async () => {
    const { credentials } = credentialsWith(noMemberPortal);
    await expect(
      verifyEventOrigin(
        credentials,
        eventFrom({ domain: noMemberPortal.domain, memberId: undefined, applicationToken: WEBHOOK_CLIENT_ID }),
      ),
    ).resolves.toBeDefined();
  });

  describe('refuses with EVENT_UNVERIFIED', () => {
    const cases: Array<[string, PortalCredentials[], Partial<EventAuth>]> = [
      ['a wrong application_token', [webhookPortal], { applicationToken: 'f3b9c1d2e4a5968778695a4b3c2d1e0e' }],
      ['a missing application_token', [webhookPortal], { applicationToken: undefined }],
      ['an empty application_token', [webhookPortal], { applicationToken: '' }],
      ['the token of another portal', [webhookPortal, oauthPortal], { applicationToken: APPLICATION_TOKEN }],
      [
        'a token that is a prefix of the stored one',
        [webhookPortal],
        { applicationToken: WEBHOOK_CLIENT_ID.slice(0, 16) },
      ],
      [
        'a wrong member_id',
        [webhookPortal],
        { applicationToken: WEBHOOK_CLIENT_ID, memberId: 'bac1cd5c8940947a75e0d71b1a84e349' },
      ],
      [
        'a missing member_id when the secret holds one',
        [webhookPortal],
        { applicationToken: WEBHOOK_CLIENT_ID, memberId: undefined },
      ],
      ['an unknown domain', [webhookPortal], { domain: 'unknown.bitrix24.com', applicationToken: WEBHOOK_CLIENT_ID }],
      ['a domain that is not a host name', [webhookPortal], { domain: '../app', applicationToken: WEBHOOK_CLIENT_ID }],
      // A webhook portal's secret holds no application token: presenting "nothing" must not match "nothing".
      [
        'no token against a portal that stores none',
        [noMemberPortal],
        { domain: noMemberPortal.domain, applicationToken: undefined, memberId: undefined },
      ],
    ];

    it.each(cases)('for %s', async (_name, portals, auth) => {
      const { credentials } = credentialsWith(...portals);
      const error = await refusal(verifyEventOrigin(credentials, eventFrom(auth)));
      expect(error.code).toBe('EVENT_UNVERIFIED');
      expect(error.status).toBe(401);
    });
  });

  it('refuses a portal whose secret holds no token at all', async () => {
    const tokenless: PortalCredentials = {
      domain: 'tokenless.bitrix24.com',
      webhook: { url: 'https://tokenless.bitrix24.com/rest/1/abcdefgh12345678/' },
    };
    const { credentials } = credentialsWith(tokenless);
    const error = await refusal(
      verifyEventOrigin(
        credentials,
        eventFrom({ domain: tokenless.domain, applicationToken: 'anything-at-all', memberId: undefined }),
      ),
    );
    expect(error.code).toBe('EVENT_UNVERIFIED');
  });

  it('answers an unknown portal exactly as it answers a wrong token', async () => {
    const { credentials } = credentialsWith(webhookPortal);
    const unknown = await refusal(
      verifyEventOrigin(
        credentials,
        eventFrom({ domain: 'unknown.bitrix24.com', applicationToken: WEBHOOK_CLIENT_ID }),
      ),
    );
    const wrong = await refusal(verifyEventOrigin(credentials, eventFrom({ applicationToken: 'wrong' })));
    const badMember = await refusal(
      verifyEventOrigin(credentials, eventFrom({ applicationToken: WEBHOOK_CLIENT_ID, memberId: 'x' })),
    );
    expect([unknown.code, unknown.message]).toEqual([wrong.code, wrong.message]);
    expect([badMember.code, badMember.message]).toEqual([wrong.code, wrong.message]);
  });

  it('never reads a secret outside <prefix>/portals/ for a hostile domain', async () => {
    // Prepare
    const { credentials, store } = credentialsWith(webhookPortal);

    // Act
    for (const domain of ['../app', 'a/../../typing-keys', 'x.com/../../app', '*', '']) {
      await refusal(verifyEventOrigin(credentials, eventFrom({ domain, applicationToken: WEBHOOK_CLIENT_ID })));
    }

    // Assess
    expect(store.names).toEqual([]);
  });
});
