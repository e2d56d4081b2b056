import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Deadline } from '../../../lib/deadline/index.js';
import { ServiceError } from '../../../lib/errors/index.js';
import type { BotEvent } from '../../../lib/events/bot-event.js';
import { acceptInstall, domainAllowed, type InstallPolicy } from '../../../lib/events/install.js';
import { Credentials, type PortalCredentials } from '../../../lib/portal/index.js';
import { OAUTH_TOKEN_PATH, startPortal, type FakePortal } from '../../../sandbox/portal/index.js';
import { random } from '../../../devtools/fixtures.js';
import { captureLogger } from '../../support/logs.js';
import { MemoryStore } from '../../support/memory-store.js';

describe('domainAllowed', () => {
  it('allows a domain named exactly', () => {
    expect(domainAllowed('example.bitrix24.com', ['other.bitrix24.com', 'example.bitrix24.com'])).toBe(true);
  });

  it('allows any subdomain of a *.suffix rule', () => {
    expect(domainAllowed('example.bitrix24.com', ['*.bitrix24.com'])).toBe(true);
    expect(domainAllowed('a.b.bitrix24.com', ['*.bitrix24.com'])).toBe(true);
  });

  it('does not let *.suffix match the bare suffix itself', () => {
    expect(domainAllowed('bitrix24.com', ['*.bitrix24.com'])).toBe(false);
  });

  it('does not let *.suffix match a domain that merely ends in the same letters', () => {
    expect(domainAllowed('evilbitrix24.com', ['*.bitrix24.com'])).toBe(false);
    expect(domainAllowed('bitrix24.com.evil.example', ['*.bitrix24.com'])).toBe(false);
  });

  it('does not treat an exact rule as a suffix or a prefix', () => {
    expect(domainAllowed('a.example.bitrix24.com', ['example.bitrix24.com'])).toBe(false);
    expect(domainAllowed('example.bitrix24.co', ['example.bitrix24.com'])).toBe(false);
  });

  it('allows nothing with an empty allow-list', () => {
    expect(domainAllowed('example.bitrix24.com', [])).toBe(false);
  });

  it('gives "*" and "*." no special meaning', () => {
    expect(domainAllowed('example.bitrix24.com', ['*'])).toBe(false);
    expect(domainAllowed('example.bitrix24.com', ['*.'])).toBe(false);
  });
});

