import { createHash, timingSafeEqual } from 'node:crypto';
import type { Credentials, PortalCredentials } from '../portal/index.js';
import { ServiceError } from '../errors/index.js';
import type { BotEvent } from './bot-event.js';
import { isV2Event } from './v2-event.js';

/**
 * Constant-time string equality. Both sides are hashed first so the comparison time depends on neither the
 * secret's length nor the position of the first difference.
 */
export function secretsEqual(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

// One answer for every failed verification, so a prober cannot tell an unknown portal from a wrong token.
const UNVERIFIED = 'The event could not be verified.';
const PLACEHOLDER = 'x'.repeat(32);

/**
 * Bitrix24's only documented proof of origin is the top-level `auth[application_token]` (never the one inside
 * `data[bot][auth]`): the application token of an OAuth application (stored at install), or, for a bot registered
 * through an inbound webhook, the CLIENT_ID given to `imbot.register`. The docs do not say which token the events
 * of a v2 bot registered through an inbound webhook carry, so those bring the `eventsToken` this service put in
 * their `webhookUrl` instead, in the query string. When the secret holds the portal's `memberId`,
 * `auth[member_id]` must match as well.
 */
export async function verifyEventOrigin(credentials: Credentials, event: BotEvent): Promise<PortalCredentials> {
  const portal = await credentials.portal(event.auth.domain);
  const presented = event.auth.applicationToken ?? '';
  const expected = [portal?.applicationToken, portal?.webhook?.clientId].filter((t): t is string => Boolean(t));
  // Compare even when there is nothing to compare with, so an unknown portal costs the same time.
  let tokenOk = false;
  for (const token of expected.length > 0 ? expected : [PLACEHOLDER]) {
    if (secretsEqual(presented, token) && expected.length > 0 && presented !== '') tokenOk = true;
  }
  const eventsToken = portal?.webhook?.eventsToken;
  if (isV2Event(event) && event.urlToken !== undefined) {
    if (secretsEqual(event.urlToken, eventsToken ?? PLACEHOLDER) && eventsToken !== undefined) tokenOk = true;
  }
  const memberOk = portal?.memberId === undefined || secretsEqual(event.auth.memberId ?? '', portal.memberId);
  if (!portal) throw unverified('unknown portal');
  if (!tokenOk) throw unverified('token mismatch');
  if (!memberOk) throw unverified('member mismatch');
  return portal;
}

/** The one answer for a failed verification; `reason` reaches only the summary log line. */
export function unverified(reason?: string): ServiceError {
  return new ServiceError('EVENT_UNVERIFIED', UNVERIFIED, { reason });
}

/**
 * A field taken from a request, fit for a log line: text cut to `max` characters (the cut marked), anything
 * else (an object a PHP-style key made, a number) left out. Nothing a sender writes may make a line long.
 */
export function boundedText(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.length <= max ? value : `${value.slice(0, max)}…`;
}

const MEMBER_ID = /^[0-9a-f]{1,64}$/;

/**
 * The event as the rest of the handler may use it once verified: `auth[domain]` is the stored portal's
 * normalised name and `auth[member_id]` the stored one (or the event's if the secret holds none, when it looks
 * like a member id), so forwarding and the duplicate-delivery key never carry a variant spelling or padding.
 */
export function verifiedEvent(event: BotEvent, portal: PortalCredentials): BotEvent {
  const sent = event.auth.memberId?.trim().toLowerCase();
  const memberId = portal.memberId ?? (sent !== undefined && MEMBER_ID.test(sent) ? sent : undefined);
  return { ...event, auth: { ...event.auth, domain: portal.domain, memberId } };
}
