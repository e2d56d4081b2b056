/** Managing registered bots: `imbot.bot.list`, `imbot.unregister` and `imbot.update`, with the server's checks in
 * the server's order [im_rest botList, botUnRegister, botUpdate]. Source tags are listed in index.ts. */
import { ownerKey } from './auth.js';
import { acceptableWebhookHandler, BOT_EVENTS, type PortalBots } from './imbot-methods.js';
import { isEmpty, isPlainObject, upperKeys } from './php-semantics.js';
import { RestError, type MethodHandler } from './rest-protocol.js';
import type { PortalBot } from './types.js';

/** Every bot on the portal, whoever registered it, keyed by id; PHP turns an empty list into `[]` [im_rest botList]. */
export function botList(bots: PortalBots): MethodHandler {
  return () => {
    const list = [...bots.byId.values()].map((bot) => [
      String(bot.botId),
      {
        ID: bot.botId,
        NAME: String(bot.properties.NAME ?? bot.properties.LAST_NAME ?? ''),
        CODE: bot.code,
        OPENLINE: bot.type === 'O' ? 'Y' : 'N',
      },
    ]);
    return list.length === 0 ? [] : Object.fromEntries(list);
  };
}

/** The caller's own bot, or the server's refusal: client id first, then the bot, then its owner. */
function ownBot(bots: PortalBots, appId: string, rawId: unknown): PortalBot {
  const bot = /^\d+$/.test(String(rawId)) ? bots.byId.get(Number(rawId)) : undefined;
  if (!bot) throw new RestError(400, 'BOT_ID_ERROR', 'Bot not found');
  if (bot.appId !== appId) throw new RestError(400, 'APP_ID_ERROR', 'Bot was installed by another rest application');
  return bot;
}

export function unregister(bots: PortalBots): MethodHandler {
  return (caller, params) => {
    const p = upperKeys(params);
    const bot = ownBot(bots, ownerKey(caller, p), p.BOT_ID);
    bots.byId.delete(bot.botId);
    return true;
  };
}

/** New handler URLs (`EVENT_HANDLER` stands for all five), each with `?CLIENT_ID=` for a webhook bot. */
function updatedHandlers(fields: Record<string, unknown>, webhookClientId: string | undefined): Record<string, string> {
  if (!isEmpty(fields.EVENT_HANDLER)) for (const event of BOT_EVENTS) fields[event] = fields.EVENT_HANDLER;
  const handlers: Record<string, string> = {};
  for (const event of BOT_EVENTS) {
    if (isEmpty(fields[event])) continue;
    const handler = String(fields[event]);
    if (!URL.canParse(handler) || (webhookClientId !== undefined && !acceptableWebhookHandler(handler))) {
      throw new RestError(400, `${event}_ERROR`, 'Wrong handler URL');
    }
    handlers[event] =
      webhookClientId === undefined
        ? handler
        : `${handler}${handler.includes('?') ? '&' : '?'}CLIENT_ID=${webhookClientId}`;
  }
  return handlers;
}

export function update(bots: PortalBots): MethodHandler {
  return (caller, params) => {
    const p = upperKeys(params);
    const bot = ownBot(bots, ownerKey(caller, p), p.BOT_ID);
    const fields = isPlainObject(p.FIELDS) ? upperKeys(p.FIELDS) : {};
    const handlers = updatedHandlers(fields, caller.via === 'webhook' ? String(p.CLIENT_ID) : undefined);
    const properties = isPlainObject(fields.PROPERTIES) ? upperKeys(fields.PROPERTIES) : {};
    const names = { NAME: properties.NAME, LAST_NAME: properties.LAST_NAME };
    if (names.NAME !== undefined && isEmpty(names.NAME) && names.LAST_NAME !== undefined && isEmpty(names.LAST_NAME)) {
      throw new RestError(400, 'NAME_ERROR', "Bot name isn't specified");
    }
    const code = isEmpty(fields.CODE) ? undefined : String(fields.CODE);
    if (code === undefined && Object.keys(properties).length === 0 && Object.keys(handlers).length === 0) {
      throw new RestError(400, 'WRONG_REQUEST', "Update fields can't be empty");
    }
    Object.assign(bot.handlers, handlers);
    Object.assign(bot.properties, properties);
    if (code !== undefined) bot.code = code;
    return true;
  };
}
