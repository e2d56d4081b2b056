import type { HttpTransport } from '../bitrix24/http-transport.js';
import { Bitrix24Error } from '../bitrix24/errors.js';
import { refreshTokens, tokenUrlFor, type TokenSet } from '../bitrix24/oauth.js';
import { createRestClient } from '../bitrix24/rest-client.js';
import {
  MIN_EVENT_TOKEN_LENGTH,
  isAcceptableEndpoint,
  normalizeDomain,
  type Credentials,
  type PortalCredentials,
} from '../portal/index.js';
import type { Deadline } from '../deadline/index.js';
import type { Logger } from '../logging/index.js';
import type { BotEvent } from './bot-event.js';
import { boundedText, secretsEqual, unverified } from './verification.js';

export interface InstallPolicy {
  /** Our OAuth server (from configuration); never the `server_endpoint` an event names. */
  oauthServer: string;
  /** Exact domains, or `*.suffix` wildcards. Empty: no install is accepted. */
  allowedDomains: string[];
  timeoutMs: number;
  /** Whether the portal may be on plain-http loopback (the sandbox and tests). */
  allowLoopbackEndpoints?: boolean;
  transport?: HttpTransport;
}

interface InstallDeps {
  credentials: Credentials;
  logger: Logger;
  policy: InstallPolicy;
  deadline: Deadline;
}

export function domainAllowed(domain: string, allowed: string[]): boolean {
  return allowed.some((rule) => (rule.startsWith('*.') ? domain.endsWith(rule.slice(1)) : domain === rule));
}

/**
 * An install event proves nothing about itself: anyone can post one naming any domain and endpoints.
 * What proves it is the OAuth server we trust: exchanging the event's refresh token there with *our*
 * client_id/client_secret only works for a token issued to our application, and the answer names the real
 * member_id and client_endpoint, which must match the event.
 *
 * That proves the token is ours, not who holds it: every user who opens the app's frame has such a token. So a
 * new application token (and with it the right to send events as the portal) is only taken from an
 * administrator, which `user.admin` answered with the fresh token tells. An event that brings the stored
 * application token is the portal's own, but a non-administrator's pair never replaces the stored one, and
 * the stored `memberId` never changes. Every refusal is logged with its reason and answered 401.
 */
export async function acceptInstall(event: BotEvent, deps: InstallDeps): Promise<PortalCredentials> {
  const { credentials, logger, policy } = deps;
  const domain = normalizeDomain(event.auth.domain);
  const refuse = (reason: string, fields: Record<string, unknown> = {}) => {
    logger.warn('install refused', {
      reason,
      event: event.name,
      portal: domain ?? boundedText(event.auth.domain, 253),
      ...fields,
    });
    return unverified(`install proof failed: ${reason}`);
  };
  const { refreshToken, memberId, applicationToken } = event.auth;
  if (!domain) throw refuse('auth[domain] is not a host name');
  if (!refreshToken || !memberId || !applicationToken)
    throw refuse('the event lacks auth[refresh_token], auth[member_id] or auth[application_token]');
  if (applicationToken.length < MIN_EVENT_TOKEN_LENGTH) throw refuse('auth[application_token] is too short');
  if (!domainAllowed(domain, policy.allowedDomains)) throw refuse('the domain is not on INSTALL_ALLOWED_DOMAINS');
  const app = await credentials.app();
  if (!app) throw refuse('no application credentials are stored');

  const tokens = await provenTokens(event, domain, app, deps, refuse);
  // Both wait on the network; side by side they cost the answer budget once.
  const [administrator, previous] = await Promise.all([
    isAdministrator(tokens, deps),
    credentials.portal(domain, { fresh: true }),
  ]);
  if (previous?.memberId !== undefined && !secretsEqual(previous.memberId, tokens.memberId))
    throw refuse('member_id differs from the stored portal', { administrator });
  const storedToken =
    previous?.applicationToken !== undefined && secretsEqual(applicationToken, previous.applicationToken);
  if (!administrator) {
    if (!storedToken || !previous)
      throw refuse('not an administrator, and not the stored application token', { stored: previous !== undefined });
    logger.info('install event from a non-administrator: stored credentials kept', {
      portal: domain,
      event: event.name,
    });
    return previous;
  }
  const portal: PortalCredentials = {
    domain,
    memberId: previous?.memberId ?? tokens.memberId,
    applicationToken,
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
  logger.info('portal installed', {
    portal: domain,
    event: event.name,
    updated: previous !== undefined,
    applicationTokenChanged: previous !== undefined && !storedToken,
  });
  return portal;
}

/** The event's refresh token exchanged at our OAuth server, and the answer checked against the event. */
async function provenTokens(
  event: BotEvent,
  domain: string,
  app: { clientId: string; clientSecret: string },
  { policy, deadline }: InstallDeps,
  refuse: (reason: string, fields?: Record<string, unknown>) => Error,
): Promise<TokenSet> {
  let tokens: TokenSet;
  try {
    tokens = await refreshTokens(
      {
        tokenUrl: tokenUrlFor(policy.oauthServer),
        clientId: app.clientId,
        clientSecret: app.clientSecret,
        refreshToken: event.auth.refreshToken ?? '',
      },
      deadline,
      { timeoutMs: policy.timeoutMs, transport: policy.transport },
    );
  } catch (error) {
    // A refusal, a page that is not JSON, a timeout: none of them proves the install, and Bitrix24 does not
    // retry a delivery whatever we answer.
    if (error instanceof Bitrix24Error)
      throw refuse('the OAuth server did not confirm the refresh token', {
        upstreamStatus: error.status || undefined,
        upstreamCode: error.code,
      });
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
  if (!secretsEqual(tokens.memberId, event.auth.memberId ?? '') || endpointHost !== domain)
    throw refuse('the OAuth answer does not match the event');
  const allowLoopback = policy.allowLoopbackEndpoints ?? false;
  if (!isAcceptableEndpoint(tokens.clientEndpoint, { allowLoopback }))
    throw refuse('the OAuth answer names a client_endpoint this service does not call');
  return tokens;
}

/**
 * `user.admin` with the token just issued: `true` only for a portal administrator. It needs no scope of its
 * own (the platform lists it in every application's global scope). Any failure counts as "not shown".
 */
async function isAdministrator(tokens: TokenSet, { policy, deadline, logger }: InstallDeps): Promise<boolean> {
  const rest = createRestClient({ timeoutMs: policy.timeoutMs, maxAttempts: 1, transport: policy.transport });
  try {
    const { result } = await rest.call<unknown>(
      { kind: 'oauth', clientEndpoint: tokens.clientEndpoint, accessToken: tokens.accessToken },
      'user.admin',
      {},
      deadline,
    );
    return result === true;
  } catch (error) {
    logger.warn('administrator check failed; treated as not an administrator', {
      upstreamCode: error instanceof Bitrix24Error ? error.code : undefined,
    });
    return false;
  }
}
