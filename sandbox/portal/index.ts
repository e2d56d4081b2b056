/**
 * A loopback Bitrix24 portal: a real `node:http` server on 127.0.0.1 that answers the REST calls this
 * project makes (`imbot.chat.sendTyping`, `imbot.v2.Chat.InputAction.notify`, `imbot.register`,
 * `imbot.v2.Bot.register`, `imbot.bot.list`, `imbot.unregister`, `imbot.update`,
 * `app.info`, `profile`, `user.admin`) and the OAuth refresh,
 * the way the real servers do. Used by tests and as a sandbox simulator.
 *
 * Sources for the rules in this folder (cited as [im_rest], [rest_server], [apauth], [access_exc], [common], [docs],
 * [docs_v2]):
 * - [im_rest]    Bitrix24 `im` module, `modules/im/classes/general/im_rest.php` (CIMRestService), as stored in
 *                avshatalov48/bitrix-core-business: botSendTyping, botRegister, botList, botUnRegister, botUpdate.
 * - [rest_server] `rest` module `CRestServer::processExecution/checkAuth` and `Bitrix\Rest\OAuthException`.
 * - [apauth]     `modules/rest/lib/apauth/auth.php` (inbound webhooks).
 * - [access_exc] `modules/rest/lib/accessexception.php`.
 * - [common]     `Bitrix\Im\Common::isDialogId`.
 * - [docs]       bitrix24/b24restdocs: the system error table, the REST limits and the OAuth refresh protocol.
 * - [docs_v2]    bitrix24/b24restdocs `api-reference/chat-bots/chat-bots-v2/`: the method pages of
 *                `imbot.v2.Chat.InputAction.notify` and `imbot.v2.Bot.register`, the overview and the change log
 *                (no server code of v2 is public).
 * - [user_api]   `rest` module `Bitrix\Rest\Api\User`: `user.admin` in the global scope, answering
 *                `CRestUtil::isAdmin()` as a boolean (docs: api-reference/common/users/user-admin.md).
 */
export { INVALID_WEBHOOK_STATUS } from './auth.js';
export { decodePhpForm } from './form-body.js';
export { startPortal } from './server.js';
export {
  OAUTH_TOKEN_PATH,
  type FakePortal,
  type IssuedTokens,
  type PortalBot,
  type PortalCall,
  type PortalOptions,
  type RefreshCall,
  type ScriptedResponse,
} from './types.js';
