/** What a run stores in moto before it measures anything: the signing keys, and loopback portals with one bot each. */
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { webhookBotOn } from '../devtools/fixtures.js';
import { startTlsFront, type TlsFront } from '../devtools/tls-front.js';
import { generateSigningKey } from '../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal } from '../sandbox/portal/index.js';
import { AWS_ENV } from './container.js';
import type { TypingTarget } from './events.js';

/** The signing keys of `/typing`, stored once per run under the service's prefix. */
export async function seedKeys(motoUrl: string, prefix: string): Promise<string> {
  const key = generateSigningKey();
  await createSecret(motoUrl, `${prefix}/typing-keys`, { keys: [key] });
  return key;
}

/** A loopback portal with one webhook bot, and its portal secret in moto. */
export interface SeededPortal {
  portal: FakePortal;
  front: TlsFront | undefined;
  target: TypingTarget;
  close(): Promise<void>;
}

export interface PortalLimits {
  burst: number;
  drainPerSecond: number;
  domain: string;
}

export async function seedPortal(
  motoUrl: string,
  prefix: string,
  key: string,
  portalOptions: PortalLimits,
  /** With a directory for the certificate: the secret's webhook URL goes through an HTTPS front. */
  tlsCacheDir?: string,
): Promise<SeededPortal> {
  const portal = await startPortal(portalOptions);
  const bot = webhookBotOn(portal, 39);
  // The secret says what the portal's bucket is, as an operator sets it per portal: the service budgets by it.
  // An unlimited portal gets a large real budget instead of a billion a second, whose admissions would move the
  // budget item by a microsecond each: concurrent requests would then race on it as no real portal makes them.
  bot.secret.rateLimit = {
    burst: Math.min(portalOptions.burst, 1_000_000),
    perSecond: Math.min(portalOptions.drainPerSecond, 1_000),
  };
  const front = tlsCacheDir ? await startTlsFront(portal.url, tlsCacheDir) : undefined;
  if (front) bot.secret.webhook!.url = bot.secret.webhook!.url.replace(portal.url, front.url);
  await createSecret(motoUrl, `${prefix}/portals/${portal.domain}`, bot.secret);
  const webhookUrl = bot.secret.webhook!.url;
  return {
    portal,
    front,
    target: { key, portal: portal.domain, botId: 39, webhookUrl, clientId: bot.clientId },
    close: async () => {
      await front?.close();
      await portal.close();
    },
  };
}

async function createSecret(motoUrl: string, name: string, value: unknown): Promise<void> {
  const client = new SecretsManagerClient({
    endpoint: motoUrl,
    region: AWS_ENV.AWS_REGION,
    credentials: {
      accessKeyId: AWS_ENV.AWS_ACCESS_KEY_ID,
      secretAccessKey: AWS_ENV.AWS_SECRET_ACCESS_KEY,
      sessionToken: AWS_ENV.AWS_SESSION_TOKEN,
    },
  });
  await client.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }));
  client.destroy();
}
