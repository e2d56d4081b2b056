import { describe, expect, it } from 'vitest';
import {
  CredentialsFormatError,
  isAcceptableEndpoint,
  normalizeDomain,
  parsePortalCredentials,
} from '../../../lib/portal/portal-credentials.js';
import { redactSecrets } from '../../../lib/logging/index.js';

const NAME = 'bitrix24-typing/test/portals/example.bitrix24.com';

function webhookSecret(overrides: Record<string, unknown> = {}) {
  return {
    domain: 'example.bitrix24.com',
    memberId: 'a223c6b3710f85df22e9377d6c4f7553',
    botId: 39,
    webhook: { url: 'https://example.bitrix24.com/rest/1/k3yc0de9x7w2q4/', clientId: 'typingbotclientid01' },
    ...overrides,
  };
}

function oauth(overrides: Record<string, unknown> = {}) {
  return {
    clientId: 'local.5f8a7b6c5d4e3.12345678',
    clientSecret: 'Zq8sL0cS3cr3tV4lu3xxxxxxxxxxxxxxxxxxxxxxxxxx',
    accessToken: 'acc355t0k3n0000000000000000000000000000000001',
    refreshToken: 'r3fr35ht0k3n00000000000000000000000000000001',
    expiresAt: 1_700_003_600,
    clientEndpoint: 'https://example.bitrix24.com/rest/',
    serverEndpoint: 'https://oauth.bitrix.info/rest/',
    ...overrides,
  };
}

function oauthSecret(overrides: Record<string, unknown> = {}, oauthOverrides: Record<string, unknown> = {}) {
  return {
    domain: 'example.bitrix24.com',
    applicationToken: 'app70k3n00000000000000000000000001',
    oauth: oauth(oauthOverrides),
    ...overrides,
  };
}

function formatError(value: unknown): CredentialsFormatError {
  try {
    parsePortalCredentials(typeof value === 'string' ? value : JSON.stringify(value), NAME);
  } catch (error) {
    expect(error).toBeInstanceOf(CredentialsFormatError);
    return error as CredentialsFormatError;
  }
  throw new Error('expected the secret to be refused');
}

