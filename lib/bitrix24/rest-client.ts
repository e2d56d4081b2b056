import { Deadline, sleep } from '../deadline/index.js';
import { parseRetryAfter } from '../retry/retry-after.js';
import { Bitrix24Error, TRANSPORT } from './errors.js';
import {
  nodeHttpTransport,
  transportFailure,
  type HttpAnswer,
  type HttpTransport,
  type TransportFailure,
} from './http-transport.js';

/** Where a REST call goes: an inbound webhook, or an OAuth `client_endpoint` with an access token. */
export type RestTarget =
  { kind: 'webhook'; url: string } | { kind: 'oauth'; clientEndpoint: string; accessToken: string };

export interface RestClientOptions {
  /** Upper bound for one HTTP attempt; the deadline may cut it shorter. */
  timeoutMs: number;
  maxAttempts: number;
  /** Base of the exponential backoff between rate-limited attempts. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** How a request reaches the portal; node:https unless a test gives another. */
  transport?: HttpTransport;
  random?: () => number;
}

export interface CallResult<T> {
  result: T;
  attempts: number;
  status: number;
  /** `time.operating_reset_at` of the answer (unix seconds): when the method's oldest time basket resets. */
  operatingResetAt?: number;
}

export interface CallOptions {
  /**
   * Asked before each retry of a rate-limited answer; false ends the call with that answer. The portal's bucket
   * is shared by every container: a retry must be admitted by the same budget as a first call, or the retries
   * of many containers multiply the load on a portal that is already refusing.
   */
  mayRetry?: () => Promise<boolean>;
}

export interface RestClient {
  call<T = unknown>(
    target: RestTarget,
    method: string,
    params: Record<string, unknown>,
    deadline: Deadline,
    options?: CallOptions,
  ): Promise<CallResult<T>>;
}

