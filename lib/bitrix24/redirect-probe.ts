import { nodeHttpTransport, type HttpTransport } from './http-transport.js';

/**
 * Where a portal's address sends callers now: a renamed portal's old address answers 302 to its new one. The
 * probe asks for a REST method without any credentials (nothing secret travels), never follows the redirect, and
 * returns the `Location` host, or `undefined` when the address does not redirect or does not answer in time.
 */
export async function redirectedHost(
  endpoint: string,
  options: { timeoutMs: number; transport?: HttpTransport },
): Promise<string | undefined> {
  if (options.timeoutMs <= 0) return undefined;
  try {
    const response = await (options.transport ?? nodeHttpTransport)({
      method: 'GET',
      url: `${new URL(endpoint).origin}/rest/app.info.json`,
      timeoutMs: options.timeoutMs,
      // Only the status and Location matter; a redirect's body is a line of HTML.
      maxBytes: 64 * 1024,
    });
    const location = response.header('location');
    if (response.status < 300 || response.status >= 400 || !location || !URL.canParse(location)) return undefined;
    return new URL(location).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}
