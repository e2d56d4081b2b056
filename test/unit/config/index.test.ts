import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../lib/config/index.js';

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('loadConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    // Act
    const config = loadConfig({});

    // Assess
    expect(config).toEqual({
      stage: 'dev',
      secretsPrefix: 'bitrix24-typing/dev',
      credentialsSource: { kind: 'secrets-manager' },
      secretsKmsKeyId: undefined,
      signatureToleranceSeconds: 300,
      bitrix24TimeoutMs: 5_000,
      bitrix24MaxAttempts: 3,
      secretsTimeoutMs: 2_000,
      secretsCacheTtlSeconds: 300,
      secretsStaleSeconds: 900,
      typingMaxBodyBytes: 16 * 1024,
      eventsMaxBodyBytes: 128 * 1024,
      eventsAnswerBudgetMs: 1_500,
      typingCoalesceMs: 10_000,
      secretsFailureBackoffMs: 5_000,
      portalBudgetSharePercent: 80,
      deliveryMemorySeconds: 600,
      stateTable: undefined,
      stateCallTimeoutMs: 250,
      oauthServer: 'https://oauth.bitrix.info',
      installsEnabled: false,
      typingWherePlatformDoesNot: false,
      installAllowedDomains: [],
      portalDomains: [],
      secretsCacheMaxEntries: 10_000,
      secretsCacheMaxAbsent: 2_000,
      secretsAbsentTtlSeconds: 60,
      typingKeysRereadSeconds: 5,
      unknownPortalLookupBurst: 10,
      unknownPortalLookupsPerSecond: 1,
      eventsRefusalFloorMs: 100,
      deadRefreshTokenMemoryMs: 300_000,
      allowLoopbackEndpoints: true,
      eventBusName: undefined,
      logLevel: 'info',
      metricsEnabled: true,
      tracingEnabled: false,
    });
  });

  it('turns metrics off and tracing on when a deployment says so', () => {
    // Act
    const config = loadConfig({ METRICS_ENABLED: 'false', TRACING_ENABLED: 'true' });

    // Assess
    expect(config).toMatchObject({ metricsEnabled: false, tracingEnabled: true });
  });

  it('reads the limits on what an unauthenticated event may cost', () => {
    // Act
    const config = loadConfig({
      PORTAL_DOMAINS: ' *.Bitrix24.com, portal.example.org ',
      UNKNOWN_PORTAL_LOOKUP_BURST: '3',
      UNKNOWN_PORTAL_LOOKUPS_PER_SECOND: '0',
      EVENTS_REFUSAL_FLOOR_MS: '250',
    });

    // Assess
    expect(config).toMatchObject({
      portalDomains: ['*.bitrix24.com', 'portal.example.org'],
      unknownPortalLookupBurst: 3,
      unknownPortalLookupsPerSecond: 0,
      eventsRefusalFloorMs: 250,
    });
  });

  it.each([
    ['PORTAL_DOMAINS', '*'],
    ['PORTAL_DOMAINS', 'bitrix24.com/rest'],
    ['INSTALL_ALLOWED_DOMAINS', '*bitrix24.com'],
    ['UNKNOWN_PORTAL_LOOKUP_BURST', '0'],
    ['EVENTS_REFUSAL_FLOOR_MS', '1001'],
    ['ALLOW_LOOPBACK_ENDPOINTS', 'sometimes'],
  ])('refuses %s=%j at start-up, naming the variable', (variable, value) => {
    // Act
    const error = configError({ [variable]: value });

    // Assess
    expect(error.variable).toBe(variable);
  });

  it('refuses plain-http loopback endpoints on Lambda unless ALLOW_LOOPBACK_ENDPOINTS says otherwise', () => {
    // Prepare: what Lambda sets, what serverless-offline sets on top of it
    const lambda = { AWS_LAMBDA_FUNCTION_NAME: 'bitrix24-typing-prod-typing' };
    const offline = { ...lambda, IS_OFFLINE: 'true' };

    // Act / Assess
    expect(loadConfig(lambda).allowLoopbackEndpoints).toBe(false);
    expect(configError({ ...lambda, OAUTH_SERVER: 'http://127.0.0.1:9001' }).variable).toBe('OAUTH_SERVER');
    expect(loadConfig(offline).allowLoopbackEndpoints).toBe(true);
    expect(loadConfig({ ...lambda, ALLOW_LOOPBACK_ENDPOINTS: 'true' }).allowLoopbackEndpoints).toBe(true);
    expect(loadConfig({ ALLOW_LOOPBACK_ENDPOINTS: 'false' }).allowLoopbackEndpoints).toBe(false);
  });

  it('treats empty and blank variables as unset', () => {
    // Act
    const config = loadConfig({
      STAGE: ' ',
      SECRETS_PREFIX: '',
      SIGNATURE_TOLERANCE_SECONDS: '',
      CREDENTIALS_SOURCE: '  ',
      LOG_LEVEL: '',
    });

    // Assess
    expect(config.stage).toBe('dev');
    expect(config.secretsPrefix).toBe('bitrix24-typing/dev');
    expect(config.signatureToleranceSeconds).toBe(300);
    expect(config.credentialsSource).toEqual({ kind: 'secrets-manager' });
    expect(config.logLevel).toBe('info');
  });

  it('derives the default SECRETS_PREFIX from STAGE', () => {
    // Act
    const config = loadConfig({ STAGE: 'prod' });

    // Assess
    expect(config.stage).toBe('prod');
    expect(config.secretsPrefix).toBe('bitrix24-typing/prod');
  });

  it('prefers an explicit SECRETS_PREFIX over the stage default', () => {
    // Act
    const config = loadConfig({ STAGE: 'prod', SECRETS_PREFIX: 'team-a/typing' });

    // Assess
    expect(config.secretsPrefix).toBe('team-a/typing');
  });

  it('reads every numeric setting and flag it is given', () => {
    // Act
    const config = loadConfig({
      SIGNATURE_TOLERANCE_SECONDS: '60',
      BITRIX24_TIMEOUT_MS: '2500',
      BITRIX24_MAX_ATTEMPTS: '5',
      SECRETS_TIMEOUT_MS: '1000',
      SECRETS_CACHE_TTL_SECONDS: '0',
      SECRETS_STALE_SECONDS: '60',
      EVENTS_ANSWER_BUDGET_MS: '800',
      INSTALLS_ENABLED: 'yes',
      LOG_LEVEL: 'DEBUG',
      OAUTH_SERVER: 'http://127.0.0.1:9000/ignored/path',
      INSTALL_ALLOWED_DOMAINS: ' A.bitrix24.com, ,b.bitrix24.de ',
      EVENT_BUS_NAME: 'typing-events',
      STATE_CALL_TIMEOUT_MS: '2000',
    });

    // Assess
    expect(config).toMatchObject({
      signatureToleranceSeconds: 60,
      bitrix24TimeoutMs: 2500,
      bitrix24MaxAttempts: 5,
      secretsTimeoutMs: 1000,
      secretsCacheTtlSeconds: 0,
      secretsStaleSeconds: 60,
      eventsAnswerBudgetMs: 800,
      installsEnabled: true,
      logLevel: 'debug',
      oauthServer: 'http://127.0.0.1:9000',
      installAllowedDomains: ['a.bitrix24.com', 'b.bitrix24.de'],
      eventBusName: 'typing-events',
      stateCallTimeoutMs: 2000,
    });
  });

  it('encrypts new secrets with the customer-managed KMS key SECRETS_KMS_KEY_ID names', () => {
    // Act
    const config = loadConfig({
      SECRETS_KMS_KEY_ID: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    });

    // Assess
    expect(config.secretsKmsKeyId).toBe(
      'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    );
  });

  it.each([
    ['file:./local-secrets.json', './local-secrets.json'],
    ['file:/etc/typing/secrets.json', '/etc/typing/secrets.json'],
    ['file:C:/x:y.json', 'C:/x:y.json'],
  ])('reads CREDENTIALS_SOURCE=%s as a local file at %s', (raw, path) => {
    // Act
    const config = loadConfig({ CREDENTIALS_SOURCE: raw });

    // Assess
    expect(config.credentialsSource).toEqual({ kind: 'file', path });
  });

  it.each([
    ['SIGNATURE_TOLERANCE_SECONDS', 'five'],
    ['SIGNATURE_TOLERANCE_SECONDS', '0'],
    ['SIGNATURE_TOLERANCE_SECONDS', '3601'],
    ['SIGNATURE_TOLERANCE_SECONDS', '-5'],
    ['SIGNATURE_TOLERANCE_SECONDS', '1.5'],
    ['SIGNATURE_TOLERANCE_SECONDS', '1e3'],
    ['BITRIX24_TIMEOUT_MS', '99'],
    ['BITRIX24_TIMEOUT_MS', '60001'],
    ['BITRIX24_TIMEOUT_MS', '5s'],
    ['BITRIX24_MAX_ATTEMPTS', '0'],
    ['BITRIX24_MAX_ATTEMPTS', '11'],
    ['SECRETS_TIMEOUT_MS', '99'],
    ['SECRETS_TIMEOUT_MS', '30001'],
    ['SECRETS_CACHE_TTL_SECONDS', '86401'],
    ['SECRETS_CACHE_TTL_SECONDS', 'forever'],
    ['SECRETS_STALE_SECONDS', '86401'],
    ['SECRETS_STALE_SECONDS', '-1'],
    ['EVENTS_ANSWER_BUDGET_MS', '199'],
    ['EVENTS_ANSWER_BUDGET_MS', '10001'],
    // The indicator lapses about 35 s after the last call: a window near that would let it lapse.
    ['TYPING_COALESCE_MS', '25001'],
    ['STATE_CALL_TIMEOUT_MS', '49'],
    ['STATE_CALL_TIMEOUT_MS', '5001'],
    ['INSTALLS_ENABLED', 'maybe'],
    ['INSTALLS_ENABLED', '2'],
    ['LOG_LEVEL', 'verbose'],
    ['LOG_LEVEL', 'trace'],
    ['CREDENTIALS_SOURCE', 'file:'],
    ['CREDENTIALS_SOURCE', 'ssm'],
    ['SECRETS_KMS_KEY_ID', 'alias/typing-secrets'],
    ['CREDENTIALS_SOURCE', 'secretsmanager'],
    ['SECRETS_PREFIX', 'bitrix24-typing/prod/'],
    ['SECRETS_PREFIX', 'has space'],
    ['SECRETS_PREFIX', 'bad*chars'],
    ['OAUTH_SERVER', 'not a url'],
    ['OAUTH_SERVER', 'http://oauth.bitrix.info'],
    ['OAUTH_SERVER', 'ftp://oauth.bitrix.info'],
  ])('refuses %s=%j at start-up, naming the variable', (variable, value) => {
    // Act
    const error = configError({ [variable]: value });

    // Assess
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
  });

  it.each([
    ['0', 0],
    ['25000', 25_000],
  ])('accepts TYPING_COALESCE_MS=%s, up to the 25 s cap', (raw, expected) => {
    // Act
    const config = loadConfig({ TYPING_COALESCE_MS: raw });

    // Assess
    expect(config.typingCoalesceMs).toBe(expected);
  });

  it('refuses a bad STAGE naming STAGE, not the SECRETS_PREFIX the caller never set', () => {
    // Act
    const error = configError({ STAGE: 'my stage' });

    // Assess
    expect(error.message).toContain('STAGE');
  });

  it.each(['1', 'true', 'YES', 'on'])('reads INSTALLS_ENABLED=%s as on', (value) => {
    // Act
    const config = loadConfig({ INSTALLS_ENABLED: value });

    // Assess
    expect(config.installsEnabled).toBe(true);
  });

  it.each(['0', 'false', 'No', 'off'])('reads INSTALLS_ENABLED=%s as off', (value) => {
    // Act
    const config = loadConfig({ INSTALLS_ENABLED: value });

    // Assess
    expect(config.installsEnabled).toBe(false);
  });

  it('follows the platform on where to type unless TYPING_WHERE_PLATFORM_DOES_NOT opts in', () => {
    expect(loadConfig({}).typingWherePlatformDoesNot).toBe(false);
    expect(loadConfig({ TYPING_WHERE_PLATFORM_DOES_NOT: 'true' }).typingWherePlatformDoesNot).toBe(true);
    expect(configError({ TYPING_WHERE_PLATFORM_DOES_NOT: 'sometimes' }).message).toContain(
      'TYPING_WHERE_PLATFORM_DOES_NOT',
    );
  });

  it.each([
    ['http://localhost:4010', 'http://localhost:4010'],
    ['http://[::1]:4010', 'http://[::1]:4010'],
    ['https://oauth.example.com', 'https://oauth.example.com'],
    ['https://oauth.example.com/rest/', 'https://oauth.example.com'],
  ])('accepts OAUTH_SERVER=%s as %s', (value, origin) => {
    // Act
    const config = loadConfig({ OAUTH_SERVER: value });

    // Assess
    expect(config.oauthServer).toBe(origin);
  });
});
