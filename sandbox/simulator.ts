import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateSigningKey } from '../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal, type PortalCall } from './portal/index.js';

/**
 * The sandbox behind `npm start` when no credentials source is configured: a local credentials file seeded
 * from `sandbox/credentials.example.json` (fresh signing key, webhook code and CLIENT_ID on first start), and
 * the loopback portal from the tests acting as the sandbox portal, printing each call it receives.
 */
export const SANDBOX_PREFIX = 'bitrix24-typing/dev';
export const SANDBOX_DOMAIN = 'sandbox.bitrix24.test';

type SecretsFile = Record<string, Record<string, unknown>>;

const PLACEHOLDER = 'GENERATED_ON_FIRST_START';

export function seedCredentials(examplePath: string, credentialsPath: string, port: number): { created: boolean } {
  let created = false;
  if (!existsSync(credentialsPath)) {
    const fresh = () => randomBytes(16).toString('hex');
    const text = readFileSync(examplePath, 'utf8')
      .replace(`"keys": ["${PLACEHOLDER}"]`, `"keys": ["${generateSigningKey()}"]`)
      .replace(`/rest/1/${PLACEHOLDER}/`, `/rest/1/${fresh()}/`)
      .replace(`"clientId": "${PLACEHOLDER}"`, `"clientId": "${fresh()}${fresh()}"`);
    mkdirSync(dirname(credentialsPath), { recursive: true });
    writeFileSync(credentialsPath, text, { mode: 0o600 });
    created = true;
  }
  // The simulator's port may differ between runs: keep the stored webhook URLs pointing at it.
  const all = JSON.parse(readFileSync(credentialsPath, 'utf8')) as SecretsFile;
  let changed = false;
  for (const secret of Object.values(all)) {
    const webhook = secret.webhook as { url?: string } | undefined;
    if (!webhook?.url) continue;
    const url = webhook.url.replace(/^http:\/\/127\.0\.0\.1:(?:\d+|SIMULATOR_PORT)\//, `http://127.0.0.1:${port}/`);
    if (url !== webhook.url) {
      webhook.url = url;
      changed = true;
    }
  }
  if (changed) writeFileSync(credentialsPath, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
  return { created };
}

export interface Simulator {
  portal: FakePortal;
  typingKey: string;
  clientId: string;
  botId: number;
}

export function describeCall(call: PortalCall): string {
  if (call.method === 'imbot.chat.sendTyping' && call.status === 200) {
    return `bot ${String(call.params.BOT_ID ?? '(first bot)')} is typing in ${String(call.params.DIALOG_ID)}`;
  }
  return `${call.method} → ${call.status}${call.error ? ` ${call.error}` : ''}`;
}

/** Starts the sandbox portal for every webhook portal in the credentials file that points at loopback. */
export async function startSimulator(options: {
  credentialsPath: string;
  port: number;
  print: (line: string) => void;
}): Promise<Simulator> {
  const all = JSON.parse(readFileSync(options.credentialsPath, 'utf8')) as SecretsFile;
  const portal = await startPortal({
    domain: SANDBOX_DOMAIN,
    port: options.port,
    onCall: (call) => options.print(describeCall(call)),
  });
  let sandbox: { clientId: string; botId: number } | undefined;
  for (const [name, secret] of Object.entries(all)) {
    const webhook = secret.webhook as { url?: string; clientId?: string } | undefined;
    const match = webhook?.url?.match(/^http:\/\/127\.0\.0\.1:\d+\/rest\/(\d+)\/([^/]+)\/$/);
    if (!match) continue;
    portal.addWebhook({ userId: Number(match[1]), code: match[2] });
    const botId = typeof secret.botId === 'number' ? secret.botId : undefined;
    if (botId !== undefined && webhook?.clientId) {
      portal.addBot({ botId, clientId: webhook.clientId });
      if (name === `${SANDBOX_PREFIX}/portals/${SANDBOX_DOMAIN}`) sandbox = { clientId: webhook.clientId, botId };
    }
  }
  const keys = (all[`${SANDBOX_PREFIX}/typing-keys`]?.keys ?? []) as string[];
  if (!sandbox || !keys[0])
    throw new Error(`${options.credentialsPath} has no sandbox portal or typing key; delete it to reseed`);
  return { portal, typingKey: keys[0], ...sandbox };
}
