import { isAcceptableEndpoint } from '../../lib/portal/index.js';
import { stringOption, type CommandGroup, type CommandSpec } from '../command.js';
import { failed, usageError } from '../outcome.js';
import { requireDomain } from '../options.js';
import { asPortalFailure, callStoredPortal, modeOf, requirePortal } from '../portal-calls.js';
import { TAKES_EFFECT } from '../takes-effect.js';
import { listBots, setHandler, unregisterBot } from './bot-admin.js';
import { registerV2Bot, V2_BOT_TYPES } from './bot-v2.js';

const register: CommandSpec = {
  name: 'register',
  summary: 'register the chat-bot on a portal and store its BOT_ID',
  description: [
    'Calls imbot.register with EVENT_HANDLER set to the events URL (the deployed POST /bitrix/events) and, for a',
    "webhook portal, the stored CLIENT_ID. The returned BOT_ID becomes the portal secret's botId, the bot used",
    'when a caller of POST /typing names none. A portal allows at most 5 bots per application.',
    '--api v2 registers through the chat-bot API v2 (imbot.v2.Bot.register, events posted to the URL in webhook',
    'mode) and records the bot as v2 in the portal secret; on a webhook portal with a generated botToken and, in the',
    "URL, the portal's eventsToken that verifies its events. Neither is printed. At most 100 v2 bots per application.",
  ],
  options: {
    domain: { type: 'string', value: '<domain>', description: 'the portal (required; see "portal add")' },
    'events-url': { type: 'string', value: '<url>', description: 'https URL of the events endpoint (required)' },
    code: { type: 'string', value: '<code>', description: "the bot's CODE, unique on the portal (required)" },
    name: { type: 'string', value: '<name>', description: 'the name users see (default: the code)' },
    api: { type: 'string', value: 'v1|v2', description: 'the chat-bot API to register with (default: v1)' },
    type: { type: 'string', value: '<type>', description: `v2 only: ${V2_BOT_TYPES.join(', ')} (default: bot)` },
  },
  usesSecrets: true,
  examples: [
    'bitrix24-typing bot register --domain example.bitrix24.com --code typing_bot --name "Support bot" \\\n      --events-url https://abc123.execute-api.eu-central-1.amazonaws.com/bitrix/events',
    'bitrix24-typing bot register --api v2 --domain example.bitrix24.com --code agent --name "Agent" \\\n      --events-url https://abc123.execute-api.eu-central-1.amazonaws.com/bitrix/events',
  ],
  async run(ctx) {
    const domain = requireDomain(ctx);
    const eventsUrl = stringOption(ctx.values, 'events-url');
    const code = stringOption(ctx.values, 'code')?.trim();
    if (eventsUrl === undefined) throw usageError('--events-url is required');
    // The operator's own tool: a loopback handler URL is how the sandbox is wired.
    if (!isAcceptableEndpoint(eventsUrl, { allowLoopback: true }))
      throw usageError('--events-url must be an https URL (plain http only on loopback)');
    if (!code) throw usageError('--code is required');
    const name = stringOption(ctx.values, 'name')?.trim() || code;
    const api = stringOption(ctx.values, 'api') ?? 'v1';
    if (api !== 'v1' && api !== 'v2') throw usageError(`--api must be v1 or v2, got "${api}"`);
    const type = stringOption(ctx.values, 'type');
    if (type !== undefined && api !== 'v2') throw usageError('--type belongs to --api v2');
    if (type !== undefined && !V2_BOT_TYPES.includes(type))
      throw usageError(`--type must be one of ${V2_BOT_TYPES.join(', ')}, got "${type}"`);

    const portal = await requirePortal(ctx, domain);
    if (api === 'v2') return registerV2Bot(ctx, { domain, portal, eventsUrl, code, name, type: type ?? 'bot' });
    const params: Record<string, unknown> = { CODE: code, EVENT_HANDLER: eventsUrl, PROPERTIES: { NAME: name } };
    if (portal.webhook) {
      // Through an inbound webhook the bot is owned by its CLIENT_ID; without it imbot.register is refused.
      if (!portal.webhook.clientId) {
        throw failed(
          'CLIENT_ID_MISSING',
          `${domain} has no webhook.clientId; run "portal add --domain ${domain} --webhook <url>" again.`,
          { portal: domain },
        );
      }
      params.CLIENT_ID = portal.webhook.clientId;
    }
    let botId: number;
    try {
      const out = await ctx.progress(`Registering ${code} on ${domain}`, () =>
        callStoredPortal(ctx, portal, 'imbot.register', params),
      );
      botId = Number(out.result);
      if (!Number.isSafeInteger(botId) || botId <= 0)
        throw failed('INVALID_RESPONSE', `imbot.register answered without a BOT_ID`, { portal: domain });
    } catch (error) {
      throw asPortalFailure(error, domain, 'imbot.register');
    }

    const secrets = ctx.secrets();
    try {
      // Re-read: the call above may have refreshed and stored a new OAuth pair that must not be overwritten.
      await ctx.progress(`Storing bot ${botId}`, async () => {
        const latest = (await secrets.credentials.portal(domain, { fresh: true })) ?? portal;
        await secrets.credentials.savePortal({ ...latest, botId });
      });
    } catch (error) {
      throw failed(
        'CREDENTIALS_UNAVAILABLE',
        `Bot ${botId} is registered on ${domain} but could not be stored (${(error as Error).message}); ` +
          `store it with "portal add ... --bot-id ${botId}".`,
        { portal: domain, botId },
      );
    }
    return {
      json: { portal: domain, mode: modeOf(portal), botId, code, eventsUrl, previousBotId: portal.botId ?? null },
      human: [`Registered bot ${botId} (${code}) on ${domain}; its events go to ${eventsUrl}.`],
      notes: [
        portal.botId !== undefined && portal.botId !== botId
          ? `Bot ${botId} replaces bot ${portal.botId} as the portal's default in ${secrets.names.portal(domain)}.`
          : `Stored as the portal's default bot in ${secrets.names.portal(domain)}.`,
        TAKES_EFFECT.portalChanged,
      ],
    };
  },
};

export const botGroup: CommandGroup = {
  name: 'bot',
  summary: 'the chat-bot on a portal',
  commands: [register, listBots, setHandler, unregisterBot],
};