describe('parsePortalCredentials', () => {
  it('reads a webhook-mode portal secret', () => {
    // Act
    const portal = parsePortalCredentials(JSON.stringify(webhookSecret()), NAME);

    // Assess
    expect(portal).toEqual({
      domain: 'example.bitrix24.com',
      memberId: 'a223c6b3710f85df22e9377d6c4f7553',
      applicationToken: undefined,
      botId: 39,
      webhook: { url: 'https://example.bitrix24.com/rest/1/k3yc0de9x7w2q4/', clientId: 'typingbotclientid01' },
    });
  });

  it('reads a minimal webhook-mode secret with only domain and url', () => {
    // Act
    const portal = parsePortalCredentials(
      JSON.stringify({ domain: 'min.bitrix24.com', webhook: { url: 'https://min.bitrix24.com/rest/1/abcdefghij' } }),
      NAME,
    );

    // Assess
    expect(portal.domain).toBe('min.bitrix24.com');
    expect(portal.botId).toBeUndefined();
    expect(portal.webhook?.url).toBe('https://min.bitrix24.com/rest/1/abcdefghij/');
    expect(portal.webhook?.clientId).toBeUndefined();
  });

  it('reads an OAuth-mode portal secret and adds the missing trailing slash to endpoints', () => {
    // Act
    const portal = parsePortalCredentials(
      JSON.stringify(
        oauthSecret(
          {},
          { clientEndpoint: 'https://example.bitrix24.com/rest', serverEndpoint: 'https://oauth.bitrix.info/rest' },
        ),
      ),
      NAME,
    );

    // Assess
    expect(portal.webhook).toBeUndefined();
    expect(portal.oauth).toEqual({
      ...oauth(),
      clientEndpoint: 'https://example.bitrix24.com/rest/',
      serverEndpoint: 'https://oauth.bitrix.info/rest/',
    });
    expect(portal.applicationToken).toBe('app70k3n00000000000000000000000001');
  });

  it('normalises the domain to lower case', () => {
    // Act
    const portal = parsePortalCredentials(JSON.stringify(webhookSecret({ domain: 'Example.Bitrix24.COM' })), NAME);

    // Assess
    expect(portal.domain).toBe('example.bitrix24.com');
  });

  it('registers every secret value with the log redactor', () => {
    // Prepare
    const secret = webhookSecret({ applicationToken: 'apptok-redact-me-000001' });

    // Act
    parsePortalCredentials(JSON.stringify(secret), NAME);
    const portal = parsePortalCredentials(
      JSON.stringify(oauthSecret({ applicationToken: 'apptok-redact-me-000002' })),
      NAME,
    );

    // Assess
    const line = redactSecrets(
      JSON.stringify({
        url: secret.webhook.url,
        path: '/rest/1/k3yc0de9x7w2q4/',
        clientId: secret.webhook.clientId,
        applicationToken: 'apptok-redact-me-000001',
        oauth: portal.oauth,
        oauthAppToken: 'apptok-redact-me-000002',
      }),
    );
    for (const value of [
      secret.webhook.url,
      '/rest/1/k3yc0de9x7w2q4/',
      secret.webhook.clientId,
      'apptok-redact-me-000001',
      'apptok-redact-me-000002',
      oauth().clientSecret,
      oauth().accessToken,
      oauth().refreshToken,
    ]) {
      expect(line).not.toContain(value);
    }
  });

  it('accepts plain http endpoints on loopback where loopback is allowed (the sandbox, the tests)', () => {
    // Act
    const portal = parsePortalCredentials(
      JSON.stringify(
        oauthSecret(
          {},
          { clientEndpoint: 'http://127.0.0.1:4010/rest/', serverEndpoint: 'http://localhost:4011/rest/' },
        ),
      ),
      NAME,
      { allowLoopback: true },
    );

    // Assess
    expect(portal.oauth?.clientEndpoint).toBe('http://127.0.0.1:4010/rest/');
    expect(portal.oauth?.serverEndpoint).toBe('http://localhost:4011/rest/');
  });

  it.each([
    [
      'the Lambda Runtime API as a webhook',
      webhookSecret({ webhook: { url: 'http://127.0.0.1:9001/2018-06-01/runtime/', clientId: 'c'.repeat(32) } }),
    ],
    ['a loopback OAuth endpoint', oauthSecret({}, { clientEndpoint: 'http://localhost:4010/rest/' })],
  ])('refuses plain http on loopback by default: %s', (_name, secret) => {
    // Act
    const error = formatError(secret);

    // Assess
    expect(error.message).toMatch(/must be an https URL$/);
  });

  it.each([
    [
      'webhook.clientId',
      webhookSecret({
        webhook: { url: 'https://example.bitrix24.com/rest/1/k3yc0de9x7w2q4/', clientId: 'fifteen-chars-x' },
      }),
    ],
    ['applicationToken', oauthSecret({ applicationToken: 'short-token' })],
  ])('refuses a %s shorter than 16 characters: it is the only proof an event carries', (path, secret) => {
    // Act
    const error = formatError(secret);

    // Assess
    expect(error.message).toBe(`${path} must be at least 16 characters`);
  });

  it.each([
    ['not JSON', '{domain:'],
    ['JSON null', 'null'],
    ['a JSON string', '"example.bitrix24.com"'],
  ])('refuses a secret that is %s', (_label, text) => {
    // Act
    const error = formatError(text);

    // Assess
    expect(error.message).toContain(NAME);
  });

  it.each([
    ['domain', webhookSecret({ domain: undefined })],
    ['domain', webhookSecret({ domain: '' })],
    ['domain', webhookSecret({ domain: 42 })],
    ['domain', webhookSecret({ domain: '../portals/other' })],
    ['domain', webhookSecret({ domain: 'localhost' })],
    ['memberId', webhookSecret({ memberId: 7 })],
    ['memberId', webhookSecret({ memberId: '' })],
    ['applicationToken', webhookSecret({ applicationToken: false })],
    ['botId', webhookSecret({ botId: 0 })],
    ['botId', webhookSecret({ botId: -3 })],
    ['botId', webhookSecret({ botId: 1.5 })],
    ['botId', webhookSecret({ botId: '39' })],
    ['webhook.url', webhookSecret({ webhook: {} })],
    ['webhook.url', webhookSecret({ webhook: null })],
    ['webhook.url', webhookSecret({ webhook: { url: 5 } })],
    ['webhook.url', webhookSecret({ webhook: { url: 'not a url' } })],
    ['webhook.url', webhookSecret({ webhook: { url: 'http://example.bitrix24.com/rest/1/abc/' } })],
    ['webhook.url', webhookSecret({ webhook: { url: 'ftp://example.bitrix24.com/rest/1/abc/' } })],
    ['webhook.url', webhookSecret({ webhook: { url: 'https://user:pw@example.bitrix24.com/rest/1/abc/' } })],
    ['webhook.clientId', webhookSecret({ webhook: { url: 'https://example.bitrix24.com/rest/1/abc/', clientId: 12 } })],
    ['oauth.clientId', oauthSecret({}, { clientId: undefined })],
    ['oauth.clientSecret', oauthSecret({}, { clientSecret: '' })],
    ['oauth.accessToken', oauthSecret({}, { accessToken: undefined })],
    ['oauth.refreshToken', oauthSecret({}, { refreshToken: null })],
    ['oauth.expiresAt', oauthSecret({}, { expiresAt: undefined })],
    ['oauth.expiresAt', oauthSecret({}, { expiresAt: '1700003600' })],
    ['oauth.expiresAt', oauthSecret({ oauth: null })],
    ['oauth.clientEndpoint', oauthSecret({}, { clientEndpoint: undefined })],
    ['oauth.clientEndpoint', oauthSecret({}, { clientEndpoint: 'http://example.bitrix24.com/rest/' })],
    ['oauth.serverEndpoint', oauthSecret({}, { serverEndpoint: 'http://oauth.bitrix.info/rest/' })],
    ['oauth.serverEndpoint', oauthSecret({}, { serverEndpoint: 'http://10.0.0.1/rest/' })],
  ])('refuses a secret with a missing or invalid %s, naming it', (field, secret) => {
    // Act
    const error = formatError(secret);

    // Assess
    expect(error.message).toContain(field);
  });

  it('reads per-bot records keyed by BOT_ID, keeping fields it does not know out of the result', () => {
    // Act
    const portal = parsePortalCredentials(
      JSON.stringify(
        webhookSecret({
          bots: { '567': { api: 'v2', botToken: 'b0tt0k3n0000000000000000000001', type: 'supervisor', later: 1 } },
        }),
      ),
      NAME,
    );

    // Assess
    expect(portal.bots).toEqual({
      '567': { api: 'v2', botToken: 'b0tt0k3n0000000000000000000001', type: 'supervisor' },
    });
    expect(redactSecrets('token b0tt0k3n0000000000000000000001')).not.toContain('b0tt0k3n0000000000000000000001');
  });

  it.each([
    [{ bots: [] }, 'bots must be an object'],
    [{ bots: { abc: {} } }, 'bots.abc must be an object under a positive bot id'],
    [{ bots: { '567': 'S' } }, 'bots.567 must be an object'],
    [{ bots: { '567': { api: 'v3' } } }, 'bots.567.api must be "v1" or "v2"'],
    [{ bots: { '567': { type: 'S; drop' } } }, 'bots.567.type must be a bot type'],
    [{ bots: { '567': { botToken: '' } } }, 'bots.567.botToken must be a non-empty string'],
    // The docs' example token: guessable, and below what the redactor is trusted to mask.
    [{ bots: { '567': { api: 'v2', botToken: 'my_bot_token' } } }, 'bots.567.botToken must be at least 16 characters'],
  ])('refuses malformed bot records %j', (overrides, message) => {
    expect(formatError(webhookSecret(overrides)).message).toContain(message);
  });

  it('reads a webhook portal’s events token for its v2 bots, registers it with the redactor, refuses a short one', () => {
    // Act
    const portal = parsePortalCredentials(
      JSON.stringify(
        webhookSecret({ webhook: { ...webhookSecret().webhook, eventsToken: 'ev3nts-t0ken-0000000000001' } }),
      ),
      NAME,
    );

    // Assess
    expect(portal.webhook?.eventsToken).toBe('ev3nts-t0ken-0000000000001');
    expect(redactSecrets('?eventsToken=ev3nts-t0ken-0000000000001')).toBe('?eventsToken=[redacted]');
    const short = formatError(webhookSecret({ webhook: { ...webhookSecret().webhook, eventsToken: 'short' } }));
    expect(short.message).toContain('webhook.eventsToken must be at least 16 characters');
  });

  it('refuses a secret holding both webhook and oauth', () => {
    // Act
    const error = formatError({ ...webhookSecret(), oauth: oauth() });

    // Assess
    expect(error.message).toMatch(/webhook/);
    expect(error.message).toMatch(/oauth/);
  });

  it('refuses a secret holding neither webhook nor oauth', () => {
    // Act
    const error = formatError({ domain: 'example.bitrix24.com' });

    // Assess
    expect(error.message).toMatch(/webhook/);
    expect(error.message).toMatch(/oauth/);
  });
});

