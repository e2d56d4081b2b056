/** The REST methods the portal knows, by lower-case name: the imbot methods (v1 and the v2 ones this project
 * calls), `app.info`, `profile`, `user.admin`.
 * Source tags are listed in index.ts. */
import type { PortalAuth } from './auth.js';
import { botList, unregister, update } from './bot-admin-methods.js';
import { register, sendTyping, type PortalBots } from './imbot-methods.js';
import { inputActionNotify, registerV2 } from './imbot-v2-methods.js';
import type { MethodHandler } from './rest-protocol.js';

export interface RestMethod {
  /** The name as the documentation spells it; calls are recorded under it. */
  name: string;
  run: MethodHandler;
}

export type RestMethods = ReadonlyMap<string, RestMethod>;

function appInfo(auth: PortalAuth): MethodHandler {
  return (caller) => {
    // With a webhook there is no application: only SCOPE and LICENSE [docs].
    if (caller.via === 'webhook') return { SCOPE: ['im', 'imbot'], LICENSE: 'en_project' };
    const app = auth.app(caller.clientId);
    return {
      ID: app?.id ?? 0,
      CODE: caller.clientId,
      VERSION: 1,
      STATUS: 'L',
      INSTALLED: true,
      PAYMENT_EXPIRED: 'N',
      DAYS: null,
      LANGUAGE_ID: 'en',
      LICENSE: 'en_project',
    };
  };
}

/** `user.admin`: is the calling user a portal administrator. Any application may call it, whatever its scope:
 * the server lists it in the global scope [user_api]. */
function userAdmin(auth: PortalAuth): MethodHandler {
  return (caller) => auth.isAdmin(caller.userId);
}

function profile(auth: PortalAuth): MethodHandler {
  return (caller) => ({
    ID: String(caller.userId),
    ADMIN: auth.isAdmin(caller.userId),
    NAME: 'Sandbox',
    LAST_NAME: 'User',
    PERSONAL_GENDER: '',
    TIME_ZONE: '',
  });
}

export function restMethods(auth: PortalAuth, bots: PortalBots): RestMethods {
  return new Map(
    [
      { name: 'imbot.chat.sendTyping', run: sendTyping(bots) },
      { name: 'imbot.register', run: register(bots) },
      { name: 'imbot.v2.Chat.InputAction.notify', run: inputActionNotify(bots) },
      { name: 'imbot.v2.Bot.register', run: registerV2(bots) },
      { name: 'imbot.bot.list', run: botList(bots) },
      { name: 'imbot.unregister', run: unregister(bots) },
      { name: 'imbot.update', run: update(bots) },
      { name: 'app.info', run: appInfo(auth) },
      { name: 'profile', run: profile(auth) },
      { name: 'user.admin', run: userAdmin(auth) },
    ].map((m) => [m.name.toLowerCase(), m]),
  );
}
