import { botEventsDependencies, createBotEventsHandler } from '../../functions/bot-events.js';
import { createTypingHandler, typingDependencies } from '../../functions/typing.js';
import { captureLogger } from './logs.js';

/** The environment the handler suites run a function with: Secrets Manager under `prefix`, no coalescing. */
const suiteEnv = (prefix: string, env: Record<string, string>) => ({
  CREDENTIALS_SOURCE: 'secrets-manager',
  TYPING_COALESCE_MS: '0',
  SECRETS_PREFIX: prefix,
  BITRIX24_TIMEOUT_MS: '1000',
  ...env,
});

/** A fresh warm container of the typing function, and the log lines it writes. */
export function typingHandlerOn(prefix: string, env: Record<string, string> = {}) {
  const capture = captureLogger();
  const deps = typingDependencies(suiteEnv(prefix, env), { logger: capture.logger });
  return { handler: createTypingHandler(deps), ...capture };
}

/** A fresh warm container of the bot-events function, and the log lines it writes. */
export function eventsHandlerOn(prefix: string, env: Record<string, string> = {}) {
  const capture = captureLogger();
  const deps = botEventsDependencies(suiteEnv(prefix, env), { logger: capture.logger });
  return { handler: createBotEventsHandler(deps), ...capture };
}
