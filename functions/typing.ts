import { loadConfig, type Config } from '../lib/config/index.js';
import { Deadline } from '../lib/deadline/index.js';
import { ServiceError } from '../lib/errors/index.js';
import { json } from '../lib/http/response.js';
import { httpRoute } from '../lib/http/route.js';
import { sendTyping, type SendTypingOutcome } from '../lib/imbot/send-typing.js';
import { TypingCoalescer } from '../lib/imbot/typing-coalescer.js';
import { serviceLogger, type Logger } from '../lib/logging/index.js';
import { Credentials, portalClientFromConfig, type PortalClient } from '../lib/portal/index.js';
import { ReplayGuard } from '../lib/signing/replay-guard.js';
import { verifySignature } from '../lib/signing/standard-webhooks.js';
import { parseTypingRequest } from '../lib/typing/typing-request.js';

export interface TypingDependencies {
  config: Config;
  logger: Logger;
  credentials: Credentials;
  portals: PortalClient;
  replayGuard: ReplayGuard;
  coalescer: TypingCoalescer<SendTypingOutcome>;
}

/** `POST /typing`: a signed request from an internal service makes the bot show "typing..." in a dialog. */
export function createTypingHandler({
  config,
  logger,
  credentials,
  portals,
  replayGuard,
  coalescer,
}: TypingDependencies) {
  const route = {
    route: 'POST /typing',
    logger,
    maxBodyBytes: config.typingMaxBodyBytes,
    mediaType: 'application/json',
    messages: { ok: 'typing sent', refused: 'typing refused', failed: 'typing failed' },
  };
  return httpRoute(route, async ({ headers, body, context, annotate }) => {
    const signed = verifySignature({
      headers,
      body,
      keys: await credentials.typingKeys(),
      toleranceSeconds: config.signatureToleranceSeconds,
    });
    if (!replayGuard.reserve(signed.id, signed.timestamp + config.signatureToleranceSeconds)) {
      throw new ServiceError('SIGNATURE_INVALID', 'This webhook-id was already accepted.');
    }
    annotate({ webhookId: signed.id });
    try {
      const request = parseTypingRequest(body);
      annotate({ portal: request.portal, dialogId: request.dialogId, botId: request.botId });
      const portal = await credentials.portal(request.portal);
      if (!portal) throw new ServiceError('PORTAL_UNKNOWN', `No credentials are stored for portal ${request.portal}.`);

      const input = { portal, dialogId: request.dialogId, botId: request.botId };
      const outcome = await sendTyping(portals, input, Deadline.fromLambda(context), coalescer);
      annotate({
        botId: outcome.botId,
        upstreamStatus: outcome.coalesced ? undefined : outcome.upstreamStatus,
        attempts: outcome.attempts,
        refreshed: outcome.refreshed,
        coalesced: outcome.coalesced,
      });
      return json(200, { ok: true });
    } catch (error) {
      // Nothing was shown, so the sender's retry with the same webhook-id must not be taken for a replay.
      replayGuard.release(signed.id);
      throw error;
    }
  });
}

/** The handler's collaborators, built from the environment once per container and reused by every invocation. */
export function typingDependencies(env = process.env, overrides: Partial<TypingDependencies> = {}): TypingDependencies {
  const config = overrides.config ?? loadConfig(env);
  const logger = overrides.logger ?? serviceLogger(config, 'typing');
  const credentials = overrides.credentials ?? Credentials.fromConfig(config, logger);
  return {
    config,
    logger,
    credentials,
    portals: overrides.portals ?? portalClientFromConfig(config, credentials, logger, true),
    replayGuard: overrides.replayGuard ?? new ReplayGuard({ maxEntries: config.replayGuardMaxEntries }),
    coalescer: overrides.coalescer ?? new TypingCoalescer<SendTypingOutcome>({ windowMs: config.typingCoalesceMs }),
  };
}

export const handler = createTypingHandler(typingDependencies());
