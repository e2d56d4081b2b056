import { createPortalClient } from '../lib/portal/portal-client.js';
import { createRestClient } from '../lib/bitrix24/rest-client.js';
import type { PortalCredentials } from '../lib/portal/index.js';
import { Deadline } from '../lib/deadline/index.js';
import { createLogger, redactSecrets } from '../lib/logging/index.js';
import { Bitrix24Error } from '../lib/bitrix24/errors.js';
import type { CommandContext } from './command.js';
import { failed, notFound } from './outcome.js';

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

/** The stored credentials of a portal; a portal without them is the CLI's PORTAL_UNKNOWN. */
export async function requirePortal(ctx: CommandContext, domain: string): Promise<PortalCredentials> {
  const secrets = ctx.secrets();
  const portal = await ctx.progress(`Reading ${secrets.names.portal(domain)}`, () =>
    secrets.credentials.portal(domain),
  );
  if (!portal) {
    throw notFound(
      'PORTAL_UNKNOWN',
      `No portal ${domain}: ${secrets.names.portal(domain)} does not exist in ${secrets.source}.`,
      { portal: domain },
    );
  }
  return portal;
}

/**
 * A portal's refusal of `method` as the CLI's failure, under the portal's own error code; any other error comes
 * back as it is, for the caller to throw. The portal's description is redacted: it may echo a credential.
 */
export function asPortalFailure(
  error: unknown,
  domain: string,
  method: string,
  fields: Record<string, unknown> = { portal: domain },
  { withDescription = false }: { withDescription?: boolean } = {},
): unknown {
  if (!(error instanceof Bitrix24Error)) return error;
  const description = error.description ? ` (${redactSecrets(error.description)})` : '';
  const errorFields = withDescription
    ? { status: error.status, description: redactSecrets(error.description) }
    : { status: error.status };
  return failed(error.code, `${domain}: ${method} failed with ${error.code}${description}`, fields, errorFields);
}