describe('acceptInstall', () => {
  const PREFIX = 'unit/install';
  const ADMIN = 1;
  const USER = 27;
  let portal: FakePortal;
  let app: { clientId: string; clientSecret: string };
  let store: MemoryStore;
  let credentials: Credentials;
  let policy: InstallPolicy;
  let capture: ReturnType<typeof captureLogger>;
  const secretName = () => `${PREFIX}/portals/127.0.0.1`;
  const stored = () => JSON.parse(store.values.get(secretName()) ?? 'null') as PortalCredentials | null;

  beforeEach(async () => {
    // Our OAuth server and the portal it names are one loopback server, so the client_endpoint host is 127.0.0.1.
    portal = await startPortal({ domain: '127.0.0.1' });
    app = { clientId: `app.${random(6)}`, clientSecret: random(20) };
    portal.addApp(app);
    store = new MemoryStore();
    store.values.set(`${PREFIX}/app`, JSON.stringify(app));
    capture = captureLogger();
    credentials = new Credentials(store, PREFIX, capture.logger, {
      ttlMs: 0,
      staleMs: 0,
      allowLoopbackEndpoints: true,
    });
    policy = {
      oauthServer: portal.oauthServer,
      allowedDomains: ['127.0.0.1'],
      timeoutMs: 2_000,
      allowLoopbackEndpoints: true,
    };
  });
  afterEach(async () => {
    await portal.close();
  });

  /** What an install or update event carries: the tokens the platform issued to `userId` for our app. */
  function installBy(userId: number, applicationToken: string, name = 'ONAPPINSTALL'): BotEvent {
    const tokens = portal.issueTokens(app.clientId, { userId });
    return {
      name,
      auth: {
        domain: '127.0.0.1',
        memberId: portal.memberId,
        applicationToken,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
      },
      data: {},
    };
  }

  const install = (event: BotEvent) =>
    acceptInstall(event, { credentials, logger: capture.logger, policy, deadline: Deadline.in(5_000) });

  async function refused(event: BotEvent): Promise<string> {
    const error = await install(event).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).code).toBe('EVENT_UNVERIFIED');
    const line = capture.records().find((r) => r.message === 'install refused');
    return String(line?.reason);
  }

  it("stores an administrator's install: the application token, the member id and a fresh pair", async () => {
    // Prepare
    const token = random(16);

    // Act
    await install(installBy(ADMIN, token));

    // Assess
    expect(stored()).toMatchObject({
      domain: '127.0.0.1',
      memberId: portal.memberId,
      applicationToken: token,
      oauth: { clientId: app.clientId, clientEndpoint: portal.clientEndpoint },
    });
    expect(portal.calls.map((c) => [c.method, c.userId, c.status])).toEqual([['user.admin', ADMIN, 200]]);
  });

  it('refuses a first install by an ordinary user, stores nothing and logs why', async () => {
    // Act
    const reason = await refused(installBy(USER, random(16)));

    // Assess
    expect(reason).toBe('not an administrator, and not the stored application token');
    expect(stored()).toBeNull();
  });

  it("refuses an ordinary user's update bringing a token of their choice: the stored token and pair stay", async () => {
    // Prepare: the administrator installed the app; an ordinary user holds a genuine refresh token of ours
    const genuine = random(16);
    await install(installBy(ADMIN, genuine));
    const before = stored();

    // Act
    const reason = await refused(installBy(USER, 'attacker-chosen-token-0000', 'ONAPPUPDATE'));

    // Assess
    expect(reason).toBe('not an administrator, and not the stored application token');
    expect(stored()).toEqual(before);
  });

  it("accepts an ordinary user's update bringing the stored token, and keeps the administrator's pair", async () => {
    // Prepare
    const genuine = random(16);
    await install(installBy(ADMIN, genuine));
    const before = stored();

    // Act
    const portalCredentials = await install(installBy(USER, genuine, 'ONAPPUPDATE'));

    // Assess
    expect(portalCredentials).toEqual(before);
    expect(stored()).toEqual(before);
  });

  it("takes an administrator's reinstall with a new application token and a new pair", async () => {
    // Prepare
    await install(installBy(ADMIN, random(16)));
    const before = stored()!;
    const renewed = random(16);

    // Act
    await install(installBy(ADMIN, renewed, 'ONAPPUPDATE'));

    // Assess
    const after = stored()!;
    expect(after.applicationToken).toBe(renewed);
    expect(after.oauth?.refreshToken).not.toBe(before.oauth?.refreshToken);
    expect(after.memberId).toBe(before.memberId);
  });

  it('never changes the stored member id: an install whose OAuth answer names another is refused', async () => {
    // Prepare
    const previous = {
      domain: '127.0.0.1',
      memberId: 'aaaabbbbccccddddeeeeffff00001111',
      webhook: { url: 'https://127.0.0.1/rest/1/abc/', clientId: random(16) },
    };
    store.values.set(secretName(), JSON.stringify(previous));

    // Act
    const reason = await refused(installBy(ADMIN, random(16)));

    // Assess
    expect(reason).toBe('member_id differs from the stored portal');
    expect(stored()).toEqual(previous);
  });

  it.each([
    ['an HTML page', { status: 200, body: '<html>maintenance</html>' }],
    ['a JSON null', { status: 200, body: null }],
    ['a 500 with an error code', { status: 500, body: { error: 'INTERNAL_SERVER_ERROR' } }],
    ['a 401 invalid_client', { status: 401, body: { error: 'invalid_client' } }],
  ])('answers 401, never 500, when the OAuth server answers %s', async (_name, answer) => {
    // Prepare
    portal.script(OAUTH_TOKEN_PATH, [answer]);

    // Act
    const reason = await refused(installBy(ADMIN, random(16)));

    // Assess
    expect(reason).toBe('the OAuth server did not confirm the refresh token');
    expect(stored()).toBeNull();
  });

  it('refuses an application token too short to be a proof before calling the OAuth server', async () => {
    // Act
    const reason = await refused(installBy(ADMIN, 'short'));

    // Assess
    expect(reason).toBe('auth[application_token] is too short');
    expect(portal.refreshCalls).toEqual([]);
  });
});
