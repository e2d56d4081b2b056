import { TRANSPORT, type Bitrix24Error } from '../bitrix24/errors.js';
import { ServiceError } from '../errors/index.js';

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
