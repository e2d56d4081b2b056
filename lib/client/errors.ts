/**
 * Codes `POST /typing` answers with (its `application/problem+json` `code`), plus the outcomes only a
 * client can see: no answer at all (NETWORK_ERROR), the caller's deadline passing (TIMEOUT), or an answer
 * that is not this service's (UNEXPECTED_RESPONSE: a proxy's error page, a wrong URL).
 */
export const TYPING_ERROR_CODES = [
  'SIGNATURE_INVALID',
  'BODY_INVALID',
  'DIALOG_ID_EMPTY',
  'DIALOG_ID_INVALID',
  'BOT_ID_INVALID',
  'DURATION_INVALID',
  'STATUS_INVALID',
  'PORTAL_INVALID',
  'PORTAL_UNKNOWN',
  'BOT_ID_ERROR',
  'BOT_NOT_IN_CHAT',
  'PORTAL_MISCONFIGURED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'WEBHOOK_ID_REUSED',
  'REQUEST_IN_PROGRESS',
  'UPSTREAM_RATE_LIMITED',
  'UPSTREAM_ERROR',
  'UPSTREAM_BLOCKED',
  'PORTAL_REAUTH_REQUIRED',
  'UPSTREAM_TIMEOUT',
  'CREDENTIALS_UNAVAILABLE',
  'INTERNAL_ERROR',
  'NETWORK_ERROR',
  'TIMEOUT',
  'UNEXPECTED_RESPONSE',
] as const;

export type TypingErrorCode = (typeof TYPING_ERROR_CODES)[number];

const KNOWN = new Set<string>(TYPING_ERROR_CODES);

export function isTypingErrorCode(value: unknown): value is TypingErrorCode {
  return typeof value === 'string' && KNOWN.has(value);
}

/** Statuses after which the same request may succeed later: the service or the portal was busy or down. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/**
 * Codes whose status is retryable in general but whose cause no retry changes: the portal's stored OAuth
 * authorisation is dead until the application is reinstalled.
 */
export const PERMANENT_CODES: ReadonlySet<TypingErrorCode> = new Set<TypingErrorCode>(['PORTAL_REAUTH_REQUIRED']);

/**
 * Portal refusals passed on as 502 that no retry will change: the portal's credentials, scope or bot
 * ownership are wrong. Retrying them only spends the portal's request budget.
 */
export const PERMANENT_UPSTREAM_CODES: ReadonlySet<string> = new Set([
  'ACCESS_DENIED',
  'APP_ID_ERROR',
  'INVALID_CREDENTIALS',
  'insufficient_scope',
  'WRONG_AUTH_TYPE',
  'invalid_token',
  'NO_AUTH_FOUND',
  'ERROR_METHOD_NOT_FOUND',
  'PAYMENT_REQUIRED',
  // A manual block of the portal's REST API for this application, lifted only by the portal's support.
  'OVERLOAD_LIMIT',
  // The portal's address redirects to a host holding no credentials of the same portal: an operator must act.
  'PORTAL_MOVED',
  'invalid_grant',
  'invalid_client',
]);

export interface TypingErrorInit {
  code: TypingErrorCode;
  /** HTTP status of the last answer; 0 when none arrived. */
  status: number;
  detail: string;
  retryAfterSeconds?: number;
  /** The service's request id, to quote when asking its operators. */
  requestId?: string;
  /** The portal's own error code (e.g. `APP_ID_ERROR`) when the service passed it on. */
  upstreamCode?: string;
  /** HTTP attempts made, retries included. */
  attempts: number;
  cause?: unknown;
}

/** The one error `sendTyping` throws. Switch on `code`; `status` is 0 for client-side failures. */
export class TypingError extends Error {
  override readonly name = 'TypingError';
  readonly code: TypingErrorCode;
  readonly status: number;
  readonly detail: string;
  readonly retryAfterSeconds: number | undefined;
  readonly requestId: string | undefined;
  readonly upstreamCode: string | undefined;
  readonly attempts: number;

  constructor(init: TypingErrorInit) {
    super(`${init.code}: ${init.detail}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.detail = init.detail;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.requestId = init.requestId;
    this.upstreamCode = init.upstreamCode;
    this.attempts = init.attempts;
  }

  /** Whether sending the same request later may succeed (after `retryAfterSeconds` when given). */
  get retryable(): boolean {
    if (PERMANENT_CODES.has(this.code)) return false;
    if (this.upstreamCode !== undefined && PERMANENT_UPSTREAM_CODES.has(this.upstreamCode)) return false;
    // The first request with this webhook-id is still running: the retry (same id) gets its answer.
    if (this.code === 'REQUEST_IN_PROGRESS') return true;
    return this.code === 'NETWORK_ERROR' || this.code === 'TIMEOUT' || RETRYABLE_STATUSES.has(this.status);
  }

  toJSON() {
    return {
      code: this.code,
      status: this.status,
      detail: this.detail,
      retryAfterSeconds: this.retryAfterSeconds ?? null,
      requestId: this.requestId ?? null,
      upstreamCode: this.upstreamCode ?? null,
      attempts: this.attempts,
    };
  }
}

/**
 * What `createTypingClient` throws for options it cannot work with, before any request: the option's name, what
 * was wrong, and what it wants instead (a missing key or URL usually means an unset environment variable).
 */
export class TypingClientOptionsError extends Error {
  override readonly name = 'TypingClientOptionsError';

  constructor(
    readonly option: 'options' | 'url' | 'key',
    message: string,
  ) {
    super(`createTypingClient: ${message}`);
  }
}

export function isTypingError(error: unknown): error is TypingError {
  return error instanceof TypingError;
}
