import qs from 'qs';
import { ServiceError } from '../errors/index.js';

/**
 * Bounds for a Bitrix24 event body. The deepest documented keys are a message's assembled attachment as a
 * chat-bots v2 event carries it, `data[message][params][ATTACH][0][BLOCKS][0][GRID][0][NAME]` (depth 9; v1 puts
 * it one level higher under `data[PARAMS]`); one level more is kept as margin. A message event with mentions
 * has a few hundred keys; the key count and the 128 KiB body limit bound the work whatever the depth.
 */
export const FORM_LIMITS = { depth: 10, keys: 2_000 } as const;

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
