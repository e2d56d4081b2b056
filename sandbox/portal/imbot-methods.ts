/** The chat-bot methods: the portal's bots, `imbot.register` and `imbot.chat.sendTyping`, with the server's checks
 * in the server's order. Source tags are listed in index.ts. */
import { ownerKey } from './auth.js';
import { isEmpty, isPlainObject, upperKeys } from './php-semantics.js';
import { RestError, type MethodHandler } from './rest-protocol.js';
import type { PortalBot } from './types.js';

/** At most this many v1 bots per application on a Bitrix24 cloud portal [im_rest] (`imbot_rest_register_limit`). */
const MAX_BOTS_PER_APP = 5;

export const BOT_EVENTS = [
  'EVENT_MESSAGE_ADD',
  'EVENT_MESSAGE_UPDATE',
  'EVENT_MESSAGE_DELETE',
  'EVENT_WELCOME_MESSAGE',
  'EVENT_BOT_DELETE',
];

/** Three handlers are required, checked before CODE [im_rest botRegister]. */
const REQUIRED_HANDLERS: Record<string, string> = {
  EVENT_MESSAGE_ADD: 'Message add',
  EVENT_WELCOME_MESSAGE: 'Welcome message',
  EVENT_BOT_DELETE: 'Bot delete',
};

export interface SeededBot {
  botId: number;
  code?: string;
  clientId?: string;
  appClientId?: string;
}

/** The portal's bots; ids count up from the highest one seen, as the portal's table does. */
export class PortalBots {
  readonly byId = new Map<number, PortalBot>();
  private nextBotId = 1;

  /** Seeds a bot with a chosen id: a webhook bot (`clientId`) or an OAuth application's bot (`appClientId`). */
  add({ botId, code, clientId, appClientId }: SeededBot): void {
    if (clientId === undefined && appClientId === undefined) {
      throw new Error('addBot needs clientId (webhook bot) or appClientId (OAuth app bot)');
    }
    const appId = appClientId ?? `custom${clientId}`;
    this.byId.set(botId, {
      botId,
      code: code ?? `bot${botId}`,
      type: 'B',
      appId,
      ...(clientId !== undefined ? { clientId } : {}),
      ...(appClientId !== undefined ? { appClientId } : {}),
      handlers: {},
      properties: { NAME: code ?? `bot${botId}` },
    });
    this.nextBotId = Math.max(this.nextBotId, botId + 1);
  }

  /** Seeds a bot registered through the v2 API, with a chosen id; see `FakePortal.addBotV2`. */
  addV2(bot: Omit<PortalBot, 'handlers' | 'properties' | 'api'>): void {
    this.byId.set(bot.botId, { ...bot, api: 'v2', handlers: {}, properties: { name: bot.code } });
    this.nextBotId = Math.max(this.nextBotId, bot.botId + 1);
  }

  register(bot: Omit<PortalBot, 'botId'>): number {
    const botId = this.nextBotId++;
    this.byId.set(botId, { botId, ...bot });
    return botId;
  }

  byCode(code: string): PortalBot | undefined {
    return [...this.byId.values()].find((bot) => bot.code === code);
  }

  ownedBy(appId: string): PortalBot[] {
    return [...this.byId.values()].filter((bot) => bot.appId === appId);
  }
}

/** `Bitrix\Im\Common::isDialogId`: a truthy user id or chat/sg/crm id [common]. */
function isDialogId(value: unknown): boolean {
  if (typeof value !== 'string' && typeof value !== 'number') return false;
  const text = String(value);
  return !isEmpty(text) && /^([0-9]+|(chat|sg|crm)[0-9]+)$/i.test(text);
}

export function sendTyping(bots: PortalBots): MethodHandler {
  return (caller, params) => {
    const p = upperKeys(params);
    const appId = ownerKey(caller, p);
    // The order of checks is the server's: client id, then bot, then dialog [im_rest botSendTyping].
    if (p.BOT_ID !== undefined && p.BOT_ID !== null) {
      const bot = /^\d+$/.test(String(p.BOT_ID)) ? bots.byId.get(Number(p.BOT_ID)) : undefined;
      if (!bot) throw new RestError(400, 'BOT_ID_ERROR', 'Bot not found');
      if (bot.appId !== appId) {
        throw new RestError(400, 'APP_ID_ERROR', 'Bot was installed by another rest application');
      }
    } else if (bots.ownedBy(appId).length === 0) {
      throw new RestError(400, 'BOT_ID_ERROR', 'Bot not found');
    }
    if (!isDialogId(p.DIALOG_ID)) throw new RestError(400, 'DIALOG_ID_EMPTY', "Dialog ID can't be empty");
    return true;
  };
}

