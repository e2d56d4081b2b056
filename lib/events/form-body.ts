import qs from 'qs';
import { ServiceError } from '../errors/index.js';

/**
 * Bounds for a Bitrix24 event body. The deepest key the platform sends is
 * `data[BOT][<id>][AUTH][access_token]` (depth 4); a message event with mentions has a few hundred keys.
 */
export const FORM_LIMITS = { depth: 6, keys: 2_000 } as const;

/** Decodes `application/x-www-form-urlencoded` with PHP-style nesting (`data[PARAMS][DIALOG_ID]=27`). */
export function parseFormBody(body: Buffer): Record<string, unknown> {
  try {
    return qs.parse(body.toString('utf8'), {
      depth: FORM_LIMITS.depth,
      strictDepth: true,
      parameterLimit: FORM_LIMITS.keys,
      throwOnLimitExceeded: true,
      // Bot ids and command ids are numeric keys: keep them as object keys, never sparse arrays.
      parseArrays: false,
      allowPrototypes: false,
      plainObjects: true,
      allowDots: false,
      charset: 'utf-8',
    }) as Record<string, unknown>;
  } catch (error) {
    throw new ServiceError('EVENT_INVALID', 'Body is not a form-encoded Bitrix24 event within the size limits.', {
      cause: error,
    });
  }
}
