import { parseRetryAfter } from '../retry/retry-after.js';
import { isSigningKey } from '../signing/signing-key.js';
import { signRequest } from '../signing/standard-webhooks.js';
import { isTypingErrorCode, TypingClientOptionsError, TypingError, type TypingErrorCode } from './errors.js';
import { keepTyping, type KeepTypingOptions } from './keep-typing.js';
import type { TypingStatus } from './typing-status.js';

export interface TypingClientOptions {
  /** The service's base URL, e.g. `https://abc123.execute-api.eu-central-1.amazonaws.com`. */
  url: string;
  /** The `whsec_...` key you were given. Several keys sign with each (only needed while keys rotate). */
  key: string | readonly string[];
  fetch?: typeof fetch;
  /** Upper bound for one HTTP attempt. Default 10 s, the service's own timeout. */
  timeoutMs?: number;
  /** Attempts per request, the first included. Default 4. */
  maxAttempts?: number;
  /** Exponential backoff between retries, with full jitter. Default base 250 ms, cap 4 s. */
  backoff?: { baseMs?: number; capMs?: number };
}

export interface TypingRequest {
  /** The portal's domain, e.g. `example.bitrix24.com`. */
  portal: string;
  /** A user id (`27`, personal chat) or `chat<N>` (group chat). */
  dialogId: string | number;
  /** Default: the bot stored for the portal, else the portal's first bot of our application. */
  botId?: number;
  /** 1–600: how long a v2 bot's indicator shows (default: the portal's). A v1 bot's shows about 35 s. */
  durationSeconds?: number;
  /** `typing` (default) or an agent status such as `thinking`, shown by a v2 bot. */
  status?: TypingStatus;
}

export interface SendOptions {
  /** Time budget for the whole call, retries and waits included. Default 15 s. */
  deadlineMs?: number;
  /** Aborting it rejects with the signal's reason, as fetch does. */
  signal?: AbortSignal;
}

export interface TypingResult {
  ok: true;
  /**
   * How long the indicator is expected to show from now, in seconds: ask again shortly before it lapses (or let
   * `keepTyping` do it). Absent when the portal chose the duration.
   */
  indicatorSeconds?: number;
}

export interface TypingClient {
  /** Resolves `{ ok: true }` once the portal accepted the call; otherwise throws a TypingError. */
  sendTyping(request: TypingRequest, options?: SendOptions): Promise<TypingResult>;
  /**
   * Keeps the indicator on while `work` runs: asks again shortly before each expected lapse, until the work
   * settles (or `request.durationSeconds` ends), and never after. Resolves or rejects as the work does.
   */
  keepTyping<T>(request: TypingRequest, work: Promise<T> | (() => Promise<T>), options?: KeepTypingOptions): Promise<T>;
}

const DEFAULTS = { timeoutMs: 10_000, maxAttempts: 4, baseMs: 250, capMs: 4_000, deadlineMs: 15_000 } as const;
// Waiting only to be cut off by the deadline straight away would turn a meaningful error into TIMEOUT.
const MIN_ATTEMPT_MS = 100;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const shown = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));
// The usual cause of a missing option: `process.env.TYPING_URL!` read from an environment that does not set it.
const UNSET = 'is the environment variable you read it from set?';

