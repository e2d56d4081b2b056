/**
 * The Bitrix24 server is PHP, and its checks lean on PHP's idea of "empty" and of an array; these mirror them so
 * the portal refuses exactly what the real one refuses. Source tags are listed in index.ts.
 */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `array_change_key_case($arParams, CASE_UPPER)`: every imbot method starts with it [im_rest]. */
export function upperKeys(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) out[key.toUpperCase()] = value;
  return out;
}

/** PHP `!empty()`: missing, null, '', '0', 0, false and [] are empty. */
export function isEmpty(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    value === '' ||
    value === '0' ||
    value === 0 ||
    value === false ||
    (Array.isArray(value) && value.length === 0)
  );
}

/** `date('c')` as PHP writes it: no milliseconds, numeric offset. */
export function phpDateC(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', '+00:00');
}
