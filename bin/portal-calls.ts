import { createPortalClient } from '../lib/portal/portal-client.js';
import { createRestClient } from '../lib/bitrix24/rest-client.js';
import type { PortalCredentials } from '../lib/portal/index.js';
import { Deadline } from '../lib/deadline/index.js';
import { createLogger } from '../lib/logging/index.js';
import type { CommandContext } from './command.js';

const CALL_TIMEOUT_MS = 10_000;
const DEADLINE_MS = 30_000;

export const modeOf = (portal: PortalCredentials): 'webhook' | 'oauth' => (portal.webhook ? 'webhook' : 'oauth');

/**
 * One REST call on behalf of a stored portal, through the same client the service uses: the same URL forms,
 * retries on the portal's rate limit, and the same coordinated OAuth refresh (so the CLI cannot spend a
 * refresh token a running service is relying on).
 */
export async function callStoredPortal(
  ctx: CommandContext,
  portal: PortalCredentials,
  method: string,
  params: Record<string, unknown>,
) {
  const secrets = ctx.secrets();
  const client = createPortalClient({
    rest: createRestClient({ timeoutMs: CALL_TIMEOUT_MS, maxAttempts: 3 }),
    credentials: secrets.credentials,
    logger: createLogger({ level: 'error', sink: () => undefined }),
    timeoutMs: CALL_TIMEOUT_MS,
    oauthServer: secrets.oauthServer,
  });
  return client.call(portal, method, params, Deadline.in(DEADLINE_MS));
}
