import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { Credentials, versionKey } from '../../../lib/portal/index.js';
import { createSecretsManagerStore } from '../../../lib/secrets/secrets-manager-store.js';
import { ServiceError } from '../../../lib/errors/index.js';
import { captureLogger } from '../../support/logs.js';
import { putSecret, readSecret, secretsClient, uniquePrefix } from '../../support/secrets.js';

const webhookPortal = (domain: string) => ({
  domain,
  botId: 39,
  webhook: { url: 'https://example.bitrix24.com/rest/1/abcdefghijklmnop/', clientId: 'client-id-0123456789' },
});

function credentialsFor(prefix: string, options: { ttlMs?: number; staleMs?: number } = {}) {
  const { logger, lines } = captureLogger();
  const store = createSecretsManagerStore({ timeoutMs: 2_000 });
  const credentials = new Credentials(store, prefix, logger, {
    ttlMs: options.ttlMs ?? 60_000,
    staleMs: options.staleMs ?? 60_000,
  });
  return { credentials, lines, store };
}

describe('credentials in Secrets Manager (moto)', () => {
  it('reads a webhook portal secret by domain', async () => {
    // Prepare
    const prefix = uniquePrefix();
    await putSecret(`${prefix}/portals/example.bitrix24.com`, webhookPortal('example.bitrix24.com'));
    const { credentials } = credentialsFor(prefix);
    // Act
    const portal = await credentials.portal('Example.Bitrix24.com');
    // Assess
    expect(portal?.webhook?.clientId).toBe('client-id-0123456789');
    expect(portal?.botId).toBe(39);
  });

  it('treats a portal without a secret as unknown', async () => {
    const { credentials } = credentialsFor(uniquePrefix());
    await expect(credentials.portal('nobody.bitrix24.com')).resolves.toBeUndefined();
  });

  it('never looks outside <prefix>/portals/ for a crafted domain', async () => {
    // Prepare: a secret that a path-like domain would reach if it were used as is
    const prefix = uniquePrefix();
    await putSecret(`${prefix}/app`, {
      domain: 'x.bitrix24.com',
      webhook: { url: 'https://x.bitrix24.com/rest/1/a/' },
    });
    const { credentials } = credentialsFor(prefix);
    // Act / Assess
    await expect(credentials.portal('../app')).resolves.toBeUndefined();
  });

  it('reads the typing keys and refuses a missing keys secret with 503', async () => {
    const prefix = uniquePrefix();
    const { credentials } = credentialsFor(prefix);
    await expect(credentials.typingKeys()).rejects.toMatchObject({ code: 'CREDENTIALS_UNAVAILABLE', status: 503 });
    const fresh = credentialsFor(prefix);
    const key = 'whsec_' + Buffer.alloc(24, 7).toString('base64');
    await putSecret(`${prefix}/typing-keys`, { keys: [key] });
    await expect(fresh.credentials.typingKeys()).resolves.toEqual([key]);
  });

  it('writes a portal as a new version and a second writer of the same version key conflicts', async () => {
    // Prepare
    const prefix = uniquePrefix();
    const domain = 'rotate.bitrix24.com';
    await putSecret(`${prefix}/portals/${domain}`, webhookPortal(domain));
    const a = credentialsFor(prefix).credentials;
    const b = credentialsFor(prefix).credentials;
    const key = versionKey('test', 'same-input');
    const portal = (await a.portal(domain))!;
    // Act
    const first = await a.savePortal({ ...portal, botId: 40 }, { key });
    const second = await b.savePortal({ ...portal, botId: 41 }, { key });
    // Assess
    expect(first).toBe('written');
    expect(second).toBe('conflict');
    expect((await readSecret(`${prefix}/portals/${domain}`)).botId).toBe(40);
  });

  it('creates the secret when a portal is saved for the first time', async () => {
    const prefix = uniquePrefix();
    const { credentials } = credentialsFor(prefix);
    await credentials.savePortal(webhookPortal('new.bitrix24.com'));
    const described = await secretsClient().send(
      new DescribeSecretCommand({ SecretId: `${prefix}/portals/new.bitrix24.com` }),
    );
    expect(described.Name).toBe(`${prefix}/portals/new.bitrix24.com`);
  });

  it('lets exactly one of many containers claim a refresh token', async () => {
    // Prepare
    const prefix = uniquePrefix();
    const domain = 'claim.bitrix24.com';
    await putSecret(`${prefix}/portals/${domain}`, webhookPortal(domain));
    const containers = Array.from({ length: 5 }, () => credentialsFor(prefix).credentials);
    const key = versionKey('refresh-claim', 'the-refresh-token', '1');
    // Act
    const results = await Promise.all(
      containers.map((c) => c.store.claim(`${prefix}/portals/${domain}`, key, c.owner)),
    );
    // Assess
    expect(results.filter(Boolean)).toHaveLength(1);
    // a claim never replaces the value readers see
    expect((await readSecret(`${prefix}/portals/${domain}`)).botId).toBe(39);
  });

  it('answers 503 CREDENTIALS_UNAVAILABLE when Secrets Manager cannot be reached and nothing is cached', async () => {
    // Prepare: a store pointed at a closed port
    const previous = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = 'http://127.0.0.1:9';
    try {
      const { credentials, lines } = credentialsFor(uniquePrefix());
      // Act
      const error = await credentials.portal('down.bitrix24.com').catch((e: unknown) => e);
      // Assess
      expect(error).toBeInstanceOf(ServiceError);
      expect((error as ServiceError).status).toBe(503);
      expect(lines.some((line) => line.includes('secret store unavailable'))).toBe(true);
    } finally {
      process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = previous;
    }
  });
});
