/**
 * Baseline (b): the minimal `/typing` handler, using nothing but the Secrets Manager SDK client and `fetch`.
 * Same secrets (signing keys, then the portal), same signature check, same portal call; no cache TTL, no
 * retries, no deadline, no coalescing, no structured logs. Bundled with the service's esbuild options.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { signatureMatches } from './auth.js';

const client = new SecretsManagerClient({});
const prefix = process.env.SECRETS_PREFIX;
const cache = new Map<string, Promise<string | undefined>>();
const secret = (name: string) => {
  let value = cache.get(name);
  if (!value) {
    value = client.send(new GetSecretValueCommand({ SecretId: `${prefix}/${name}` })).then((out) => out.SecretString);
    cache.set(name, value);
  }
  return value;
};

export async function handler(event: APIGatewayProxyEventV2) {
  const body = event.body ?? '';
  const keys = JSON.parse((await secret('typing-keys')) ?? '{}').keys as string[];
  if (!signatureMatches(event.headers, body, keys)) return { statusCode: 401, body: '{"ok":false}' };
  const request = JSON.parse(body) as { portal: string; dialogId: string; botId?: number };
  const portal = JSON.parse((await secret(`portals/${request.portal}`)) ?? 'null') as { botId?: number; webhook: { url: string; clientId: string } };
  const response = await fetch(`${portal.webhook.url}imbot.chat.sendTyping.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ BOT_ID: request.botId ?? portal.botId, DIALOG_ID: request.dialogId, CLIENT_ID: portal.webhook.clientId }),
  });
  const result = (await response.json()) as { result?: unknown };
  return { statusCode: result.result === true ? 200 : 502, body: JSON.stringify({ ok: result.result === true }) };
}
