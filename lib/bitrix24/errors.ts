import { ServiceError } from '../errors/index.js';

/**
 * An error answered by a Bitrix24 portal (or its OAuth server), or met on the way to it. `code` is the
 * portal's `error` field (match on it, never on the description); transport failures use codes of our own:
 * `TIMEOUT`, `NETWORK_ERROR`, `INVALID_RESPONSE`.
 */
export class Bitrix24Error extends Error {
  override readonly name = 'Bitrix24Error';
  /** How many HTTP attempts the REST client made before giving up (set by the client). */
  attempts = 1;

  constructor(
    readonly code: string,
    /** HTTP status the portal answered with; 0 when no answer arrived. */
    readonly status: number,
    readonly description: string,
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(`${code}${description ? `: ${description}` : ''}`, options);
  }

  /** The portal's leaky bucket (503) or another limiter (429) said "not now". */
  get isRateLimited(): boolean {
    return this.code === 'QUERY_LIMIT_EXCEEDED' || this.code === 'OVERLOAD_LIMIT' || this.status === 429;
  }

  get isExpiredToken(): boolean {
    return this.code === 'expired_token';
  }
}

export const TRANSPORT = {
  timeout: 'TIMEOUT',
  network: 'NETWORK_ERROR',
  invalidResponse: 'INVALID_RESPONSE',
} as const;


/**
 * What a caller of this service sees when a portal call fails. Method-specific codes (e.g. `BOT_ID_ERROR`)
 * are mapped by the method's own module before this generic fallback.
 */
export function upstreamFailure(error: Bitrix24Error): ServiceError {
  const options = { upstreamStatus: error.status || undefined, upstreamCode: error.code, attempts: error.attempts, cause: error };
  if (error.isRateLimited) {
    return new ServiceError('UPSTREAM_RATE_LIMITED', 'The portal is rate-limiting calls; retry later.', {
      ...options,
      retryAfterSeconds: Math.max(1, Math.ceil(error.retryAfterSeconds ?? 2)),
    });
  }
  if (error.code === TRANSPORT.timeout) {
    return new ServiceError('UPSTREAM_TIMEOUT', 'The portal did not answer in time.', options);
  }
  return new ServiceError('UPSTREAM_ERROR', `The portal refused the call (${error.code}).`, options);
}