describe('normalizeDomain', () => {
  it.each([
    ['example.bitrix24.com', 'example.bitrix24.com'],
    ['EXAMPLE.Bitrix24.com.', 'example.bitrix24.com'],
    ['  b24-abc123.bitrix24.de ', 'b24-abc123.bitrix24.de'],
  ])('reads %j as %j', (input, expected) => {
    // Act / Assess
    expect(normalizeDomain(input)).toBe(expected);
  });

  it.each([
    ['../x'],
    ['a'],
    ['exa mple.com'],
    ['http://x'],
    ['x.com/rest'],
    ['-x.com'],
    ['x-.com'],
    ['x..com'],
    [''],
    [`${'a'.repeat(64)}.com`],
  ])('refuses %j', (input) => {
    // Act / Assess
    expect(normalizeDomain(input)).toBeUndefined();
  });
});

describe('isAcceptableEndpoint', () => {
  it('accepts https', () => {
    expect(isAcceptableEndpoint('https://example.bitrix24.com/rest/')).toBe(true);
  });

  it.each([['http://127.0.0.1:3000/'], ['http://localhost/'], ['http://[::1]:8080/rest/']])(
    'accepts %s only where loopback is allowed',
    (url) => {
      // Act / Assess
      expect([isAcceptableEndpoint(url, { allowLoopback: true }), isAcceptableEndpoint(url)]).toEqual([true, false]);
    },
  );

  it.each([
    ['http://example.bitrix24.com/'],
    ['http://192.168.1.2/'],
    ['http://127.0.0.1.example.com/'],
    ['ftp://localhost/'],
    ['https://u:p@example.com/'],
    ['not a url'],
    [''],
  ])('refuses %s, loopback allowed or not', (url) => {
    // Act / Assess
    expect(isAcceptableEndpoint(url, { allowLoopback: true })).toBe(false);
  });
});
