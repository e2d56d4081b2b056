import type { PortalCredentials } from '../../lib/portal/index.js';
import { generateBotToken, generateEventsToken } from '../bot-records.js';
import type { CommandContext } from '../command.js';
import { failed, type CommandOutput } from '../outcome.js';
import { asPortalFailure, callStoredPortal, modeOf } from '../portal-calls.js';
import { TAKES_EFFECT } from '../takes-effect.js';

/** The bot types `imbot.v2.Bot.register` takes (its docs also list `network`, which is not for us). */
export const V2_BOT_TYPES = ['bot', 'supervisor', 'personal', 'openline'];

export interface V2Registration {
  domain: string;
  portal: PortalCredentials;
  eventsUrl: string;
  code: string;
  name: string;
  type: string;
}

/**
 * `bot register --api v2`: `imbot.v2.Bot.register` in webhook event mode. On a webhook portal the bot is owned by a
 * fresh `botToken`, and its `webhookUrl` carries the portal's `eventsToken` (made on first use), which is how the
 * service verifies its events: the docs do not say which `application_token` such a bot's events carry. Both are
 * stored, never printed; the printed URL leaves the token out.
 */
export async function registerV2Bot(ctx: CommandContext, r: V2Registration): Promise<CommandOutput> {
  const { domain, portal } = r;
  const botToken = portal.webhook ? generateBotToken() : undefined;
  const eventsToken = portal.webhook ? (portal.webhook.eventsToken ?? generateEventsToken()) : undefined;
  const webhookUrl = eventsToken === undefined ? r.eventsUrl : withEventsToken(r.eventsUrl, eventsToken);
  const fields = {
    code: r.code,
    properties: { name: r.name },
    type: r.type,
    eventMode: 'webhook',
    webhookUrl,
    ...(botToken !== undefined ? { botToken } : {}),
  };
  let botId: number;
  try {
    const out = await ctx.progress(`Registering ${r.code} (v2) on ${domain}`, () =>
      callStoredPortal(ctx, portal, 'imbot.v2.Bot.register', { fields }),
    );
    botId = Number((out.result as { bot?: { id?: unknown } } | undefined)?.bot?.id);
    if (!Number.isSafeInteger(botId) || botId <= 0)
      throw failed('INVALID_RESPONSE', 'imbot.v2.Bot.register answered without result.bot.id', { portal: domain });
  } catch (error) {
    throw asPortalFailure(error, domain, 'imbot.v2.Bot.register');
  }

  const secrets = ctx.secrets();
  const record = { api: 'v2' as const, type: r.type, ...(botToken !== undefined ? { botToken } : {}) };
  try {
    await ctx.progress(`Storing bot ${botId}`, async () => {
      // Re-read: the call above may have refreshed and stored a new OAuth pair that must not be overwritten.
      const latest = (await secrets.credentials.portal(domain, { fresh: true })) ?? portal;
      const bots = { ...latest.bots, [String(botId)]: record };
      const updated: PortalCredentials = latest.webhook
        ? { ...latest, botId, bots, webhook: { ...latest.webhook, eventsToken } }
        : { ...latest, botId, bots };
      await secrets.credentials.savePortal(updated);
    });
  } catch (error) {
    throw failed(
      'CREDENTIALS_UNAVAILABLE',
      `v2 bot ${botId} is registered on ${domain} but could not be stored (${(error as Error).message}); ` +
        (botToken !== undefined
          ? 'its botToken is lost with it: unregister the bot and register it again.'
          : `store it with "portal add ... --bot-id ${botId} --bot-api v2".`),
      { portal: domain, botId },
    );
  }
  return {
    json: {
      portal: domain,
      mode: modeOf(portal),
      api: 'v2',
      botId,
      code: r.code,
      type: r.type,
      eventsUrl: r.eventsUrl,
    },
    human: [`Registered v2 bot ${botId} (${r.code}) on ${domain}; its events go to ${r.eventsUrl}.`],
    notes: [
      botToken !== undefined
        ? `Stored bot ${botId} as the portal's default, with its botToken and the events URL's token, in ${secrets.names.portal(domain)}.`
        : `Stored bot ${botId} as the portal's default in ${secrets.names.portal(domain)}.`,
      TAKES_EFFECT.portalChanged,
    ],
  };
}

function withEventsToken(eventsUrl: string, eventsToken: string): string {
  const url = new URL(eventsUrl);
  url.searchParams.set('eventsToken', eventsToken);
  return url.toString();
}
