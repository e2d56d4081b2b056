/**
 * `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). Returns seconds to wait (a date
 * rounded up to whole seconds, never negative), or `undefined` when the header is absent or unreadable.
 * Shared by the REST client (reading a portal's answer) and the typed client (reading this service's).
 */
export function parseRetryAfter(header: string | null | undefined, nowMs = Date.now()): number | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - nowMs) / 1000));
}
