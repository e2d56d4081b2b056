/**
 * Baseline (c): the `/typing` handler a user would write with Bitrix24's own JS SDK (`@bitrix24/b24jssdk`,
 * `B24Hook` for an inbound webhook) plus the Secrets Manager SDK client. Same secrets, same signature check,
 * same portal call as the service. Bundled with the service's esbuild options.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { B24Hook } from '@bitrix24/b24jssdk';
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
const hooks = new Map<string, B24Hook>();

export async function handler(event: APIGatewayProxyEventV2) {
  const body = event.body ?? '';
  const keys = JSON.parse((await secret('typing-keys')) ?? '{}').keys as string[];
  if (!signatureMatches(event.headers, body, keys)) return { statusCode: 401, body: '{"ok":false}' };
  const request = JSON.parse(body) as { portal: string; dialogId: string; botId?: number };
  const portal = JSON.parse((await secret(`portals/${request.portal}`)) ?? 'null') as { botId?: number; webhook: { url: string; clientId: string } };
  let b24 = hooks.get(portal.webhook.url);
  if (!b24) {
    // B24Hook.fromWebhookUrl insists on https; the loopback portal is http, so the same parts go in directly.
    const url = new URL(portal.webhook.url);
    const [, userId, secretCode] = url.pathname.split('/').filter(Boolean);
    b24 = new B24Hook({ b24Url: url.origin, userId: Number(userId), secret: secretCode ?? '' });
    b24.offClientSideWarning();
    hooks.set(portal.webhook.url, b24);
  }
  const result = await b24.actions.v2.call.make({
    method: 'imbot.chat.sendTyping',
    params: { BOT_ID: request.botId ?? portal.botId, DIALOG_ID: request.dialogId, CLIENT_ID: portal.webhook.clientId },
  });
  const ok = result.isSuccess && result.getData()?.result === true;
  return { statusCode: ok ? 200 : 502, body: JSON.stringify({ ok }) };
}
