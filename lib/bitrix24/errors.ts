/**
 * An error answered by a Bitrix24 portal (or its OAuth server), or met on the way to it. `code` is the
 * portal's `error` field (match on it, never on the description); transport failures use codes of our own:
 * `TIMEOUT`, `NETWORK_ERROR`, `INVALID_RESPONSE`.
 */
export class Bitrix24Error extends Error {
  override readonly name = 'Bitrix24Error';
  /** How many HTTP attempts the REST client made before giving up (set by the client). */
  attempts = 1;
  /** `time.operating_reset_at` of the answer (unix seconds), when it carried one. */
  operatingResetAt?: number;
  /** The `Location` of a redirect answer (`PORTAL_MOVED`): never followed by the client. */
  location?: string;

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

  /**
   * The portal's leaky bucket (503) or another limiter (429) said "not now": worth a short retry. Neither block
   * below is: `OVERLOAD_LIMIT` is lifted only by the portal's support, `OPERATION_TIME_LIMIT` minutes later.
   */
  get isRateLimited(): boolean {
    if (this.isBlocked || this.isOperationTimeLimit) return false;
    return this.code === 'QUERY_LIMIT_EXCEEDED' || this.status === 429;
  }

  /** A manual block of the portal's REST API for this application, lifted only through the portal's support. */
  get isBlocked(): boolean {
    return this.code === 'OVERLOAD_LIMIT';
  }

  /** The method's execution-time budget (per application, 10 one-minute baskets) is spent until a basket resets. */
  get isOperationTimeLimit(): boolean {
    return this.code === 'OPERATION_TIME_LIMIT';
  }

  get isExpiredToken(): boolean {
    return this.code === 'expired_token';
  }
}

export const TRANSPORT = {
  timeout: 'TIMEOUT',
  network: 'NETWORK_ERROR',
  invalidResponse: 'INVALID_RESPONSE',
  /** The portal answered with a redirect: a renamed portal's old address does (302 to its new one). */
  moved: 'PORTAL_MOVED',
} as const;
