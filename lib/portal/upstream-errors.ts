import { TRANSPORT, type Bitrix24Error } from '../bitrix24/errors.js';
import { ServiceError } from '../errors/index.js';

/**
 * When an OPERATION_TIME_LIMIT answer says nothing of its reset and no earlier answer did either: one basket is a
 * minute of calls, so a minute is the shortest wait that can help.
 */
export const DEFAULT_OPERATION_WAIT_SECONDS = 60;

/**
 * What a caller of this service sees when a portal call fails. Method-specific codes (e.g. `BOT_ID_ERROR`)
 * are mapped by the method's own module before this generic fallback.
 */
export function upstreamFailure(error: Bitrix24Error): ServiceError {
  const options = {
    upstreamStatus: error.status || undefined,
    upstreamCode: error.code,
    attempts: error.attempts,
    cause: error,
  };
  if (error.isBlocked) {
    return new ServiceError(
      'UPSTREAM_BLOCKED',
      "The portal's REST API is blocked for this application (OVERLOAD_LIMIT); only the portal's support can lift it.",
      options,
    );
  }
  if (error.isOperationTimeLimit) {
    // The method's time budget comes back when the oldest one-minute basket resets, often minutes away.
    return new ServiceError(
      'UPSTREAM_RATE_LIMITED',
      "The portal's time budget for this method is spent; retry later.",
      {
        ...options,
        retryAfterSeconds: Math.max(1, Math.ceil(error.retryAfterSeconds ?? DEFAULT_OPERATION_WAIT_SECONDS)),
      },
    );
  }
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
