import type { HttpTransport } from '../bitrix24/http-transport.js';
import { Bitrix24Error } from '../bitrix24/errors.js';
import {
  createRestClient,
  type CallOptions,
  type CallResult,
  type RestClient,
  type RestTarget,
} from '../bitrix24/rest-client.js';
import type { Config } from '../config/index.js';
import type { Deadline } from '../deadline/index.js';
import type { Logger } from '../logging/index.js';
import type { Metrics } from '../metrics/index.js';
import type { Credentials } from './credentials.js';
import type { PortalCredentials } from './portal-credentials.js';
import { createMemoryMethodBlocks, withMethodBlocks } from './method-blocks.js';
import { withRenamedPortals } from './renamed-portals.js';
import { rotateAccessToken } from './token-rotation.js';

export interface PortalCallOptions extends CallOptions {
  /**
   * A fresh access token delivered with a bot event. It is only ever sent to the portal's *stored*
   * endpoint, never to one named in the event, so a forged event cannot redirect our call.
   */
  accessToken?: string;
}

export interface PortalClient {
  call<T = unknown>(
    portal: PortalCredentials,
    method: string,
    params: Record<string, unknown>,
    deadline: Deadline,
    options?: PortalCallOptions,
  ): Promise<CallResult<T> & { refreshed: boolean }>;
}

/**
 * The portal client a function uses, with its keep-alive connections, built once per container.
 * `refreshTokens` is false where the function may not write secrets.
 */
export function portalClientFromConfig(
  config: Config,
  credentials: Credentials,
  logger: Logger,
  refreshTokens: boolean,
  metrics?: Metrics,
): PortalClient {
  const rest = createRestClient({ timeoutMs: config.bitrix24TimeoutMs, maxAttempts: config.bitrix24MaxAttempts });
  const client = createPortalClient({
    rest,
    credentials,
    logger,
    timeoutMs: config.bitrix24TimeoutMs,
    refreshTokens,
    oauthServer: config.oauthServer,
    deadTokenMemoryMs: config.deadRefreshTokenMemoryMs,
    metrics,
  });
  // A method whose time budget the portal reported spent waits here until it resets (per container for now); a
  // renamed portal's redirect leads only to the credentials stored for its verified new domain.
  return withRenamedPortals(withMethodBlocks(client, createMemoryMethodBlocks(), logger), credentials, logger);
}

/** REST calls on behalf of a stored portal: picks the URL form and refreshes an expired OAuth token once. */
export function createPortalClient(deps: {
  rest: RestClient;
  credentials: Credentials;
  logger: Logger;
  timeoutMs: number;
  /** Where expired pairs are refreshed: our configured OAuth server, never the endpoint a secret names. */
  oauthServer: string;
  deadTokenMemoryMs?: number;
  transport?: HttpTransport;
  /** false where the function may not write secrets: an expired pair is then reported, not refreshed. */
  refreshTokens?: boolean;
  /** Counts token refreshes. */
  metrics?: Metrics;
}): PortalClient {
  const targetFor = (portal: PortalCredentials, accessToken?: string): RestTarget =>
    portal.webhook
      ? { kind: 'webhook', url: portal.webhook.url }
      : {
          kind: 'oauth',
          clientEndpoint: portal.oauth.clientEndpoint,
          accessToken: accessToken ?? portal.oauth.accessToken,
        };

  return {
    async call<T>(
      portal: PortalCredentials,
      method: string,
      params: Record<string, unknown>,
      deadline: Deadline,
      options: PortalCallOptions = {},
    ) {
      const target = targetFor(portal, options.accessToken);
      let failure: Bitrix24Error;
      try {
        return { ...(await deps.rest.call<T>(target, method, params, deadline, options)), refreshed: false };
      } catch (error) {
        if (!(
          error instanceof Bitrix24Error &&
          portal.oauth &&
          (error.isExpiredToken || error.code === 'invalid_token')
        ))
          throw error;
        failure = error;
      }
      // An event's token that failed says nothing about the stored pair: try the stored one first.
      let current = portal as PortalCredentials & { oauth: NonNullable<PortalCredentials['oauth']> };
      if (options.accessToken !== undefined && options.accessToken !== current.oauth.accessToken) {
        try {
          return {
            ...(await deps.rest.call<T>(targetFor(current), method, params, deadline, options)),
            refreshed: false,
          };
        } catch (error) {
          if (!(error instanceof Bitrix24Error && (error.isExpiredToken || error.code === 'invalid_token')))
            throw error;
          failure = error;
        }
      }
      // `invalid_token` is what a container holding a pair that a peer already rotated sees (the refresh killed
      // the old access token); only `expired_token` justifies spending the refresh token ourselves.
      current = await rotateAccessToken(
        deps.credentials,
        portal.domain,
        current.oauth.accessToken,
        deadline,
        deps.logger,
        {
          timeoutMs: deps.timeoutMs,
          oauthServer: deps.oauthServer,
          deadTokenMemoryMs: deps.deadTokenMemoryMs,
          transport: deps.transport,
          refresh: failure.isExpiredToken && deps.refreshTokens !== false,
          failure,
          metrics: deps.metrics,
        },
      );
      return { ...(await deps.rest.call<T>(targetFor(current), method, params, deadline, options)), refreshed: true };
    },
  };
}
