import type { CommandSpec } from '../../command.js';
import { requireDomain } from '../../options.js';
import { asPortalFailure, callStoredPortal, modeOf, requirePortal } from '../../portal-calls.js';

export const check: CommandSpec = {
  name: 'check',
  summary: "prove a portal's stored credentials work (one harmless REST call)",
  description: [
    'Calls app.info (OAuth) or profile (inbound webhook) with the stored credentials and prints OK or the',
    "portal's error code. An expired OAuth access token is refreshed and the new pair stored, as the service does.",
  ],
  options: { domain: { type: 'string', value: '<domain>', description: 'the portal (required)' } },
  usesSecrets: true,
  examples: ['bitrix24-typing portal check --domain example.bitrix24.com'],
  async run(ctx) {
    const domain = requireDomain(ctx);
    const portal = await requirePortal(ctx, domain);
    const mode = modeOf(portal);
    const method = portal.oauth ? 'app.info' : 'profile';
    const fields = { portal: domain, mode, method };
    try {
      const out = await ctx.progress(`Calling ${method} on ${domain}`, () => callStoredPortal(ctx, portal, method, {}));
      return {
        json: { ...fields, status: out.status, refreshed: out.refreshed },
        human: [`${ctx.out.paint('green', 'OK')} ${domain}: ${method} answered ${out.status} (${mode})`],
        notes: out.refreshed ? ['The access token had expired; it was refreshed and the new pair stored.'] : [],
      };
    } catch (error) {
      throw asPortalFailure(error, domain, method, fields, { withDescription: true });
    }
  },
};
