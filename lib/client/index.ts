/**
 * The typed client for services that call `POST /typing`:
 *
 *   const typing = createTypingClient({ url: process.env.TYPING_URL!, key: process.env.TYPING_KEY! });
 *   await typing.sendTyping({ portal: 'example.bitrix24.com', dialogId: 'chat12' }, { deadlineMs: 5_000 });
 *   const answer = await typing.keepTyping({ portal, dialogId, status: 'thinking' }, () => prepareAnswer());
 *
 * It depends on nothing but Node's crypto (through the shared signer), so it bundles small.
 */
export { createTypingClient } from './typing-client.js';
export { parseRetryAfter } from '../retry/retry-after.js';
export type { SendOptions, TypingClient, TypingClientOptions, TypingRequest, TypingResult } from './typing-client.js';
export { keepTyping } from './keep-typing.js';
export type { KeepTypingOptions } from './keep-typing.js';
export { TYPING_STATUSES } from '../contract/typing-status.js';
export type { TypingStatus } from '../contract/typing-status.js';
export {
  isTypingError,
  isTypingErrorCode,
  TypingClientOptionsError,
  TypingError,
  TYPING_ERROR_CODES,
} from './errors.js';
export type { TypingErrorCode } from './errors.js';
export { signRequest, generateSigningKey } from '../signing/standard-webhooks.js';
