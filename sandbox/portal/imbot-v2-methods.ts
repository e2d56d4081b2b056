/**
 * The chat-bot API v2 methods this project calls: `imbot.v2.Chat.InputAction.notify` and `imbot.v2.Bot.register`,
 * with the errors their pages list [docs_v2]. The docs name the codes but not their order or which of 400 and 403
 * each gets; here the bot checks common to every v2 method come first (token, id, bot, owner, as the change log
 * lists them), and refusals of ownership or membership answer 403, the rest 400. Source tags are listed in index.ts.
 */
import { isEmpty, isPlainObject } from './php-semantics.js';
import { NotedResult, RestError, type Caller, type MethodHandler } from './rest-protocol.js';
import type { PortalBots } from './imbot-methods.js';
import type { PortalBot } from './types.js';

/** Bots per application in v2 [docs_v2 index, "Limits"]. */
const MAX_V2_BOTS_PER_APP = 100;
/** Longer tokens are refused since 06.08.2026 [docs_v2 change-log BOT-BC-0506-1]. */
const MAX_BOT_TOKEN_LENGTH = 40;
const BOT_TYPES = new Set(['bot', 'network', 'openline', 'supervisor', 'personal']);
const EVENT_MODES = new Set(['fetch', 'webhook']);

/** The indicator's status codes [docs_v2 chat-input-action-notify, "Available statusMessageCode"]. */
export const STATUS_MESSAGE_CODES = new Set(
  [
    'THINKING',
    'SEARCHING',
    'GENERATING',
    'ANALYZING',
    'PROCESSING',
    'TRANSLATING',
    'CONNECTING',
    'CHECKING',
    'CALCULATING',
    'READING_DOCS',
    'COMPOSING',
  ].map((tail) => `IMBOT_AGENT_ACTION_${tail}`),
);

/** Who owns a v2 bot: the OAuth application, or through a webhook the `botToken` it was registered with. */
export function v2OwnerKey(caller: Caller, botToken: string | undefined): string {
  return caller.via === 'oauth' ? caller.clientId : `bot-token:${botToken ?? ''}`;
}

/** The checks every v2 bot method makes before its own [docs_v2 change-log BOT-NEW-0408-1]. */
function ownBotV2(bots: PortalBots, caller: Caller, params: Record<string, unknown>): PortalBot {
  const botToken = isEmpty(params.botToken) ? undefined : String(params.botToken);
  if (caller.via === 'webhook' && botToken === undefined) {
    throw new RestError(400, 'BOT_TOKEN_NOT_SPECIFIED', 'Bot token is not specified');
  }
  if (isEmpty(params.botId)) throw new RestError(400, 'BOT_ID_REQUIRED', 'Bot ID is required');
  const bot = /^\d+$/.test(String(params.botId)) ? bots.byId.get(Number(params.botId)) : undefined;
  if (!bot) throw new RestError(400, 'BOT_NOT_FOUND', 'Bot not found');
  if (bot.appId !== v2OwnerKey(caller, botToken)) {
    throw new RestError(403, 'BOT_OWNERSHIP_ERROR', 'Bot is registered by another application');
  }
  return bot;
}

/** A personal dialog (a user id) always reaches the bot; a group chat only if the bot is in it. */
function isMember(bot: PortalBot, dialogId: unknown): boolean {
  const text = typeof dialogId === 'string' || typeof dialogId === 'number' ? String(dialogId).toLowerCase() : '';
  if (/^[1-9]\d*$/.test(text)) return true;
  if (!/^(chat|sg|crm)[0-9]+$/.test(text)) return false;
  return bot.chats === undefined || bot.chats.has(text);
}

/**
 * Shows the bot's action indicator. The docs say nothing of a duration outside 1–600 s or an unknown status
 * code, so both are accepted here and noted as defects: this project must never send them.
 */
export function inputActionNotify(bots: PortalBots): MethodHandler {
  return (caller, params) => {
    const bot = ownBotV2(bots, caller, params);
    // The docs list only "not a participant" for a chat the bot cannot act in; a dialog that is no dialog is one.
    if (!isMember(bot, params.dialogId)) throw new RestError(403, 'ACCESS_DENIED', 'Access denied');
    const defects: string[] = [];
    if (params.duration !== undefined) {
      const duration = Number(params.duration);
      if (!Number.isInteger(duration) || duration < 1 || duration > 600) defects.push('duration outside 1–600');
    }
    const code = params.statusMessageCode;
    if (code !== undefined && !STATUS_MESSAGE_CODES.has(String(code))) defects.push('unknown statusMessageCode');
    return new NotedResult({ result: true }, defects);
  };
}

