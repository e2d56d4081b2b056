/**
 * The one family of errors this service answers with. Every refusal and every upstream failure becomes a
 * ServiceError; `lib/http/response.ts` renders it, and the status for each code is decided here and nowhere else.
 */
export const ERROR_CATALOGUE = {
  SIGNATURE_INVALID: { status: 401, title: 'Signature invalid' },
  EVENT_UNVERIFIED: { status: 401, title: 'Event not verified' },
  BODY_INVALID: { status: 400, title: 'Body invalid' },
  EVENT_INVALID: { status: 400, title: 'Not a Bitrix24 event' },
  DIALOG_ID_EMPTY: { status: 400, title: 'Dialog id empty' },
  DIALOG_ID_INVALID: { status: 400, title: 'Dialog id invalid' },
  BOT_ID_INVALID: { status: 400, title: 'Bot id invalid' },
  DURATION_INVALID: { status: 400, title: 'Duration invalid' },
  STATUS_INVALID: { status: 400, title: 'Status invalid' },
  PORTAL_INVALID: { status: 400, title: 'Portal invalid' },
  PORTAL_UNKNOWN: { status: 404, title: 'Portal unknown' },
  BOT_ID_ERROR: { status: 404, title: 'Bot not found on the portal' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  WEBHOOK_ID_REUSED: { status: 409, title: 'Webhook id reused with another body' },
  REQUEST_IN_PROGRESS: { status: 409, title: 'Request with this webhook id in progress' },
  // A v2 bot may act only in chats it is a member of (v1 answers true there and shows nothing).
  BOT_NOT_IN_CHAT: { status: 409, title: 'Bot is not in the chat' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  UPSTREAM_RATE_LIMITED: { status: 429, title: 'Portal rate limit' },
  INTERNAL_ERROR: { status: 500, title: 'Internal error' },
  // The portal secret lacks what a call needs (a v2 bot's botToken): only its operator can fix it.
  PORTAL_MISCONFIGURED: { status: 500, title: 'Portal credentials incomplete' },
  NOT_IMPLEMENTED: { status: 501, title: 'Not implemented' },
  UPSTREAM_ERROR: { status: 502, title: 'Portal error' },
  // The portal blocked its REST API for this application (OVERLOAD_LIMIT): only the portal's support lifts it.
  UPSTREAM_BLOCKED: { status: 502, title: 'Portal blocked the application' },
  // The stored refresh token is dead (invalid_grant): only a reinstall or new stored credentials can help.
  PORTAL_REAUTH_REQUIRED: { status: 502, title: 'Portal authorisation lost' },
  CREDENTIALS_UNAVAILABLE: { status: 503, title: 'Credentials unavailable' },
  UPSTREAM_TIMEOUT: { status: 504, title: 'Portal timeout' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface ServiceErrorOptions {
  /** Seconds a caller should wait before retrying (sent as `Retry-After`). */
  retryAfterSeconds?: number;
  /** Status the portal answered with, for logs. */
  upstreamStatus?: number;
  /** The portal's own error code (e.g. `APP_ID_ERROR`), for logs and the problem body. */
  upstreamCode?: string;
  /** Portal attempts made before this failure, for logs. */
  attempts?: number;
  /**
   * Why, in the operators' words, for the summary log line only and never in the answer: every failed event
   * verification answers alike, but the log tells an unknown portal from a wrong token.
   */
  reason?: string;
  cause?: unknown;
}

export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly retryAfterSeconds: number | undefined;
  readonly upstreamStatus: number | undefined;
  readonly upstreamCode: string | undefined;
  readonly attempts: number | undefined;
  readonly reason: string | undefined;

  constructor(code: ErrorCode, detail: string, options: ServiceErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.title = ERROR_CATALOGUE[code].title;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.upstreamStatus = options.upstreamStatus;
    this.upstreamCode = options.upstreamCode;
    this.attempts = options.attempts;
    this.reason = options.reason;
  }
}
