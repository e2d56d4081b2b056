import { refreshTokens, tokenUrlFor } from '../bitrix24/oauth.js';
import { Bitrix24Error, TRANSPORT } from '../bitrix24/errors.js';
import { Deadline, sleep } from '../deadline/index.js';
import { ServiceError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import { versionKey, type Credentials } from './index.js';
import type { OAuthCredentials, PortalCredentials } from './portal-credentials.js';

type OAuthPortal = PortalCredentials & { oauth: OAuthCredentials };

export interface RotationOptions {
  timeoutMs: number;
  /** A claimant that dies holds its refresh token for at most this long before another container may try. */
  claimWindowMs?: number;
  pollIntervalMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  /** false: only adopt a pair a peer already stored; if there is none, rethrow `failure`. */
  refresh?: boolean;
  failure?: Error;
}

/**
 * Replaces an expired access token, safely across containers. Bitrix24 refresh tokens rotate: the first
 * refresh kills the old pair, so two containers refreshing at once would leave one of them (and perhaps the
 * stored secret) holding a dead token. The scheme:
 *  1. Re-read the secret, bypassing the cache. If it already holds another access token, a peer has rotated:
 *     use that.
 *  2. Claim the refresh token: an exclusive Secrets Manager version keyed by a hash of the refresh token and
 *     the current claim window. Exactly one container wins the claim.
 *  3. The winner refreshes at `<server_endpoint host>/oauth/token/` and stores the new pair as a new version
 *     whose key is derived from the old refresh token, so at most one pair can ever follow a given token.
 *  4. Everyone else polls the secret until the new pair appears (or the deadline passes).
 */
export async function rotateAccessToken(
  credentials: Credentials,
  domain: string,
  expiredAccessToken: string,
  deadline: Deadline,
  logger: Logger,
  options: RotationOptions,
): Promise<OAuthPortal> {
  const now = options.now ?? Date.now;
  const claimWindowMs = options.claimWindowMs ?? 60_000;
  const pollIntervalMs = options.pollIntervalMs ?? 150;

  const current = await credentials.portal(domain, { fresh: true });
  if (!current?.oauth) throw new ServiceError('PORTAL_UNKNOWN', `No OAuth credentials are stored for ${domain}.`);
  if (current.oauth.accessToken !== expiredAccessToken) return current as OAuthPortal;
  if (options.refresh === false) throw options.failure ?? new Error('access token rejected');

  const name = credentials.names.portal(current.domain);
  const oldRefresh = current.oauth.refreshToken;
  const claimKey = versionKey('refresh-claim', oldRefresh, String(Math.floor(now() / claimWindowMs)));
  let claimed: boolean;
  try {
    claimed = await credentials.store.claim(name, claimKey, credentials.owner, { timeoutMs: deadline.timeoutFor(options.timeoutMs) });
  } catch (error) {
    throw new ServiceError('CREDENTIALS_UNAVAILABLE', 'Could not coordinate the token refresh.', { retryAfterSeconds: 5, cause: error });
  }

  if (claimed) {
    let tokens;
    try {
      tokens = await refreshTokens(
        {
          tokenUrl: tokenUrlFor(current.oauth.serverEndpoint),
          clientId: current.oauth.clientId,
          clientSecret: current.oauth.clientSecret,
          refreshToken: oldRefresh,
        },
        deadline,
        { timeoutMs: options.timeoutMs, fetch: options.fetch },
      );
    } catch (error) {
      // invalid_grant: a peer in another claim window spent the token first; its pair will appear below.
      if (!(error instanceof Bitrix24Error && error.code === 'invalid_grant')) throw error;
      logger.warn('refresh token already spent; waiting for the stored pair', { portal: domain });
      return waitForRotation(credentials, domain, expiredAccessToken, deadline, pollIntervalMs);
    }
    const rotated: OAuthPortal = {
      ...current,
      oauth: {
        ...current.oauth,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
        expiresAt: tokens.expiresAt,
      },
    };
    try {
      const outcome = await credentials.savePortal(rotated, {
        key: versionKey('refresh-pair', oldRefresh),
        timeoutMs: Math.max(options.timeoutMs, 1_000),
      });
      if (outcome === 'conflict') {
        logger.warn('another container stored a pair for this refresh token; adopting it', { portal: domain });
        return waitForRotation(credentials, domain, expiredAccessToken, deadline, pollIntervalMs);
      }
      logger.info('access token refreshed and stored', { portal: domain, expiresAt: tokens.expiresAt });
    } catch (error) {
      // The old pair is already dead; keep the new one in this container so it at least keeps working.
      credentials.remember(rotated);
      logger.error('access token refreshed but NOT stored; reinstall may be needed if this container ends', {
        portal: domain,
        error,
      });
    }
    return rotated;
  }
  return waitForRotation(credentials, domain, expiredAccessToken, deadline, pollIntervalMs);
}

async function waitForRotation(
  credentials: Credentials,
  domain: string,
  expiredAccessToken: string,
  deadline: Deadline,
  pollIntervalMs: number,
): Promise<OAuthPortal> {
  while (deadline.remainingMs() > pollIntervalMs) {
    await sleep(pollIntervalMs);
    const latest = await credentials.portal(domain, { fresh: true });
    if (latest?.oauth && latest.oauth.accessToken !== expiredAccessToken) return latest as OAuthPortal;
  }
  throw new Bitrix24Error(TRANSPORT.timeout, 0, 'token refresh by another container did not finish in time');
}
