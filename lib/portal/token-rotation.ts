import type { HttpTransport } from '../bitrix24/http-transport.js';
import { refreshTokens, tokenUrlFor, type TokenSet } from '../bitrix24/oauth.js';
import { Bitrix24Error } from '../bitrix24/errors.js';
import { Deadline, sleep } from '../deadline/index.js';
import { ServiceError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import { noMetrics, type Metrics } from '../metrics/index.js';
import { versionKey, type Credentials } from './credentials.js';
import { DEFAULT_DEAD_TOKEN_MEMORY_MS, knownDead, reauthRequired, rememberDead } from './dead-refresh-tokens.js';
import type { OAuthCredentials, PortalCredentials } from './portal-credentials.js';

type OAuthPortal = PortalCredentials & { oauth: OAuthCredentials };

export interface RotationOptions {
  /** Our OAuth server (configuration): the client secret goes there, never to an endpoint a secret names. */
  oauthServer: string;
  timeoutMs: number;
  /** How long this container refuses at once to retry a refresh token the OAuth server called dead. */
  deadTokenMemoryMs?: number;
  /** How long a claim holds off other containers if its holder neither stores a pair nor releases it. */
  claimLeaseMs?: number;
  pollIntervalMs?: number;
  transport?: HttpTransport;
  now?: () => number;
  /** false: only adopt a pair a peer already stored; if there is none, rethrow `failure`. */
  refresh?: boolean;
  failure?: Error;
  /** Counts this container's refreshes at the OAuth server: succeeded, or failed. */
  metrics?: Metrics;
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
 *  3. The winner refreshes at our OAuth server (configuration) and stores the new pair as a new version
 *     whose key is derived from the old refresh token, so at most one pair can ever follow a given token.
 *     If the refresh fails, the winner releases the claim at once (a marker version), so a later request
 *     may try again with the next claim number instead of waiting for a pair that will never come.
 *  4. Everyone else polls the secret until the new pair appears; if the claim is released or its lease lapses
 *     first, they compete for the next claim number.
 * A refresh token the OAuth server calls `invalid_grant` is dead, unless a peer spent it and stored a pair: one
 * re-read tells which. A dead one fails at once with PORTAL_REAUTH_REQUIRED, is marked for the other
 * containers (a claim version of its own) and remembered here, so no request waits on a pair that never comes.
 */
export async function rotateAccessToken(
  credentials: Credentials,
  domain: string,
  expiredAccessToken: string,
  deadline: Deadline,
  logger: Logger,
  options: RotationOptions,
): Promise<OAuthPortal> {
  const current = await credentials.portal(domain, { fresh: true });
  if (!current?.oauth) throw new ServiceError('PORTAL_UNKNOWN', `No OAuth credentials are stored for ${domain}.`);
  if (current.oauth.accessToken !== expiredAccessToken) return current as OAuthPortal;
  if (options.refresh === false) throw options.failure ?? new Error('access token rejected');
  if (knownDead(current.oauth.refreshToken, (options.now ?? Date.now)())) throw reauthRequired(domain);
  return new Rotation(credentials, current as OAuthPortal, deadline, logger, options).run();
}

/** One container's part in rotating one expired pair: claim, refresh and store, or wait for a peer's pair. */
class Rotation {
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly name: string;
  private readonly oldRefresh: string;

  constructor(
    private readonly credentials: Credentials,
    private readonly current: OAuthPortal,
    private readonly deadline: Deadline,
    private readonly logger: Logger,
    private readonly options: RotationOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.leaseMs = options.claimLeaseMs ?? options.timeoutMs + 2_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 150;
    this.name = credentials.names.portal(current.domain);
    this.oldRefresh = current.oauth.refreshToken;
  }

  async run(): Promise<OAuthPortal> {
    for (let generation = 0; generation < MAX_GENERATIONS && !this.deadline.expired(); generation += 1) {
      const claimKey = versionKey('refresh-claim', this.oldRefresh, String(generation));
      const releaseKey = versionKey('refresh-release', this.oldRefresh, String(generation));
      const lease: Lease = { owner: this.credentials.owner, until: this.now() + this.leaseMs };
      const timeoutMs = Math.max(1, this.deadline.timeoutFor(this.options.timeoutMs));
      const claimed = await this.coordinate(() =>
        this.credentials.store.claim(this.name, claimKey, JSON.stringify(lease), { timeoutMs }),
      );
      if (claimed) return this.refreshAsClaimant(releaseKey);
      // Someone else holds this claim: wait for their pair, or for the claim to be released or to lapse.
      const adopted = await this.waitForPeerPair(this.claimGone(claimKey, releaseKey));
      if (adopted) return adopted;
    }
    throw peerRefreshTimedOut();
  }

  private async refreshAsClaimant(releaseKey: string): Promise<OAuthPortal> {
    const { oauth } = this.current;
    let tokens: TokenSet;
    try {
      tokens = await refreshTokens(
        {
          tokenUrl: tokenUrlFor(this.options.oauthServer),
          clientId: oauth.clientId,
          clientSecret: oauth.clientSecret,
          refreshToken: this.oldRefresh,
        },
        this.deadline,
        { timeoutMs: this.options.timeoutMs, transport: this.options.transport },
      );
    } catch (error) {
      (this.options.metrics ?? noMetrics).add('TokenRefreshFailures');
      if (error instanceof Bitrix24Error && error.code === 'invalid_grant') return this.afterInvalidGrant(releaseKey);
      await this.credentials.store
        .claim(this.name, releaseKey, this.credentials.owner, { timeoutMs: 1_000 })
        .catch(() => undefined);
      this.logger.warn('token refresh failed; claim released', {
        portal: this.current.domain,
        upstreamCode: (error as { code?: string }).code,
      });
      throw error;
    }
    (this.options.metrics ?? noMetrics).add('TokenRefreshes');
    return this.storeRotated(tokens);
  }

  /** A peer that spent the token first has stored its pair by now; if not, the token is dead. */
  private async afterInvalidGrant(releaseKey: string): Promise<OAuthPortal> {
    const latest = await this.credentials.portal(this.current.domain, { fresh: true });
    if (latest?.oauth && latest.oauth.accessToken !== this.current.oauth.accessToken) return latest as OAuthPortal;
    this.logger.error('stored refresh token refused (invalid_grant): the portal needs a reinstall', {
      portal: this.current.domain,
    });
    this.markDead();
    const store = this.credentials.store;
    await Promise.all([
      store.claim(this.name, this.deadKey, this.credentials.owner, { timeoutMs: 1_000 }).catch(() => undefined),
      store.claim(this.name, releaseKey, this.credentials.owner, { timeoutMs: 1_000 }).catch(() => undefined),
    ]);
    throw reauthRequired(this.current.domain);
  }

  private get deadKey(): string {
    return versionKey('refresh-dead', this.oldRefresh);
  }

  private markDead(): void {
    rememberDead(this.oldRefresh, this.options.deadTokenMemoryMs ?? DEFAULT_DEAD_TOKEN_MEMORY_MS, this.now());
  }

  private async storeRotated(tokens: TokenSet): Promise<OAuthPortal> {
    const { accessToken, refreshToken, expiresAt } = tokens;
    const rotated: OAuthPortal = {
      ...this.current,
      oauth: { ...this.current.oauth, accessToken, refreshToken, expiresAt },
    };
    const domain = this.current.domain;
    let outcome: 'written' | 'conflict';
    try {
      const key = versionKey('refresh-pair', this.oldRefresh);
      outcome = await this.credentials.savePortal(rotated, { key, timeoutMs: Math.max(this.options.timeoutMs, 1_000) });
    } catch (error) {
      // The old pair is already dead; keep the new one in this container so it at least keeps working.
      this.credentials.remember(rotated);
      this.logger.error('access token refreshed but NOT stored; reinstall may be needed if this container ends', {
        portal: domain,
        error,
      });
      return rotated;
    }
    if (outcome === 'conflict') {
      this.logger.warn('another container stored a pair for this refresh token; adopting it', { portal: domain });
      return this.adoptPeerPair();
    }
    this.logger.info('access token refreshed and stored', { portal: domain, expiresAt });
    return rotated;
  }

  /** A peer's pair is on its way (or already stored): wait for it within the deadline. */
  private async adoptPeerPair(): Promise<OAuthPortal> {
    const adopted = await this.waitForPeerPair(async () => false);
    if (adopted) return adopted;
    throw peerRefreshTimedOut();
  }

  /** Polls until a new pair is stored (returned), `giveUp` says to stop (undefined), or the deadline nears. */
  private async waitForPeerPair(giveUp: () => Promise<boolean>): Promise<OAuthPortal | undefined> {
    while (this.deadline.remainingMs() > this.pollIntervalMs) {
      await sleep(this.pollIntervalMs);
      const latest = await this.credentials.portal(this.current.domain, { fresh: true });
      if (latest?.oauth && latest.oauth.accessToken !== this.current.oauth.accessToken) return latest as OAuthPortal;
      if (await giveUp()) return undefined;
    }
    return undefined;
  }

  /** Whether the claim's holder released it or let its lease lapse; asked at most every 500 ms. */
  private claimGone(claimKey: string, releaseKey: string): () => Promise<boolean> {
    let lastCheck = 0;
    return async () => {
      if (this.now() - lastCheck < 500) return false;
      lastCheck = this.now();
      const store = this.credentials.store;
      if ((await store.readClaim(this.name, this.deadKey).catch(() => undefined)) !== undefined) {
        this.markDead();
        throw reauthRequired(this.current.domain);
      }
      if ((await store.readClaim(this.name, releaseKey).catch(() => undefined)) !== undefined) return true;
      const holder = await store.readClaim(this.name, claimKey).catch(() => undefined);
      try {
        return holder !== undefined && (JSON.parse(holder) as Lease).until < this.now();
      } catch {
        return false;
      }
    };
  }

  private async coordinate<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      throw new ServiceError('CREDENTIALS_UNAVAILABLE', 'Could not coordinate the token refresh.', {
        retryAfterSeconds: 5,
        cause: error,
      });
    }
  }
}

// The portal was never asked: the wait was for a peer container's refresh, so no upstream status or code.
function peerRefreshTimedOut(): ServiceError {
  return new ServiceError('UPSTREAM_TIMEOUT', 'A token refresh by another container did not finish in time.', {
    retryAfterSeconds: 1,
  });
}
