import { isAcceptableEndpoint, type PortalCredentials } from '../../lib/portal/index.js';
import { stringOption, type CommandContext, type CommandSpec } from '../command.js';
import { usageError } from '../outcome.js';
import { asPortalFailure, callStoredPortal, modeOf, requirePortal } from '../portal-calls.js';
import { TAKES_EFFECT } from '../takes-effect.js';
import { positiveInteger, requireDomain } from '../options.js';

/** One imbot call on the stored portal; a portal error becomes the CLI's failure with the portal's own code. */
async function imbotCall(
  ctx: CommandContext,
  portal: PortalCredentials,
  method: string,
  params: Record<string, unknown>,
): Promise<unknown> {
  // Through an inbound webhook the bot is owned by its CLIENT_ID: every imbot call must name it.
  const withClient = portal.webhook?.clientId ? { ...params, CLIENT_ID: portal.webhook.clientId } : params;
  try {
    const out = await ctx.progress(`Calling ${method} on ${portal.domain}`, () =>
      callStoredPortal(ctx, portal, method, withClient),
    );
    return out.result;
  } catch (error) {
    throw asPortalFailure(error, portal.domain, method);
  }
}

function requireBot(ctx: CommandContext): number {
  const botId = positiveInteger(ctx, 'bot');
  if (botId === undefined) throw usageError('--bot is required');
  return botId;
}

const domainOption = { type: 'string', value: '<domain>', description: 'the portal (required)' } as const;
const botOption = { type: 'string', value: '<n>', description: 'the BOT_ID (required)' } as const;

export const listBots: CommandSpec = {
  name: 'list',
  summary: "list the portal's chat-bots (imbot.bot.list)",
  description: [
    'Prints every chat-bot registered on the portal, by any application: id, code, name, and whether it takes open',
    "lines. The portal secret's default bot is marked with *.",
  ],
  options: { domain: domainOption },
  usesSecrets: true,
  examples: ['bitrix24-typing bot list --stage prod --domain example.bitrix24.com'],
  async run(ctx) {
    const domain = requireDomain(ctx);
    const portal = await requirePortal(ctx, domain);
    const result = await imbotCall(ctx, portal, 'imbot.bot.list', {});
    // PHP sends an empty list as [] and a filled one as an object keyed by id.
    const bots = Object.values(result && typeof result === 'object' ? result : {}).map((raw) => {
      const bot = raw as { ID?: unknown; CODE?: unknown; NAME?: unknown; OPENLINE?: unknown };
      return {
        id: Number(bot.ID),
        code: String(bot.CODE ?? ''),
        name: String(bot.NAME ?? ''),
        openLine: bot.OPENLINE === 'Y',
      };
    });
    return {
      json: { portal: domain, defaultBotId: portal.botId ?? null, bots },
      human: bots.map(
        (bot) =>
          `${bot.id === portal.botId ? '*' : ' '} ${String(bot.id).padEnd(6)} ${bot.code.padEnd(20)} ${bot.name}${bot.openLine ? ' (open lines)' : ''}`,
      ),
      notes: bots.length === 0 ? [`No chat-bots on ${domain}.`] : [],
    };
  },
};

export const unregisterBot: CommandSpec = {
  name: 'unregister',
  summary: 'remove a chat-bot from the portal (imbot.unregister)',
  description: [
    'Calls imbot.unregister for the bot (with the stored CLIENT_ID for a webhook portal); the portal deletes the bot',
    "and its personal chats. If it was the portal secret's default bot, the secret forgets it (and its record).",
  ],
  options: { domain: domainOption, bot: botOption },
  usesSecrets: true,
  examples: ['bitrix24-typing bot unregister --stage prod --domain example.bitrix24.com --bot 39'],
  async run(ctx) {
    const domain = requireDomain(ctx);
    const botId = requireBot(ctx);
    const portal = await requirePortal(ctx, domain);
    await imbotCall(ctx, portal, 'imbot.unregister', { BOT_ID: botId });
    const secrets = ctx.secrets();
    const known = portal.botId === botId || portal.bots?.[String(botId)] !== undefined;
    if (known) {
      await ctx.progress(`Updating ${secrets.names.portal(domain)}`, async () => {
        const latest = (await secrets.credentials.portal(domain, { fresh: true })) ?? portal;
        const bots = { ...latest.bots };
        delete bots[String(botId)];
        await secrets.credentials.savePortal({
          ...latest,
          botId: latest.botId === botId ? undefined : latest.botId,
          bots: Object.keys(bots).length > 0 ? bots : undefined,
        });
      });
    }
    return {
      json: { portal: domain, botId, mode: modeOf(portal), secretUpdated: known },
      human: [`Unregistered bot ${botId} on ${domain}.`],
      notes: known
        ? [`It is no longer the default bot of ${secrets.names.portal(domain)}. ${TAKES_EFFECT.portalChanged}`]
        : [],
    };
  },
};

export const setHandler: CommandSpec = {
  name: 'set-handler',
  summary: "point a chat-bot's events at another URL (imbot.update)",
  description: [
    'Calls imbot.update with EVENT_HANDLER, which sets the URL of all five bot events at once; a webhook bot gets',
    '?CLIENT_ID=<id> appended by the portal, as at registration. Use it after the service moved (a new stage, a',
    'custom domain).',
  ],
  options: {
    domain: domainOption,
    bot: botOption,
    'events-url': { type: 'string', value: '<url>', description: 'https URL of the events endpoint (required)' },
  },
  usesSecrets: true,
  examples: [
    'bitrix24-typing bot set-handler --stage prod --domain example.bitrix24.com --bot 39 --events-url https://typing.example.com/bitrix/events',
  ],
  async run(ctx) {
    const domain = requireDomain(ctx);
    const botId = requireBot(ctx);
    const eventsUrl = stringOption(ctx.values, 'events-url');
    if (eventsUrl === undefined) throw usageError('--events-url is required');
    if (!isAcceptableEndpoint(eventsUrl, { allowLoopback: true }))
      throw usageError('--events-url must be an https URL (plain http only on loopback)');
    const portal = await requirePortal(ctx, domain);
    await imbotCall(ctx, portal, 'imbot.update', { BOT_ID: botId, FIELDS: { EVENT_HANDLER: eventsUrl } });
    return {
      json: { portal: domain, botId, eventsUrl },
      human: [`Bot ${botId} on ${domain} now sends its events to ${eventsUrl}.`],
      notes: ['The portal uses the new URL for the next event.'],
    };
  },
};
