import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The least a hand-written `/typing` handler must do before it may act on a request: check the Standard
 * Webhooks HMAC against the keys secret. Shared by both baselines so they do the same work as the service.
 */
export function signatureMatches(headers: Record<string, string | undefined>, body: string, keys: string[]): boolean {
  const id = headers['webhook-id'] ?? '';
  const timestamp = headers['webhook-timestamp'] ?? '';
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const sent = (headers['webhook-signature'] ?? '').split(' ').map((part) => Buffer.from(part.slice(3), 'base64'));
  return keys.some((key) => {
    const expected = createHmac('sha256', Buffer.from(key.slice('whsec_'.length), 'base64')).update(`${id}.${timestamp}.${body}`).digest();
    return sent.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected));
  });
}
