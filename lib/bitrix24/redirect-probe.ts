/**
 * Where a portal's address sends callers now: a renamed portal's old address answers 302 to its new one. The
 * probe asks for a REST method without any credentials (nothing secret travels), never follows the redirect, and
 * returns the `Location` host, or `undefined` when the address does not redirect or does not answer in time.
 */
export async function redirectedHost(
  endpoint: string,
  options: { timeoutMs: number; fetch?: typeof fetch },
): Promise<string | undefined> {
  if (options.timeoutMs <= 0) return undefined;
  try {
    const response = await (options.fetch ?? fetch)(`${new URL(endpoint).origin}/rest/app.info.json`, {
      method: 'GET',
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    await response.body?.cancel();
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location || !URL.canParse(location)) return undefined;
    return new URL(location).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}
