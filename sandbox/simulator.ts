import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateSigningKey } from '../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal, type PortalCall } from './portal/index.js';

/**
 * The sandbox behind `npm start` when no credentials source is configured: a local credentials file seeded
 * from `sandbox/credentials.example.json` (fresh signing key, webhook code, CLIENT_ID, and for the v2 bot 567 its
 * botToken and the events token on first start), and the loopback portal from the tests acting as the sandbox
 * portal, printing each call it receives.
 */
export const SANDBOX_PREFIX = 'bitrix24-typing/dev';
export const SANDBOX_DOMAIN = 'sandbox.bitrix24.test';
/** The sandbox's chat-bot API v2 bot, beside v1 bot 39. */
export const SANDBOX_V2_BOT = 567;

type SecretsFile = Record<string, Record<string, unknown>>;

const PLACEHOLDER = 'GENERATED_ON_FIRST_START';

export function seedCredentials(examplePath: string, credentialsPath: string, port: number): { created: boolean } {
  let created = false;
  if (!existsSync(credentialsPath)) {
    const fresh = () => randomBytes(16).toString('hex');
    const text = readFileSync(examplePath, 'utf8')
      .replace(`"keys": ["${PLACEHOLDER}"]`, `"keys": ["${generateSigningKey()}"]`)
      .replace(`/rest/1/${PLACEHOLDER}/`, `/rest/1/${fresh()}/`)
      .replace(`"clientId": "${PLACEHOLDER}"`, `"clientId": "${fresh()}${fresh()}"`)
      .replace(`"botToken": "${PLACEHOLDER}"`, `"botToken": "${fresh()}"`)
      .replace(`"eventsToken": "${PLACEHOLDER}"`, `"eventsToken": "${fresh()}${fresh()}"`);
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
  if (addV2Bot(all[`${SANDBOX_PREFIX}/portals/${SANDBOX_DOMAIN}`])) changed = true;
  if (changed) writeFileSync(credentialsPath, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
  return { created };
}

/** A sandbox seeded before it had one gets the v2 bot too, beside bot 39. */
function addV2Bot(secret: Record<string, unknown> | undefined): boolean {
  if (!secret) return false;
  const bots = (secret.bots ?? {}) as Record<string, unknown>;
  const webhook = secret.webhook as { eventsToken?: string } | undefined;
  if (bots[String(SANDBOX_V2_BOT)] !== undefined || !webhook) return false;
  const fresh = () => randomBytes(16).toString('hex');
  secret.bots = { ...bots, [String(SANDBOX_V2_BOT)]: { api: 'v2', botToken: fresh(), type: 'bot' } };
  webhook.eventsToken ??= `${fresh()}${fresh()}`;
  return true;
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
  if (call.method === 'imbot.v2.Chat.InputAction.notify' && call.status === 200) {
    // IMBOT_AGENT_ACTION_READING_DOCS reads "reading docs"; no code is plain typing.
    const code = typeof call.params.statusMessageCode === 'string' ? call.params.statusMessageCode : '';
    const doing = code.replace('IMBOT_AGENT_ACTION_', '').toLowerCase().replace(/_/g, ' ') || 'typing';
    const duration = call.params.duration === undefined ? '' : ` for ${String(call.params.duration)} s`;
    return `bot ${String(call.params.botId)} is ${doing} in ${String(call.params.dialogId)}${duration}`;
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
    // v2 bots registered through this webhook, each owned by its botToken.
    const records = (secret.bots ?? {}) as Record<string, { api?: string; botToken?: string }>;
    for (const [id, record] of Object.entries(records)) {
      if (record.api === 'v2' && record.botToken && Number(id) !== botId) {
        portal.addBotV2({ botId: Number(id), botToken: record.botToken });
      }
    }
  }
  const keys = (all[`${SANDBOX_PREFIX}/typing-keys`]?.keys ?? []) as string[];
  if (!sandbox || !keys[0])
    throw new Error(`${options.credentialsPath} has no sandbox portal or typing key; delete it to reseed`);
  return { portal, typingKey: keys[0], ...sandbox };
}
