import { createPortalClient, type PortalClient } from '../bitrix24/portal-client.js';
import { createRestClient } from '../bitrix24/rest-client.js';
import { loadConfig, type Config } from '../config/index.js';
import { Credentials } from '../credentials/index.js';
import { createLogger, type Logger } from '../logging/index.js';
import type { SendTypingOutcome } from '../imbot/send-typing.js';
import { TypingCoalescer } from '../imbot/typing-coalescer.js';
import { ReplayGuard } from '../signing/replay-guard.js';

/**
 * Everything a function needs, built once per container at module scope and reused by every invocation:
 * configuration (validated here, so a bad value fails the cold start with its name), the logger, the
 * credentials cache, the Bitrix24 client with its keep-alive connections, and the replay guard.
 */
export interface Runtime {
  config: Config;
  logger: Logger;
  credentials: Credentials;
  portals: PortalClient;
  replayGuard: ReplayGuard;
  typing: TypingCoalescer<SendTypingOutcome>;
}

export interface RuntimeOptions {
  /** Whether this function may spend and store a rotating refresh token (needs PutSecretValue). */
  refreshTokens?: boolean | ((config: Config) => boolean);
}

export function createRuntime(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<Runtime> = {},
  options: RuntimeOptions = {},
): Runtime {
  const config = overrides.config ?? loadConfig(env);
  const logger = overrides.logger ?? createLogger({ level: config.logLevel, base: { service: 'bitrix24-typing', stage: config.stage } });
  const credentials = overrides.credentials ?? Credentials.fromConfig(config, logger);
  const rest = createRestClient({ timeoutMs: config.bitrix24TimeoutMs, maxAttempts: config.bitrix24MaxAttempts });
  const portals =
    overrides.portals ??
    createPortalClient({
      rest,
      credentials,
      logger,
      timeoutMs: config.bitrix24TimeoutMs,
      refreshTokens: typeof options.refreshTokens === 'function' ? options.refreshTokens(config) : options.refreshTokens ?? true,
    });
  const replayGuard = overrides.replayGuard ?? new ReplayGuard({ maxEntries: 100_000 });
  // One line per container: tells cold starts apart in the logs and shows the settings in force (no secrets).
  logger.info('container started', {
    credentialsSource: config.credentialsSource.kind,
    secretsPrefix: config.secretsPrefix,
    installsEnabled: config.installsEnabled,
    forwarding: config.eventBusName !== undefined,
  });
  const typing = overrides.typing ?? new TypingCoalescer<SendTypingOutcome>({ windowMs: config.typingCoalesceMs });
  return { config, logger, credentials, portals, replayGuard, typing };
}