// A portal answer larger than this is not a REST envelope; refuse to buffer it.
const MAX_RESPONSE_BYTES = 1024 * 1024;
// Socket errors that mean a kept-alive connection was closed under us; the request never ran, so resending is safe.
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED']);

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** `time.operating_reset_at` of an envelope, when it is a plausible unix time. */
function operatingResetAt(envelope: Record<string, unknown>): number | undefined {
  const time = envelope.time;
  const value = time && typeof time === 'object' ? (time as Record<string, unknown>).operating_reset_at : undefined;
  const seconds = typeof value === 'string' ? Number(value) : value;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

function movedError(response: HttpAnswer): Bitrix24Error {
  const location = response.header('location') ?? '';
  const host = URL.canParse(location) ? new URL(location).host : 'nowhere';
  const error = new Bitrix24Error(TRANSPORT.moved, response.status, `portal answered ${response.status} to ${host}`);
  error.location = location;
  return error;
}

function urlFor(target: RestTarget, method: string): string {
  const base = target.kind === 'webhook' ? target.url : target.clientEndpoint;
  return `${base.endsWith('/') ? base : `${base}/`}${method}.json`;
}

function readEnvelope(response: HttpAnswer): Record<string, unknown> {
  try {
    const body: unknown = JSON.parse(response.text);
    if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // fall through: an HTML error page from a proxy in front of the portal, for instance
  }
  throw new Bitrix24Error(
    TRANSPORT.invalidResponse,
    response.status,
    `portal answered ${response.status} without a REST envelope`,
  );
}

/** What one attempt got from the portal, before the call adds its attempt count. */
interface AttemptResult {
  result: unknown;
  status: number;
  operatingResetAt?: number;
}

/** The backoff between retries, fixed when the client is built. */
interface Backoff {
  baseMs: number;
  capMs: number;
  random: () => number;
}

/** A request that failed in transit: too large or unreadable, cut off by its timeout, or lost on the network. */
function transportError(failure: TransportFailure, timeoutMs: number): Bitrix24Error {
  const { kind, status, cause } = failure;
  if (kind === 'too-large' || kind === 'encoding') {
    const what = kind === 'too-large' ? 'response too large' : 'response in an encoding we cannot read';
    return new Bitrix24Error(TRANSPORT.invalidResponse, status, what, undefined, { cause });
  }
  if (kind === 'timeout') {
    return new Bitrix24Error(TRANSPORT.timeout, status, `no answer within ${timeoutMs} ms`, undefined, { cause });
  }
  const otherwise = status === 0 ? 'request failed' : 'response interrupted';
  return new Bitrix24Error(TRANSPORT.network, status, errorCode(cause) ?? otherwise, undefined, { cause });
}

async function post(
  transport: HttpTransport,
  target: RestTarget,
  method: string,
  params: Record<string, unknown>,
  timeoutMs: number,
): Promise<HttpAnswer> {
  // OAuth tokens travel in the body, not the query string, so they stay out of any access log on the way.
  const body = target.kind === 'oauth' ? { ...params, auth: target.accessToken } : params;
  try {
    // The transport never follows a redirect: a renamed portal's old address answers 302, and following it
    // would send the token or webhook code to a host nobody verified. The portal layer decides what it means.
    return await transport({
      method: 'POST',
      url: urlFor(target, method),
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      timeoutMs,
      maxBytes: MAX_RESPONSE_BYTES,
    });
  } catch (error) {
    throw transportError(transportFailure(error), timeoutMs);
  }
}

/** What a REST envelope says: its result, or the portal's error with when to try again. */
function resultOf(envelope: Record<string, unknown>, response: HttpAnswer): AttemptResult {
  const resetAt = operatingResetAt(envelope);
  if (typeof envelope.error === 'string') {
    const description = typeof envelope.error_description === 'string' ? envelope.error_description : '';
    const untilReset = resetAt === undefined ? undefined : Math.max(1, Math.ceil(resetAt - Date.now() / 1000));
    const error = new Bitrix24Error(
      envelope.error,
      response.status,
      description,
      parseRetryAfter(response.header('retry-after')) ?? untilReset,
    );
    error.operatingResetAt = resetAt;
    throw error;
  }
  if (response.status < 200 || response.status >= 300 || !('result' in envelope)) {
    throw new Bitrix24Error(
      TRANSPORT.invalidResponse,
      response.status,
      `portal answered ${response.status} without a result`,
    );
  }
  return { result: envelope.result, status: response.status, operatingResetAt: resetAt };
}

/** One HTTP attempt of a REST call; every failure is a Bitrix24Error. */
async function attempt(
  transport: HttpTransport,
  target: RestTarget,
  method: string,
  params: Record<string, unknown>,
  timeoutMs: number,
): Promise<AttemptResult> {
  const response = await post(transport, target, method, params, timeoutMs);
  if (response.status >= 300 && response.status < 400) throw movedError(response);
  return resultOf(readEnvelope(response), response);
}

/** How long to wait before retrying a failed attempt, or undefined when resending cannot help. */
function retryDelayMs(error: Bitrix24Error, attempts: number, backoff: Backoff): number | undefined {
  if (error.isRateLimited) {
    // Full jitter keeps many containers from retrying into the portal's bucket in lockstep.
    const jittered = backoff.random() * Math.min(backoff.capMs, backoff.baseMs * 2 ** (attempts - 1));
    return Math.max(jittered, (error.retryAfterSeconds ?? 0) * 1000);
  }
  // Only before any answer: once a status line came back, the portal ran the method, and a resend could run it twice.
  if (error.code === TRANSPORT.network && error.status === 0 && RESET_CODES.has(errorCode(error.cause) ?? '')) {
    return backoff.random() * 50;
  }
  return undefined;
}

/** Whether a retry after waitMs is allowed: by the deadline, and for a rate limit by the caller's budget. */
async function retryAdmitted(
  error: Bitrix24Error,
  waitMs: number,
  deadline: Deadline,
  callOptions: CallOptions,
): Promise<boolean> {
  // Only retry if the wait still leaves room for a real attempt before the deadline.
  if (waitMs + 100 > deadline.remainingMs()) return false;
  return !error.isRateLimited || !callOptions.mayRetry || (await callOptions.mayRetry());
}

export function createRestClient(options: RestClientOptions): RestClient {
  const transport = options.transport ?? nodeHttpTransport;
  const backoff: Backoff = {
    baseMs: options.backoffBaseMs ?? 300,
    capMs: options.backoffCapMs ?? 2_000,
    random: options.random ?? Math.random,
  };

  return {
    async call<T>(
      target: RestTarget,
      method: string,
      params: Record<string, unknown>,
      deadline: Deadline,
      callOptions: CallOptions = {},
    ) {
      for (let attempts = 1; ; attempts += 1) {
        const timeoutMs = deadline.timeoutFor(options.timeoutMs);
        if (timeoutMs <= 0) throw new Bitrix24Error(TRANSPORT.timeout, 0, 'deadline reached before the call');
        try {
          const { result, status, operatingResetAt } = await attempt(transport, target, method, params, timeoutMs);
          return { result: result as T, attempts, status, operatingResetAt };
        } catch (error) {
          if (!(error instanceof Bitrix24Error)) throw error;
          error.attempts = attempts;
          if (attempts >= options.maxAttempts) throw error;
          const waitMs = retryDelayMs(error, attempts, backoff);
          if (waitMs === undefined || !(await retryAdmitted(error, waitMs, deadline, callOptions))) throw error;
          await sleep(waitMs);
        }
      }
    },
  };
}
