import type { Deadline } from '../deadline/index.js';
import { Bitrix24Error, TRANSPORT } from './errors.js';
import { nodeHttpTransport, transportFailure, type HttpAnswer, type HttpTransport } from './http-transport.js';

// A token answer is a few hundred bytes; anything near this is not one.
const MAX_ANSWER_BYTES = 64 * 1024;

export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  /** Unix seconds. */
  expiresAt: number;
  clientEndpoint: string;
  serverEndpoint: string;
  memberId: string;
  domain: string;
  scope: string;
  userId?: number;
}

/**
 * The OAuth server's refresh URL. Bitrix24 names it through `server_endpoint`
 * (`https://oauth.bitrix.info/rest/` → `https://oauth.bitrix.info/oauth/token/`).
 */
export function tokenUrlFor(serverEndpointOrOrigin: string): string {
  return `${new URL(serverEndpointOrOrigin).origin}/oauth/token/`;
}

/**
 * Exchanges a refresh token for a new pair. Refresh tokens rotate: after this call the old pair is dead, so
 * the caller must store the result before anything else can go wrong.
 */
export async function refreshTokens(
  request: { tokenUrl: string; clientId: string; clientSecret: string; refreshToken: string },
  deadline: Deadline,
  options: { timeoutMs: number; transport?: HttpTransport },
): Promise<TokenSet> {
  const url = new URL(request.tokenUrl);
  url.search = new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: request.clientId,
    client_secret: request.clientSecret,
    refresh_token: request.refreshToken,
  }).toString();
  const timeoutMs = deadline.timeoutFor(options.timeoutMs);
  if (timeoutMs <= 0) throw new Bitrix24Error(TRANSPORT.timeout, 0, 'deadline reached before the token refresh');
  let response: HttpAnswer;
  let parsed: unknown;
  try {
    response = await (options.transport ?? nodeHttpTransport)({
      method: 'GET',
      url,
      timeoutMs,
      maxBytes: MAX_ANSWER_BYTES,
    });
  } catch (error) {
    const { kind, status } = transportFailure(error);
    if (kind === 'too-large' || kind === 'encoding') {
      const what = kind === 'too-large' ? 'too much' : 'in an encoding we cannot read';
      throw new Bitrix24Error(TRANSPORT.invalidResponse, status, `OAuth server answered ${what}`);
    }
    if (kind === 'timeout') {
      throw new Bitrix24Error(TRANSPORT.timeout, status, 'OAuth server did not answer in time', undefined, {
        cause: error,
      });
    }
    throw new Bitrix24Error(TRANSPORT.network, 0, 'OAuth server unreachable', undefined, { cause: error });
  }
  // The refresh token travels in the query string: a redirect is never followed, so it reaches no other host.
  if (response.status >= 300 && response.status < 400) {
    throw new Bitrix24Error(TRANSPORT.network, response.status, `OAuth server answered ${response.status}`);
  }
  try {
    parsed = JSON.parse(response.text);
  } catch {
    throw new Bitrix24Error(TRANSPORT.invalidResponse, response.status, 'OAuth server answered without JSON');
  }
  // `null`, a number or an array is JSON too; none of them is an answer.
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Bitrix24Error(TRANSPORT.invalidResponse, response.status, 'OAuth server answered without a JSON object');
  }
  const body = parsed as Record<string, unknown>;
  if (typeof body.error === 'string') {
    throw new Bitrix24Error(
      body.error,
      response.status,
      typeof body.error_description === 'string' ? body.error_description : '',
    );
  }
  const str = (key: string): string => {
    const value = body[key];
    if (typeof value !== 'string' || value === '') {
      throw new Bitrix24Error(TRANSPORT.invalidResponse, response.status, `OAuth answer lacks ${key}`);
    }
    return value;
  };
  const expiresIn = Number(body.expires_in ?? 3600);
  const expires = Number(body.expires);
  return {
    accessToken: str('access_token'),
    refreshToken: str('refresh_token'),
    expiresAt: Number.isFinite(expires) && expires > 0 ? expires : Math.floor(Date.now() / 1000) + expiresIn,
    clientEndpoint: str('client_endpoint'),
    serverEndpoint: str('server_endpoint'),
    memberId: str('member_id'),
    domain: typeof body.domain === 'string' ? body.domain : '',
    scope: typeof body.scope === 'string' ? body.scope : '',
    userId: body.user_id === undefined ? undefined : Number(body.user_id),
  };
}
