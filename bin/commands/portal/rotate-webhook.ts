import { stringOption, type CommandSpec } from '../../command.js';
import { failed, usageError } from '../../outcome.js';
import { requireDomain } from '../../options.js';
import { requirePortal } from '../../portal-calls.js';
import { TAKES_EFFECT } from '../../takes-effect.js';
import { parseGivenPortal } from './given.js';

export const rotateWebhook: CommandSpec = {
  name: 'rotate-webhook',
  summary: 'give a webhook portal a new inbound webhook URL (new code), keeping its bot',
  description: [
    'Replaces only the webhook URL of <prefix>/portals/<domain>; the CLIENT_ID the bot is registered with, the',
    'default bot and the member id stay, so the bot keeps working. For a leaked code, or a webhook whose user left:',
    '  1. create a new inbound webhook (scope imbot) on the portal;',
    '  2. portal rotate-webhook --domain <domain> --webhook <new url>, then portal check --domain <domain>;',
    '  3. once running containers have dropped the old URL (see the note), delete the old webhook on the portal.',
  ],
  options: {
    domain: { type: 'string', value: '<domain>', description: 'the portal (required)' },
    webhook: { type: 'string', value: '<url>', description: 'the new inbound webhook URL (required)' },
  },
  usesSecrets: true,
  examples: [
    'bitrix24-typing portal rotate-webhook --stage prod --domain example.bitrix24.com --webhook https://example.bitrix24.com/rest/1/newcode/',
  ],
  async run(ctx) {
    const domain = requireDomain(ctx);
    const url = stringOption(ctx.values, 'webhook');
    if (url === undefined) throw usageError('--webhook is required');
    const portal = await requirePortal(ctx, domain);
    const secrets = ctx.secrets();
    const name = secrets.names.portal(domain);
    if (!portal.webhook) {
      throw failed('NOT_A_WEBHOOK_PORTAL', `${domain} is stored as an OAuth application: it has no webhook URL.`, {
        portal: domain,
      });
    }
    const rotated = parseGivenPortal({ ...portal, webhook: { ...portal.webhook, url } }, name);
    await ctx.progress(`Writing ${name}`, () => secrets.credentials.savePortal(rotated));
    const bot = portal.botId ? `bot ${portal.botId} and ` : '';
    return {
      json: { portal: domain, secret: name, source: secrets.source, botId: portal.botId ?? null },
      human: [`Rotated the webhook of ${domain} in ${secrets.source}, keeping ${bot}its CLIENT_ID.`],
      notes: [TAKES_EFFECT.portalChanged, 'Delete the old webhook on the portal after that.'],
    };
  },
};
