import type { HttpTransport } from '../bitrix24/http-transport.js';
import { redirectedHost } from '../bitrix24/redirect-probe.js';
import type { Credentials, PortalCredentials } from '../portal/index.js';
import { normalizeDomain } from '../portal/index.js';
import { ServiceError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import type { BotEvent } from './bot-event.js';
import { verifyEventOrigin } from './verification.js';

/**
 * A portal can change its address. Its events then name the new `auth[domain]`, with the same `member_id` and
 * token, and no secret exists under the new name. Such an event is verified against the portal stored for its
 * member id (the same token and member-id checks as any event), and the new name against the portal itself: its
 * old address must redirect there. A token alone is not enough, since a webhook bot's token (its CLIENT_ID) sits
 * in access logs, and moving its credentials to a name of the sender's choosing would send the webhook's code
 * there. If both hold, the credentials are moved to the new name, endpoints on the old host re-pointed at the new
 * one, and an audit line says so. Where this function
 * may not write secrets, the moved credentials serve this container only and the line asks an operator to act.
 * `undefined`: not a renamed portal we know (the caller answers as for any unverified event).
 */
export interface RenamedPortalDeps {
  logger: Logger;
  mayStore: boolean;
  /** For the probe of the old address. */
  timeoutMs?: number;
  transport?: HttpTransport;
}

export async function recogniseRenamedPortal(
  credentials: Credentials,
  event: BotEvent,
  deps: RenamedPortalDeps,
): Promise<PortalCredentials | undefined> {
  const newDomain = normalizeDomain(event.auth.domain);
  const memberId = event.auth.memberId;
  if (!newDomain || !memberId || (await credentials.portal(newDomain))) return undefined;
  const oldDomain = await credentials.domainOfMember(memberId);
  if (!oldDomain || oldDomain === newDomain) return undefined;
  let old: PortalCredentials;
  try {
    old = await verifyEventOrigin(credentials, { ...event, auth: { ...event.auth, domain: oldDomain } });
  } catch (error) {
    if (error instanceof ServiceError && error.code === 'EVENT_UNVERIFIED') return undefined;
    throw error;
  }
  // The index is only a hint: the stored portal itself must carry this member id.
  if (old.memberId !== memberId) return undefined;
  const endpoint = old.webhook ? old.webhook.url : old.oauth.clientEndpoint;
  const redirectsTo = await redirectedHost(endpoint, { timeoutMs: deps.timeoutMs ?? 1_000, transport: deps.transport });
  if (redirectsTo !== newDomain) {
    deps.logger.warn('portal rename refused: its old address does not redirect to the new domain', {
      portal: newDomain,
      renamedFrom: oldDomain,
      redirectsTo,
    });
    return undefined;
  }
  const moved = movedTo(old, newDomain);
  let stored = false;
  if (deps.mayStore) {
    stored = (await credentials.savePortal(moved)) === 'written';
  } else {
    credentials.remember(moved);
  }
  const audit = { portal: newDomain, renamedFrom: oldDomain, memberId, stored, event: event.name };
  if (stored) deps.logger.warn('portal renamed: credentials moved to its new domain', audit);
  else {
    deps.logger.error(
      'portal renamed: credentials not stored (this function may not write secrets); store them under the new domain',
      audit,
    );
  }
  return moved;
}

/** The same credentials under the new name, with every endpoint that was on the old host moved to the new one. */
function movedTo(portal: PortalCredentials, domain: string): PortalCredentials {
  const rehost = (url: string): string => {
    const parsed = new URL(url);
    if (parsed.hostname !== portal.domain) return url;
    parsed.hostname = domain;
    return parsed.toString();
  };
  if (portal.webhook) return { ...portal, domain, webhook: { ...portal.webhook, url: rehost(portal.webhook.url) } };
  return { ...portal, domain, oauth: { ...portal.oauth, clientEndpoint: rehost(portal.oauth.clientEndpoint) } };
}

/**
 * `verifyEventOrigin`, and for an event whose domain has no secret, the renamed-portal check above. Every failure
 * is the same EVENT_UNVERIFIED as before.
 */
export async function verifyEventOrRenamed(
  credentials: Credentials,
  event: BotEvent,
  deps: RenamedPortalDeps,
): Promise<PortalCredentials> {
  try {
    return await verifyEventOrigin(credentials, event);
  } catch (error) {
    if (!(error instanceof ServiceError && error.code === 'EVENT_UNVERIFIED')) throw error;
    const renamed = await recogniseRenamedPortal(credentials, event, deps);
    if (renamed) return renamed;
    throw error;
  }
}
