/**
 * A loopback Bitrix24 portal: a real `node:http` server on 127.0.0.1 that answers the REST calls this
 * project makes (`imbot.chat.sendTyping`, `imbot.register`, `app.info`, `profile`, `user.admin`) and the OAuth refresh,
 * the way the real servers do. Used by tests and as a sandbox simulator.
 *
 * Sources for the rules in this folder (cited as [im_rest], [rest_server], [apauth], [access_exc], [common], [docs]):
 * - [im_rest]    Bitrix24 `im` module, `modules/im/classes/general/im_rest.php` (CIMRestService), as stored in
 *                avshatalov48/bitrix-core-business: botSendTyping, botRegister.
 * - [rest_server] `rest` module `CRestServer::processExecution/checkAuth` and `Bitrix\Rest\OAuthException`.
 * - [apauth]     `modules/rest/lib/apauth/auth.php` (inbound webhooks).
 * - [access_exc] `modules/rest/lib/accessexception.php`.
 * - [common]     `Bitrix\Im\Common::isDialogId`.
 * - [docs]       bitrix24/b24restdocs: the system error table, the REST limits and the OAuth refresh protocol.
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
