/**
 * Baseline (c): the `/typing` handler a user would write with Bitrix24's own JS SDK (`@bitrix24/b24jssdk`,
 * `B24Hook` for an inbound webhook) plus the Secrets Manager and DynamoDB SDK clients. Same secrets, same
 * signature check, same DynamoDB requests (state-requests.ts), same portal call as the service. Bundled with the
 * service's esbuild options.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { B24Hook } from '@bitrix24/b24jssdk';
import { sdkRunOnce } from './state-sdk.js';
import { typingHandler, type WebhookPortal } from './typing-handler.js';

const client = new SecretsManagerClient({});
const hooks = new Map<string, B24Hook>();

function hookFor(portal: WebhookPortal): B24Hook {
  let b24 = hooks.get(portal.webhook.url);
  if (!b24) {
    // B24Hook.fromWebhookUrl insists on https; the loopback portal is http, so the same parts go in directly.
    const url = new URL(portal.webhook.url);
    const [, userId, secretCode] = url.pathname.split('/').filter(Boolean);
    b24 = new B24Hook({ b24Url: url.origin, userId: Number(userId), secret: secretCode ?? '' });
    b24.offClientSideWarning();
    hooks.set(portal.webhook.url, b24);
  }
  return b24;
}

export const handler = typingHandler(
  async (secretId) => (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString,
  async (portal, params) => {
    const result = await hookFor(portal).actions.v2.call.make({ method: 'imbot.chat.sendTyping', params });
    return result.isSuccess && result.getData()?.result === true;
  },
  sdkRunOnce(),
);
