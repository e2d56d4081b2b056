import { randomBytes } from 'node:crypto';
import type { BotRecord } from '../lib/portal/index.js';
import { stringOption, type CommandContext, type OptionSpec } from './command.js';
import { usageError } from './outcome.js';

/** Where `portal add --bot-api v2` reads a webhook bot's token: the environment keeps it out of shell history. */
export const BOT_TOKEN_ENV = 'BITRIX24_BOT_TOKEN';

/**
 * The longest `botToken` `imbot.v2.Bot.register` accepts since 06.08.2026 (bots registered before keep longer
 * ones); 32 hex characters are 128 random bits.
 */
export const generateBotToken = (): string => randomBytes(16).toString('hex');

/** A webhook portal's `eventsToken`, which the URL registered for its v2 bots carries back. */
export const generateEventsToken = (): string => randomBytes(24).toString('hex');

export const botRecordOptions: Record<string, OptionSpec> = {
  'bot-api': {
    type: 'string',
    value: 'v1|v2',
    description: `the --bot-id bot's chat-bot API (a v2 bot on a webhook portal: its botToken from $${BOT_TOKEN_ENV})`,
  },
  'bot-token': {
    type: 'string',
    value: '<token>',
    description: `a v2 webhook bot's botToken (prefer $${BOT_TOKEN_ENV}: command lines are logged)`,
  },
};

/**
 * The portal secret's `bots` records with the `--bot-api` one merged in: `api` for the `--bot-id` bot, and for a
 * v2 bot on a webhook portal the `botToken` it was registered with. A bot without a record stays v1.
 */
export function botRecordsWith(
  ctx: CommandContext,
  mode: 'webhook' | 'oauth',
  botId: number | undefined,
  bots: Record<string, BotRecord> | undefined,
): Record<string, BotRecord> | undefined {
  const api = stringOption(ctx.values, 'bot-api');
  const given = stringOption(ctx.values, 'bot-token');
  if (api === undefined) {
    if (given !== undefined) throw usageError('--bot-token belongs to --bot-api v2');
    return bots;
  }
  if (api !== 'v1' && api !== 'v2') throw usageError(`--bot-api must be v1 or v2, got "${api}"`);
  if (botId === undefined) throw usageError('--bot-api describes the --bot-id bot: give --bot-id');
  const needsToken = api === 'v2' && mode === 'webhook';
  if (given !== undefined && !needsToken) {
    throw usageError('--bot-token is only for a v2 bot on a webhook portal (OAuth calls need none)');
  }
  const botToken = needsToken ? (given ?? (ctx.io.env[BOT_TOKEN_ENV]?.trim() || undefined)) : undefined;
  if (needsToken && botToken === undefined) {
    throw usageError(`a v2 bot on a webhook portal is called with its botToken: set ${BOT_TOKEN_ENV} (or --bot-token)`);
  }
  // A v1 record keeps no token: a botToken belongs to a v2 registration only.
  const type = bots?.[String(botId)]?.type;
  const record: BotRecord = { api, ...(botToken !== undefined ? { botToken } : {}), ...(type ? { type } : {}) };
  return { ...bots, [String(botId)]: record };
}
