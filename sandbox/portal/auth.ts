/**
 * Who may call the portal: inbound webhook codes, OAuth applications and the access/refresh token pairs issued
 * to them, and the owner key an imbot method compares. Source tags are listed in index.ts.
 */
import { randomBytes } from 'node:crypto';
import { isEmpty } from './php-semantics.js';
import { RestError, type Caller } from './rest-protocol.js';
import type { IssuedTokens } from './types.js';

/**
 * Status for an unknown inbound-webhook code. The docs' error table says 403 `INVALID_CREDENTIALS`, but
 * the server throws every failed authorisation as `OAuthException`, whose status is 401 unless the auth
 * handler sets `error_status`, and the webhook handler does not [rest_server][apauth]. The server wins.
 */
export const INVALID_WEBHOOK_STATUS = 401;

export const randomHex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** An inbound webhook as its URL names it: `/rest/<userId>/<code>/`. */
export interface WebhookPath {
  userId: number;
  code: string;
}

export interface AppRecord {
  id: number;
  clientId: string;
  clientSecret: string;
  applicationToken: string;
}

interface AccessTokenRecord {
  clientId: string;
  userId: number;
  expiresAtMs: number;
  forcedExpired: boolean;
}

interface RefreshTokenRecord {
  clientId: string;
  userId: number;
  accessToken: string;
}

export class PortalAuth {
  private readonly webhooks = new Map<string, number>(); // `${userId}/${code}` -> userId
  private readonly apps = new Map<string, AppRecord>();
  private readonly accessTokens = new Map<string, AccessTokenRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  /** Portal administrators by user id; user 1 installed the portal, as on a fresh Bitrix24. */
  private readonly admins = new Set<number>([1]);

  setAdmin(userId: number, admin: boolean): void {
    if (admin) this.admins.add(userId);
    else this.admins.delete(userId);
  }

  isAdmin(userId: number): boolean {
    return this.admins.has(userId);
  }

  addWebhook(userId: number, code: string): void {
    this.webhooks.set(`${userId}/${code}`, userId);
  }

  addApp(clientId: string, clientSecret: string, applicationToken: string): void {
    this.apps.set(clientId, { id: this.apps.size + 1, clientId, clientSecret, applicationToken });
  }

  app(clientId: string): AppRecord | undefined {
    return this.apps.get(clientId);
  }

  /** A new pair; `given` fixes its token values (say, those of a documented example event). */
  issue(
    clientId: string,
    userId: number,
    ttlSeconds: number,
    given: { accessToken?: string; refreshToken?: string } = {},
  ): IssuedTokens {
    const accessToken = given.accessToken ?? randomHex(24);
    const refreshToken = given.refreshToken ?? randomHex(24);
    const expiresAtMs = Date.now() + ttlSeconds * 1000;
    this.accessTokens.set(accessToken, { clientId, userId, expiresAtMs, forcedExpired: false });
    this.refreshTokens.set(refreshToken, { clientId, userId, accessToken });
    return { accessToken, refreshToken, expiresAt: Math.floor(expiresAtMs / 1000), expiresIn: ttlSeconds };
  }

  expireAccessTokens(): void {
    for (const token of this.accessTokens.values()) token.forcedExpired = true;
  }

  /** Redeems `clientId`'s refresh token: it and its access token die with the refresh [docs].
   * Undefined for an unknown token or another application's. */
  redeemRefreshToken(refreshToken: string, clientId: string): { userId: number } | undefined {
    const old = this.refreshTokens.get(refreshToken);
    if (!old || old.clientId !== clientId) return undefined;
    this.refreshTokens.delete(refreshToken);
    this.accessTokens.delete(old.accessToken); // the old access token now answers invalid_token
    return { userId: old.userId };
  }

  /** A webhook call is checked by its URL's code; any other call by its `auth` access token. */
  authenticate(webhook: WebhookPath | undefined, params: Record<string, unknown>): Caller {
    if (webhook) {
      if (this.webhooks.get(`${webhook.userId}/${webhook.code}`) === undefined) {
        throw new RestError(INVALID_WEBHOOK_STATUS, 'INVALID_CREDENTIALS', 'Invalid request credentials');
      }
      return { via: 'webhook', userId: webhook.userId };
    }
    const auth = params.auth;
    if (isEmpty(auth)) throw new RestError(401, 'NO_AUTH_FOUND', 'Wrong authorization data');
    const token = this.accessTokens.get(String(auth));
    if (!token) throw new RestError(401, 'invalid_token', 'The access token provided is invalid.');
    if (token.forcedExpired || Date.now() >= token.expiresAtMs) {
      throw new RestError(401, 'expired_token', 'The access token provided has expired.');
    }
    return { via: 'oauth', userId: token.userId, clientId: token.clientId };
  }
}

/** `$server->getClientId()` for OAuth, else `'custom' . CLIENT_ID`; neither is `AccessException`
 * (403 `ACCESS_DENIED`, "Access denied! Client ID not specified") [im_rest][access_exc]. */
export function ownerKey(caller: Caller, p: Record<string, unknown>): string {
  if (caller.via === 'oauth') return caller.clientId;
  if (!isEmpty(p.CLIENT_ID)) return `custom${String(p.CLIENT_ID)}`;
  throw new RestError(403, 'ACCESS_DENIED', 'Access denied! Client ID not specified');
}
