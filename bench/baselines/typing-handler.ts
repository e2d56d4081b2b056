import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Answer, StateRequest } from './state-requests.js';

/** The typing call's parameters, as every baseline sends them (a type, so it fits SDKs' plain-record params). */
export type TypingParams = {
  BOT_ID: number | undefined;
  DIALOG_ID: string;
  CLIENT_ID: string;
};

/** The portal secret as the baselines read it: a webhook bot only. */
export interface WebhookPortal {
  botId?: number;
  webhook: { url: string; clientId: string };
}

/** Runs the portal call once per webhook-id on the state table (state-requests.ts says with which requests). */
export type RunOnce = (request: StateRequest, work: () => Promise<Answer>) => Promise<Answer>;

/**
 * The `/typing` handler every baseline shares, so they do the same work as the service: read the keys secret,
 * check the Standard Webhooks HMAC, read the portal secret, then, around the portal call, the same DynamoDB
 * requests the service makes. Each secret is read once per container (no TTL), with no retries, deadline or
 * logs. What differs is how a secret is read, how the table is reached and how the portal is called.
 */
export function typingHandler(
  readSecret: (secretId: string) => Promise<string | undefined>,
  sendTyping: (portal: WebhookPortal, params: TypingParams) => Promise<boolean>,
  runOnce: RunOnce,
) {
  const prefix = process.env.SECRETS_PREFIX;
  const cache = new Map<string, Promise<string | undefined>>();
  const secret = (name: string) => {
    let value = cache.get(name);
    if (!value) {
      value = readSecret(`${prefix}/${name}`);
      cache.set(name, value);
    }
    return value;
  };
  return async function handler(event: APIGatewayProxyEventV2) {
    const body = event.body ?? '';
    const keys = JSON.parse((await secret('typing-keys')) ?? '{}').keys as string[];
    if (!signatureMatches(event.headers, body, keys)) return { statusCode: 401, body: '{"ok":false}' };
    const request = JSON.parse(body) as { portal: string; dialogId: string; botId?: number };
    const portal = JSON.parse((await secret(`portals/${request.portal}`)) ?? 'null') as WebhookPortal;
    const params = {
      BOT_ID: request.botId ?? portal.botId,
      DIALOG_ID: request.dialogId,
      CLIENT_ID: portal.webhook.clientId,
    };
    const state = {
      webhookId: event.headers['webhook-id'] ?? '',
      body,
      portal: request.portal,
      dialog: params.DIALOG_ID,
    };
    return runOnce(state, async () => {
      const ok = await sendTyping(portal, params);
      return { statusCode: ok ? 200 : 502, body: JSON.stringify({ ok }) };
    });
  };
}

/** The portal call of the baselines that have `fetch`: the inbound webhook's imbot.chat.sendTyping, no retries. */
export async function webhookSendTyping(portal: WebhookPortal, params: TypingParams): Promise<boolean> {
  const response = await fetch(`${portal.webhook.url}imbot.chat.sendTyping.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  return ((await response.json()) as { result?: unknown }).result === true;
}

/** The least a hand-written `/typing` handler must do before it may act on a request. */
function signatureMatches(headers: Record<string, string | undefined>, body: string, keys: string[]): boolean {
  const id = headers['webhook-id'] ?? '';
  const timestamp = headers['webhook-timestamp'] ?? '';
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const sent = (headers['webhook-signature'] ?? '').split(' ').map((part) => Buffer.from(part.slice(3), 'base64'));
  return keys.some((key) => {
    const expected = createHmac('sha256', Buffer.from(key.slice('whsec_'.length), 'base64'))
      .update(`${id}.${timestamp}.${body}`)
      .digest();
    return sent.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected));
  });
}
