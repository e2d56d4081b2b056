import { parseRetryAfter } from '../retry/retry-after.js';
import { signRequest, type SignedHeaders } from '../signing/standard-webhooks.js';
import { isTypingErrorCode, TypingError, type TypingErrorCode } from './errors.js';
import { keepTyping, type KeepTypingOptions } from './keep-typing.js';
import { settingsOf, type ClientSettings } from './settings.js';
import type { TypingStatus } from '../contract/typing-status.js';

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

/** One signed attempt of a logical request. */
interface Attempt {
  /** 1 for the first. */
  number: number;
  body: string;
  signed: SignedHeaders;
  timeoutMs: number;
  /** The caller's own signal, if any. */
  signal?: AbortSignal;
}

/** A 2xx answer: the service's `{ ok: true }`, or an UNEXPECTED_RESPONSE. */
function resultFrom(response: Response, text: string, attempt: number): TypingResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const answer = parsed as { ok?: unknown; indicatorSeconds?: unknown } | undefined;
  if (answer?.ok === true) {
    const shows = answer.indicatorSeconds;
    return typeof shows === 'number' && Number.isFinite(shows) ? { ok: true, indicatorSeconds: shows } : { ok: true };
  }
  throw new TypingError({
    code: 'UNEXPECTED_RESPONSE',
    status: response.status,
    detail: `HTTP ${response.status} without {"ok": true}.`,
    attempts: attempt,
  });
}

/** A request that got no answer: cut off by the attempt's timeout, or lost on the network. */
function transportFailure(error: unknown, timedOut: boolean, endpoint: string, attempt: Attempt): TypingError {
  return timedOut
    ? new TypingError({
        code: 'TIMEOUT',
        status: 0,
        detail: `No answer within ${attempt.timeoutMs} ms.`,
        attempts: attempt.number,
        cause: error,
      })
    : new TypingError({
        code: 'NETWORK_ERROR',
        status: 0,
        detail: `Could not reach ${new URL(endpoint).origin}.`,
        attempts: attempt.number,
        cause: error,
      });
}

/**
 * Sends one attempt. Resolves with the result, or with a failure worth retrying; a failure no retry changes, and
 * the caller's abort, reject.
 */
async function sendAttempt(settings: ClientSettings, attempt: Attempt): Promise<TypingResult | TypingError> {
  const timeout = AbortSignal.timeout(attempt.timeoutMs);
  const signal = attempt.signal ? AbortSignal.any([attempt.signal, timeout]) : timeout;
  try {
    const response = await settings.doFetch(settings.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, application/problem+json',
        ...attempt.signed,
      },
      body: attempt.body,
      signal,
      redirect: 'error',
    });
    const text = await response.text();
    if (response.ok) return resultFrom(response, text, attempt.number);
    const failure = failureFrom(response, text, attempt.number);
    if (!failure.retryable) throw failure;
    return failure;
  } catch (error) {
    if (error instanceof TypingError) throw error;
    if (attempt.signal?.aborted) throw attempt.signal.reason;
    return transportFailure(error, timeout.aborted, settings.endpoint, attempt);
  }
}

/** How long to wait before the next attempt, or undefined when none is left or it would not fit the deadline. */
function retryDelayMs(
  failure: TypingError,
  attempt: number,
  settings: ClientSettings,
  deadlineAt: number,
): number | undefined {
  if (attempt >= settings.maxAttempts) return undefined;
  // Full jitter spreads many callers' retries apart; the service's Retry-After is a floor, never shortened.
  const backoffMs = Math.random() * Math.min(settings.capMs, settings.baseMs * 2 ** (attempt - 1));
  const waitMs = Math.max(backoffMs, (failure.retryAfterSeconds ?? 0) * 1000);
  if (Date.now() + waitMs + MIN_ATTEMPT_MS > deadlineAt) return undefined;
  return waitMs;
}

/** One logical request: attempts under one `webhook-id`, each freshly signed, until an answer or the deadline. */
async function sendWithRetries(
  settings: ClientSettings,
  request: TypingRequest,
  sendOptions: SendOptions,
): Promise<TypingResult> {
  const deadlineAt = Date.now() + (sendOptions.deadlineMs ?? settings.deadlineMs);
  const { portal, dialogId, botId, durationSeconds, status } = request;
  const body = JSON.stringify({ portal, dialogId, botId, durationSeconds, status });
  let id: string | undefined;
  let last: TypingError | undefined;
  for (let number = 1; ; number += 1) {
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
    const signed = signRequest({ body, key: settings.keys, id });
    id = signed['webhook-id'];
    const timeoutMs = Math.min(settings.timeoutMs, remaining);
    const outcome = await sendAttempt(settings, { number, body, signed, timeoutMs, signal: sendOptions.signal });
    if (!(outcome instanceof TypingError)) return outcome;
    last = outcome;
    const waitMs = retryDelayMs(outcome, number, settings, deadlineAt);
    if (waitMs === undefined) throw outcome;
    await sleep(waitMs, sendOptions.signal);
  }
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
  const settings = settingsOf(options);
  const client: TypingClient = {
    keepTyping: (request, work, keepOptions) => keepTyping(client, request, work, keepOptions),
    sendTyping: (request, sendOptions = {}) => sendWithRetries(settings, request, sendOptions),
  };
  return client;
}
