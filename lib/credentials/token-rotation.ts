import { refreshTokens, tokenUrlFor, type TokenSet } from '../bitrix24/oauth.js';
import { Bitrix24Error, TRANSPORT } from '../bitrix24/errors.js';
import { Deadline, sleep } from '../deadline/index.js';
import { ServiceError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import { versionKey, type Credentials } from './index.js';
import type { OAuthCredentials, PortalCredentials } from './portal-credentials.js';

type OAuthPortal = PortalCredentials & { oauth: OAuthCredentials };

export interface RotationOptions {
  timeoutMs: number;
  /** How long a claim holds off other containers if its holder neither stores a pair nor releases it. */
  claimLeaseMs?: number;
  pollIntervalMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  /** false: only adopt a pair a peer already stored; if there is none, rethrow `failure`. */
  refresh?: boolean;
  failure?: Error;
}

// Claims are numbered per refresh token; a released or lapsed claim lets the next number be tried.
const MAX_GENERATIONS = 5;

interface Lease {
  owner: string;
  until: number;
}

/**
 * Replaces an expired access token, safely across containers. Bitrix24 refresh tokens rotate: the first
 * refresh kills the old pair, so two containers refreshing at once would leave one of them (and perhaps the
 * stored secret) holding a dead token. The scheme:
 *  1. Re-read the secret, bypassing the cache. If it already holds another access token, a peer has rotated:
 *     use that.
 *  2. Claim the refresh token: an exclusive Secrets Manager version keyed by a hash of the refresh token and a
 *     claim number, holding a lease. Exactly one container wins each claim number.
 *  3. The winner refreshes at `<server_endpoint host>/oauth/token/` and stores the new pair as a new version
 *     whose key is derived from the old refresh token, so at most one pair can ever follow a given token.
 *     If the refresh fails, the winner releases the claim at once (a marker version), so a later request
 *     may try again with the next claim number instead of waiting for a pair that will never come.
 *  4. Everyone else polls the secret until the new pair appears; if the claim is released or its lease lapses
 *     first, they compete for the next claim number.
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
  const leaseMs = options.claimLeaseMs ?? options.timeoutMs + 2_000;
  const pollIntervalMs = options.pollIntervalMs ?? 150;

  const current = await credentials.portal(domain, { fresh: true });
  if (!current?.oauth) throw new ServiceError('PORTAL_UNKNOWN', `No OAuth credentials are stored for ${domain}.`);
  if (current.oauth.accessToken !== expiredAccessToken) return current as OAuthPortal;
  if (options.refresh === false) throw options.failure ?? new Error('access token rejected');

  const name = credentials.names.portal(current.domain);
  const oldRefresh = current.oauth.refreshToken;
  const store = credentials.store;
  const waitFor = (giveUp: () => Promise<boolean> = async () => false) =>
    waitForRotation(credentials, domain, expiredAccessToken, deadline, pollIntervalMs, giveUp);
  // A peer's pair is on its way (or already stored): wait for it within the deadline.
  const adoptPeerPair = async (): Promise<OAuthPortal> => {
    const adopted = await waitFor();
    if (adopted) return adopted;
    throw new Bitrix24Error(TRANSPORT.timeout, 0, 'token refresh by another container did not finish in time');
  };
  const storeRotated = async (tokens: TokenSet): Promise<OAuthPortal> => {
    const rotated: OAuthPortal = {
      ...current,
      oauth: { ...current.oauth, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: tokens.expiresAt },
    };
    let outcome: 'written' | 'conflict';
    try {
      outcome = await credentials.savePortal(rotated, { key: versionKey('refresh-pair', oldRefresh), timeoutMs: Math.max(options.timeoutMs, 1_000) });
    } catch (error) {
      // The old pair is already dead; keep the new one in this container so it at least keeps working.
      credentials.remember(rotated);
      logger.error('access token refreshed but NOT stored; reinstall may be needed if this container ends', { portal: domain, error });
      return rotated;
    }
    if (outcome === 'conflict') {
      logger.warn('another container stored a pair for this refresh token; adopting it', { portal: domain });
      return adoptPeerPair();
    }
    logger.info('access token refreshed and stored', { portal: domain, expiresAt: tokens.expiresAt });
    return rotated;
  };
  const coordinate = async <T>(step: () => Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (error) {
      throw new ServiceError('CREDENTIALS_UNAVAILABLE', 'Could not coordinate the token refresh.', { retryAfterSeconds: 5, cause: error });
    }
  };

  for (let generation = 0; generation < MAX_GENERATIONS && !deadline.expired(); generation += 1) {
    const claimKey = versionKey('refresh-claim', oldRefresh, String(generation));
    const releaseKey = versionKey('refresh-release', oldRefresh, String(generation));
    const lease: Lease = { owner: credentials.owner, until: now() + leaseMs };
    const timeoutMs = Math.max(1, deadline.timeoutFor(options.timeoutMs));
    const claimed = await coordinate(() => store.claim(name, claimKey, JSON.stringify(lease), { timeoutMs }));

    if (claimed) {
      let tokens: TokenSet;
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
        // invalid_grant: a peer spent the token first (e.g. after a lapsed lease); its pair will appear.
        if (error instanceof Bitrix24Error && error.code === 'invalid_grant') {
          logger.warn('refresh token already spent; waiting for the stored pair', { portal: domain });
          return adoptPeerPair();
        }
        await store.claim(name, releaseKey, credentials.owner, { timeoutMs: 1_000 }).catch(() => undefined);
        logger.warn('token refresh failed; claim released', { portal: domain, upstreamCode: (error as { code?: string }).code });
        throw error;
      }
      return storeRotated(tokens);
    }

    // Someone else holds this claim: wait for their pair, or for the claim to be released or to lapse.
    let lastClaimCheck = 0;
    const claimGone = async (): Promise<boolean> => {
      if (now() - lastClaimCheck < 500) return false;
      lastClaimCheck = now();
      if ((await store.readClaim(name, releaseKey).catch(() => undefined)) !== undefined) return true;
      const holder = await store.readClaim(name, claimKey).catch(() => undefined);
      try {
        return holder !== undefined && (JSON.parse(holder) as Lease).until < now();
      } catch {
        return false;
      }
    };
    const adopted = await waitFor(claimGone);
    if (adopted) return adopted;
  }
  throw new Bitrix24Error(TRANSPORT.timeout, 0, 'token refresh by another container did not finish in time');
}

/** Polls until a new pair is stored (returned), `giveUp` says to stop (undefined), or the deadline nears. */
async function waitForRotation(
  credentials: Credentials,
  domain: string,
  expiredAccessToken: string,
  deadline: Deadline,
  pollIntervalMs: number,
  giveUp: () => Promise<boolean>,
): Promise<OAuthPortal | undefined> {
  while (deadline.remainingMs() > pollIntervalMs) {
    await sleep(pollIntervalMs);
    const latest = await credentials.portal(domain, { fresh: true });
    if (latest?.oauth && latest.oauth.accessToken !== expiredAccessToken) return latest as OAuthPortal;
    if (await giveUp()) return undefined;
  }
  return undefined;
}