function endpointOf(base: unknown): string {
  if (base === undefined || base === null || base === '')
    throw new TypingClientOptionsError('url', `url is missing (got ${shown(base)}; ${UNSET})`);
  if (typeof base !== 'string' || !URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) {
    throw new TypingClientOptionsError(
      'url',
      `url must be the service's http(s) base URL, e.g. https://abc123.execute-api.eu-central-1.amazonaws.com (got ${shown(base)})`,
    );
  }
  const url = new URL(base);
  if (!url.pathname.endsWith('/typing')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/typing`;
  return url.toString();
}

function keysOf(key: unknown): string[] {
  if (key === undefined || key === null || key === '')
    throw new TypingClientOptionsError(
      'key',
      `key is missing: pass the whsec_... signing key you were given (got ${shown(key)}; ${UNSET})`,
    );
  const keys = typeof key === 'string' ? [key] : Array.isArray(key) ? [...(key as unknown[])] : undefined;
  // Never echo a key: it is a credential, and a near-miss may be a real one.
  if (keys === undefined || keys.length === 0 || keys.some((k) => !isSigningKey(k))) {
    throw new TypingClientOptionsError(
      'key',
      'key must be a whsec_<base64> signing key of 24-64 bytes (Standard Webhooks), or a non-empty array of them',
    );
  }
  return keys as string[];
}

function failureFrom(response: Response, text: string, attempts: number): TypingError {
  let problem: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) problem = parsed as Record<string, unknown>;
  } catch {
    // not ours: a gateway's or proxy's own error page
  }
  const str = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  let code: TypingErrorCode;
  if (isTypingErrorCode(problem?.code)) code = problem.code;
  // API Gateway answers a crashed function with a bare 500 of its own.
  else if (response.status === 500) code = 'INTERNAL_ERROR';
  else code = 'UNEXPECTED_RESPONSE';
  return new TypingError({
    code,
    status: response.status,
    detail:
      str(problem?.detail) ??
      `The service answered HTTP ${response.status}${str(problem?.code) ? ` (${String(problem?.code)})` : ''}.`,
    retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after')),
    requestId: str(problem?.requestId) ?? response.headers.get('apigw-requestid') ?? undefined,
    upstreamCode: str(problem?.upstreamCode),
    attempts,
  });
}

/**
 * A client for `POST /typing`. Every request is signed (Standard Webhooks); one logical request keeps its
 * `webhook-id` across retries. The service is idempotent by that id: a retry after a lost answer gets the first
 * answer without a second portal call, a retry after a failure runs again (failures are not remembered), and a
 * retry while the first attempt still runs waits for it or gets 409 REQUEST_IN_PROGRESS, retried here after its
 * Retry-After. Each attempt is re-signed with a fresh timestamp so a long retry sequence never drifts out of
 * tolerance.
 */
export function createTypingClient(options: TypingClientOptions): TypingClient {
  if (options === null || typeof options !== 'object')
    throw new TypingClientOptionsError('options', 'pass { url, key } (the service URL and your signing key)');
  const endpoint = endpointOf(options.url);
  const keys = keysOf(options.key);
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULTS.maxAttempts);
  const baseMs = options.backoff?.baseMs ?? DEFAULTS.baseMs;
  const capMs = options.backoff?.capMs ?? DEFAULTS.capMs;

  const client: TypingClient = {
    keepTyping: (request, work, keepOptions) => keepTyping(client, request, work, keepOptions),
    async sendTyping(request, sendOptions = {}) {
      const deadlineAt = Date.now() + (sendOptions.deadlineMs ?? DEFAULTS.deadlineMs);
      const { portal, dialogId, botId, durationSeconds, status } = request;
      const body = JSON.stringify({ portal, dialogId, botId, durationSeconds, status });
      let id: string | undefined;
      let last: TypingError | undefined;
      for (let attempt = 1; ; attempt += 1) {
        const remaining = deadlineAt - Date.now();
        if (remaining <= 0) {
          throw (
            last ??
            new TypingError({
              code: 'TIMEOUT',
              status: 0,
              detail: 'The deadline passed before the first attempt.',
              attempts: 0,
            })
          );
        }
        const attemptMs = Math.min(timeoutMs, remaining);
        const signed = signRequest({ body, key: keys, id });
        id = signed['webhook-id'];
        const timeout = AbortSignal.timeout(attemptMs);
        const signal = sendOptions.signal ? AbortSignal.any([sendOptions.signal, timeout]) : timeout;
        let failure: TypingError;
        try {
          const response = await doFetch(endpoint, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, application/problem+json',
              ...signed,
            },
            body,
            signal,
            redirect: 'error',
          });
          const text = await response.text();
          if (response.ok) {
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            const answer = parsed as { ok?: unknown; indicatorSeconds?: unknown } | undefined;
            if (answer?.ok === true) {
              const shows = answer.indicatorSeconds;
              return typeof shows === 'number' && Number.isFinite(shows)
                ? { ok: true, indicatorSeconds: shows }
                : { ok: true };
            }
            throw new TypingError({
              code: 'UNEXPECTED_RESPONSE',
              status: response.status,
              detail: `HTTP ${response.status} without {"ok": true}.`,
              attempts: attempt,
            });
          }
          failure = failureFrom(response, text, attempt);
          if (!failure.retryable) throw failure;
        } catch (error) {
          if (error instanceof TypingError) throw error;
          if (sendOptions.signal?.aborted) throw sendOptions.signal.reason;
          failure = timeout.aborted
            ? new TypingError({
                code: 'TIMEOUT',
                status: 0,
                detail: `No answer within ${attemptMs} ms.`,
                attempts: attempt,
                cause: error,
              })
            : new TypingError({
                code: 'NETWORK_ERROR',
                status: 0,
                detail: `Could not reach ${new URL(endpoint).origin}.`,
                attempts: attempt,
                cause: error,
              });
        }
        last = failure;
        if (attempt >= maxAttempts) throw failure;
        // Full jitter spreads many callers' retries apart; the service's Retry-After is a floor, never shortened.
        const backoffMs = Math.random() * Math.min(capMs, baseMs * 2 ** (attempt - 1));
        const waitMs = Math.max(backoffMs, (failure.retryAfterSeconds ?? 0) * 1000);
        if (Date.now() + waitMs + MIN_ATTEMPT_MS > deadlineAt) throw failure;
        await sleep(waitMs, sendOptions.signal);
      }
    },
  };
  return client;
}