/** Webhook-registered bots: the server takes only http(s) handler URLs whose host has a dot [im_rest botRegister]. */
export function acceptableWebhookHandler(handler: string): boolean {
  if (!URL.canParse(handler)) return false;
  const url = new URL(handler);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.includes('.');
}

/** Edits and deletions reach only open-line capable bots: the server drops these handlers for B and H bots
 * registered without OPENLINE=Y [docs: imbot.register]. */
const OPEN_LINE_ONLY_EVENTS = new Set(['EVENT_MESSAGE_UPDATE', 'EVENT_MESSAGE_DELETE']);

/** The event handler URLs of a registration; `EVENT_HANDLER` stands for all of them. */
function eventHandlers(
  p: Record<string, unknown>,
  webhookClientId: string | undefined,
  openLine: boolean,
): Record<string, string> {
  if (!isEmpty(p.EVENT_HANDLER)) for (const event of BOT_EVENTS) p[event] = p.EVENT_HANDLER;
  const handlers: Record<string, string> = {};
  for (const event of BOT_EVENTS) {
    const value = p[event];
    if (isEmpty(value)) {
      const label = REQUIRED_HANDLERS[event];
      if (label) throw new RestError(400, `${event}_ERROR`, `Handler for "${label}" event isn't specified`);
      continue;
    }
    const handler = String(value);
    if (!URL.canParse(handler) || (webhookClientId !== undefined && !acceptableWebhookHandler(handler))) {
      throw new RestError(400, `${event}_ERROR`, 'Wrong handler URL');
    }
    if (!openLine && OPEN_LINE_ONLY_EVENTS.has(event)) continue;
    // Webhook bots get `?CLIENT_ID=<id>` appended to every handler URL [im_rest botRegister].
    handlers[event] =
      webhookClientId === undefined
        ? handler
        : `${handler}${handler.includes('?') ? '&' : '?'}CLIENT_ID=${webhookClientId}`;
  }
  return handlers;
}

export function register(bots: PortalBots): MethodHandler {
  return (caller, params) => {
    const p = upperKeys(params);
    const appId = ownerKey(caller, p);
    const webhookClientId = caller.via === 'webhook' ? String(p.CLIENT_ID) : undefined;
    const type = ['O', 'B', 'H', 'S'].includes(String(p.TYPE)) ? String(p.TYPE) : 'B';
    // TYPE=O forces OPENLINE=Y; supervisors keep every handler [im Bot::register][docs].
    const openLine = type === 'O' || type === 'S' || p.OPENLINE === 'Y';
    const handlers = eventHandlers(p, webhookClientId, openLine);
    if (isEmpty(p.CODE)) throw new RestError(400, 'CODE_ERROR', "Bot code isn't specified");
    // A code names one bot on the portal: registering it again returns that bot, no second one [im Bot::register].
    const existing = bots.byCode(String(p.CODE));
    if (existing) return existing.botId;
    if (bots.ownedBy(appId).length >= MAX_BOTS_PER_APP) {
      const description = `Has reached the maximum number of bots for application (max: ${MAX_BOTS_PER_APP})`;
      throw new RestError(400, 'MAX_COUNT_ERROR', description);
    }
    const properties = isPlainObject(p.PROPERTIES) ? p.PROPERTIES : {};
    if (properties.NAME == null && properties.LAST_NAME == null) {
      throw new RestError(400, 'NAME_ERROR', "Bot name isn't specified");
    }
    return bots.register({
      code: String(p.CODE),
      type,
      appId,
      ...(webhookClientId === undefined ? { appClientId: appId } : { clientId: webhookClientId }),
      handlers,
      properties,
    });
  };
}