/** The bot as `result.bot` shows it to its owner [docs_v2 bot-register, "Fields of the Bot Object"]. */
function botView(bot: PortalBot): Record<string, unknown> {
  return {
    id: bot.botId,
    code: bot.code,
    type: bot.type,
    isHidden: false,
    isSupportOpenline: bot.type === 'openline',
    isReactionsEnabled: true,
    backgroundId: null,
    language: 'en',
    moduleId: 'rest',
    eventMode: bot.eventMode ?? 'fetch',
    countMessage: 0,
    countCommand: 0,
    countChat: 0,
    countUser: 0,
  };
}

function userView(bot: PortalBot): Record<string, unknown> {
  const name = String(bot.properties.name ?? bot.code);
  return { id: bot.botId, active: true, name, bot: true, externalAuthId: 'bot', type: 'bot' };
}

function webhookUrlOf(fields: Record<string, unknown>, eventMode: string): string | undefined {
  if (eventMode !== 'webhook') return undefined;
  if (isEmpty(fields.webhookUrl)) throw new RestError(400, 'BOT_WEBHOOK_URL_REQUIRED', 'Webhook URL is required');
  const url = String(fields.webhookUrl);
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new RestError(400, 'BOT_INVALID_CALLBACK', 'Invalid callback URL');
  }
  return url;
}

/**
 * Registers a v2 bot. Idempotent per code and owner: the same code again returns the existing bot unchanged
 * [docs_v2 bot-register]. The method page passes `botToken` in `fields`; the quick start passes it beside them:
 * both are read, `fields` first.
 */
export function registerV2(bots: PortalBots): MethodHandler {
  return (caller, params) => {
    const fields = isPlainObject(params.fields) ? params.fields : {};
    const given = isEmpty(fields.botToken) ? params.botToken : fields.botToken;
    const botToken = isEmpty(given) ? undefined : String(given);
    if (caller.via === 'webhook' && botToken === undefined) {
      throw new RestError(400, 'BOT_TOKEN_NOT_SPECIFIED', 'Bot token is not specified');
    }
    if (caller.via === 'webhook' && (botToken as string).length > MAX_BOT_TOKEN_LENGTH) {
      throw new RestError(400, 'BOT_TOKEN_INVALID_LENGTH', 'Bot token is too long');
    }
    if (isEmpty(fields.code)) throw new RestError(400, 'BOT_CODE_REQUIRED', 'Bot code is required');
    const properties = isPlainObject(fields.properties) ? fields.properties : {};
    if (isEmpty(properties.name)) throw new RestError(400, 'BOT_PROPERTIES_REQUIRED', 'Bot properties are required');
    const type = isEmpty(fields.type) ? 'bot' : String(fields.type);
    if (!BOT_TYPES.has(type)) throw new RestError(400, 'BOT_INVALID_TYPE', 'Invalid bot type');
    const eventMode = isEmpty(fields.eventMode) ? 'fetch' : String(fields.eventMode);
    if (!EVENT_MODES.has(eventMode)) throw new RestError(400, 'BOT_INVALID_EVENT_MODE', 'Invalid event mode');
    const webhookUrl = webhookUrlOf(fields, eventMode);
    const owner = v2OwnerKey(caller, botToken);
    const code = String(fields.code);
    const existing = bots.byCode(code);
    if (existing && existing.appId !== owner) {
      throw new RestError(400, 'BOT_CODE_ALREADY_TAKEN', 'Bot code is already taken');
    }
    const bot =
      existing ??
      (() => {
        if (bots.ownedBy(owner).length >= MAX_V2_BOTS_PER_APP) {
          throw new RestError(400, 'BOT_LIMIT_EXCEEDED', 'Bot limit exceeded');
        }
        const botId = bots.register({
          code,
          type,
          appId: owner,
          api: 'v2',
          ...(caller.via === 'oauth' ? { appClientId: caller.clientId } : { botToken }),
          eventMode: eventMode as 'fetch' | 'webhook',
          ...(webhookUrl !== undefined ? { webhookUrl } : {}),
          handlers: {},
          properties,
        });
        return bots.byId.get(botId) as PortalBot;
      })();
    return { bot: botView(bot), users: [userView(bot)] };
  };
}
