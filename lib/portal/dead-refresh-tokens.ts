import { ServiceError } from '../errors/index.js';
import { versionKey } from './credentials.js';

/**
 * Refresh tokens the OAuth server answered `invalid_grant` for, by hash, with when to forget them. Per container
 * and bounded: the oldest entry goes first. A dead token stays dead; the memory only spares the OAuth server and
 * Secrets Manager a retry on every request until someone reinstalls the app or stores a new pair.
 */
const deadRefreshTokens = new Map<string, number>();
const MAX_DEAD_TOKENS = 1_000;
export const DEFAULT_DEAD_TOKEN_MEMORY_MS = 5 * 60_000;

export function rememberDead(refreshToken: string, memoryMs: number, now: number): void {
  const key = versionKey('dead-refresh-token', refreshToken);
  deadRefreshTokens.delete(key);
  deadRefreshTokens.set(key, now + memoryMs);
  if (deadRefreshTokens.size > MAX_DEAD_TOKENS) deadRefreshTokens.delete(deadRefreshTokens.keys().next().value!);
}

export function knownDead(refreshToken: string, now: number): boolean {
  const key = versionKey('dead-refresh-token', refreshToken);
  const until = deadRefreshTokens.get(key);
  if (until === undefined) return false;
  if (until > now) return true;
  deadRefreshTokens.delete(key);
  return false;
}

/** What a caller gets for a portal whose stored refresh token is dead: no retry will help. */
export function reauthRequired(domain: string): ServiceError {
  return new ServiceError(
    'PORTAL_REAUTH_REQUIRED',
    `The OAuth server refused the stored refresh token of ${domain} (invalid_grant): reinstall the application ` +
      'on the portal or store new credentials. Retrying will not help.',
    { upstreamCode: 'invalid_grant' },
  );
}
