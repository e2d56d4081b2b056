import { Bitrix24Error, TRANSPORT } from '../bitrix24/errors.js';
import type { Deadline } from '../deadline/index.js';
import type { Logger } from '../logging/index.js';
import type { Credentials } from './credentials.js';
import type { PortalCallOptions, PortalClient } from './portal-client.js';
import { normalizeDomain, type PortalCredentials } from './portal-credentials.js';

/**
 * A portal can change its address; the old one then answers 302 to the new. The redirect itself proves nothing,
 * so it is never followed as such: the call is made again only with the credentials stored for the host it
 * names, and only when those belong to the same portal (the same member id, which an event from the new address
 * proved before they were stored). Anything else stays a `PORTAL_MOVED` failure.
 */
export function withRenamedPortals(client: PortalClient, credentials: Credentials, logger: Logger): PortalClient {
  return {
    async call<T>(
      portal: PortalCredentials,
      method: string,
      params: Record<string, unknown>,
      deadline: Deadline,
      options?: PortalCallOptions,
    ) {
      try {
        return await client.call<T>(portal, method, params, deadline, options);
      } catch (error) {
        if (!(error instanceof Bitrix24Error && error.code === TRANSPORT.moved)) throw error;
        const renamed = await verifiedNewAddress(portal, error, credentials);
        if (!renamed) {
          logger.warn('portal answered with a redirect to an unverified host; not followed', {
            portal: portal.domain,
            location: locationHost(error.location),
            upstreamStatus: error.status,
          });
          throw error;
        }
        logger.info('portal renamed: calling its verified new domain', {
          portal: portal.domain,
          renamedTo: renamed.domain,
          memberId: renamed.memberId,
        });
        // An event's token belongs to the portal as it is now; the stored pair of the new domain is used instead.
        return client.call<T>(renamed, method, params, deadline);
      }
    },
  };
}

function locationHost(location: string | undefined): string | undefined {
  return location && URL.canParse(location) ? new URL(location).hostname.slice(0, 253) : undefined;
}

async function verifiedNewAddress(
  portal: PortalCredentials,
  error: Bitrix24Error,
  credentials: Credentials,
): Promise<PortalCredentials | undefined> {
  const host = normalizeDomain(locationHost(error.location) ?? '');
  if (!host || host === portal.domain || portal.memberId === undefined) return undefined;
  const stored = await credentials.portal(host);
  return stored?.memberId === portal.memberId ? stored : undefined;
}
