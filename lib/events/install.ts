import { Bitrix24Error } from '../bitrix24/errors.js';
import { refreshTokens, tokenUrlFor } from '../bitrix24/oauth.js';
import { normalizeDomain, type Credentials, type PortalCredentials } from '../portal/index.js';
import type { Deadline } from '../deadline/index.js';
import type { Logger } from '../logging/index.js';
import type { BotEvent } from './bot-event.js';
import { secretsEqual, unverified } from './verification.js';

export interface InstallPolicy {
  /** Our OAuth server (from configuration); never the `server_endpoint` an event names. */
  oauthServer: string;
  /** Exact domains, or `*.suffix` wildcards. Empty: no install is accepted. */
  allowedDomains: string[];
  timeoutMs: number;
  fetch?: typeof fetch;
}

export function domainAllowed(domain: string, allowed: string[]): boolean {
  return allowed.some((rule) => (rule.startsWith('*.') ? domain.endsWith(rule.slice(1)) : domain === rule));
}

/**
 * An install event proves nothing about itself: anyone can post one naming any domain and endpoints.
 * What proves it is the OAuth server we trust: exchanging the event's refresh token there with *our*
 * client_id/client_secret only works for a token issued to our application, and the answer names the real
 * member_id and client_endpoint, which must match the event. Only then is the portal stored.
 */
export async function acceptInstall(
  event: BotEvent,
  deps: { credentials: Credentials; logger: Logger; policy: InstallPolicy; deadline: Deadline },
): Promise<PortalCredentials> {
  const { credentials, logger, policy, deadline } = deps;
  const domain = normalizeDomain(event.auth.domain);
  const app = await credentials.app();
  if (!domain || !app || !event.auth.refreshToken || !event.auth.memberId || !event.auth.applicationToken)
    throw unverified();
  if (!domainAllowed(domain, policy.allowedDomains)) {
    logger.warn('install refused: domain not on the allow-list', { portal: domain, event: event.name });
    throw unverified();
  }
  let tokens;
  try {
    tokens = await refreshTokens(
      {
        tokenUrl: tokenUrlFor(policy.oauthServer),
        clientId: app.clientId,
        clientSecret: app.clientSecret,
        refreshToken: event.auth.refreshToken,
      },
      deadline,
      { timeoutMs: policy.timeoutMs, fetch: policy.fetch },
    );
  } catch (error) {
    if (error instanceof Bitrix24Error && error.status >= 400 && error.status < 500) {
      logger.warn('install refused: the OAuth server rejected the refresh token', {
        portal: domain,
        upstreamCode: error.code,
      });
      throw unverified();
    }
    throw error;
  }
  // The real portal of this token is the host of the client_endpoint our OAuth server returns. Without this
  // check, anyone who installed our app on their own portal could claim another portal's domain.
  let endpointHost: string | undefined;
  try {
    endpointHost = new URL(tokens.clientEndpoint).hostname.toLowerCase();
  } catch {
    endpointHost = undefined;
  }
  if (!secretsEqual(tokens.memberId, event.auth.memberId) || endpointHost !== domain) {
    logger.warn('install refused: OAuth answer does not match the event', { portal: domain });
    throw unverified();
  }
  const previous = await credentials.portal(domain, { fresh: true });
  const portal: PortalCredentials = {
    domain,
    memberId: tokens.memberId,
    applicationToken: event.auth.applicationToken,
    ...(previous?.botId !== undefined ? { botId: previous.botId } : {}),
    ...(previous?.bots !== undefined ? { bots: previous.bots } : {}),
    oauth: {
      clientId: app.clientId,
      clientSecret: app.clientSecret,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt: tokens.expiresAt,
      clientEndpoint: tokens.clientEndpoint,
      serverEndpoint: tokens.serverEndpoint,
    },
  };
  await credentials.savePortal(portal);
  logger.info('portal installed', { portal: domain, event: event.name, updated: previous !== undefined });
  return portal;
}
