import { loadConfig, type Config } from '../lib/config/index.js';
import { Deadline, withinDeadline } from '../lib/deadline/index.js';
import { ServiceError } from '../lib/errors/index.js';
import { TYPING_EVENTS, toBotEvent, type BotEvent } from '../lib/events/bot-event.js';
import { isV2Event, v2BotId, v2DialogId } from '../lib/events/v2-event.js';
import { EventVerifier } from '../lib/events/event-verifier.js';
import { parseFormBody } from '../lib/events/form-body.js';
import { createEventBridgePublisher, type EventPublisher } from '../lib/events/forwarding.js';
import { showTypingForEvent, type EventTypingResult } from '../lib/events/reactions.js';
import { boundedText } from '../lib/events/verification.js';
import { functionMetrics, functionTracing } from '../lib/http/observability.js';
import { json } from '../lib/http/response.js';
import { httpRoute } from '../lib/http/route.js';
import { TypingGate } from '../lib/imbot/typing-gate.js';
import { serviceLogger, type Logger } from '../lib/logging/index.js';
import type { Metrics } from '../lib/metrics/index.js';
import { Credentials, portalClientFromConfig, type PortalClient } from '../lib/portal/index.js';
import { createSharedState, type SharedState } from '../lib/state/index.js';
import type { Tracing } from '../lib/tracing/index.js';

export interface BotEventsDependencies {
  config: Config;
  logger: Logger;
  credentials: Credentials;
  portals: PortalClient;
  gate: TypingGate;
  /** Deliveries already acted on, across containers when the state table is configured. */
  state: SharedState;
  publisher: EventPublisher | undefined;
  /** Verification (installs included), with its per-container lookup budget. */
  verifier: EventVerifier;
  /** Embedded-metric records in the log stream (README, "Metrics"). */
  metrics: Metrics;
  tracing: Tracing;
}

/**
 * `POST /bitrix/events`: bot events from Bitrix24 portals. Verifies the sender, shows typing in the dialog
 * and forwards the event, all inside the portal's answer budget: Bitrix24 does not retry a delivery and
 * deprioritises slow handlers, so every verified event gets 200 quickly, whatever happened downstream.
 */
export function createBotEventsHandler(deps: BotEventsDependencies) {
  const { config, portals, logger, publisher, verifier } = deps;
  const route = {
    route: 'POST /bitrix/events',
    logger,
    maxBodyBytes: config.eventsMaxBodyBytes,
    mediaType: 'application/x-www-form-urlencoded',
    messages: { ok: 'event accepted', refused: 'event refused', failed: 'event failed' },
    metrics: deps.metrics,
    tracing: deps.tracing,
  };

  const forward = async (event: BotEvent, deadline: Deadline): Promise<string> => {
    if (!publisher) return 'off';
    try {
      await publisher.publish(event, deadline.remainingMs());
      return 'OK';
    } catch (error) {
      logger.error('forwarding to the event bus failed', { event: event.name, portal: event.auth.domain, error });
      return 'FAILED';
    }
  };

  return httpRoute(route, async ({ body, query, context, annotate, onServerError }) => {
    const deadline = Deadline.fromLambda(context).within(config.eventsAnswerBudgetMs);
    // A webhook portal's v2 bots post to the URL registered for them, which carries their proof (never logged).
    const urlToken = query.eventsToken || undefined;
    const unverified = { ...toBotEvent(parseFormBody(body)), ...(urlToken ? { urlToken } : {}) };
    // auth[domain] is unverified input here: bound what reaches the log.
    annotate({ event: unverified.name, portal: boundedText(unverified.auth.domain, 253) });
    // Bitrix24 will not deliver this event again: a 5xx logs what is needed to act on it by hand.
    onServerError(() => ({ replay: replayOf(unverified) }));

    // Verification reads secrets (and, for installs, calls the OAuth server): it gets the same answer budget,
    // so a slow Secrets Manager turns into a prompt 503 rather than a handler that outlives the portal's patience.
    const { portal, event } = await withinDeadline(
      verifier.verify(unverified, deadline),
      deadline,
      () =>
        new ServiceError('CREDENTIALS_UNAVAILABLE', 'The event could not be verified in time; retry shortly.', {
          retryAfterSeconds: 1,
        }),
    );

    const [typing, forwarded] = await Promise.all([
      TYPING_EVENTS.has(event.name)
        ? showTypingForEvent(event, portal, {
            portals,
            deliveries: deps.state,
            deliveryMemoryMs: config.deliveryMemorySeconds * 1000,
            logger,
            deadline,
            gate: deps.gate,
            typingWherePlatformDoesNot: config.typingWherePlatformDoesNot,
          })
        : Promise.resolve<EventTypingResult[]>([]),
      forward(event, deadline),
    ]);
    if (event.name === 'ONIMBOTDELETE') annotate({ deletedBotId: String(event.data.BOT_ID ?? '').slice(0, 20) });
    if (event.name === 'ONIMBOTV2DELETE') annotate({ deletedBotId: v2BotId(event) });
    annotate({ typing, forwarded });
    return json(200, { ok: true });
  });
}

// Unverified input: every field is bounded, so a hostile body cannot make the error line long.
function replayOf(event: BotEvent): Record<string, unknown> {
  if (isV2Event(event)) {
    const message = (event.data.message ?? {}) as Record<string, unknown>;
    return {
      event: event.name,
      portal: boundedText(event.auth.domain, 253),
      dialogId: boundedText(v2DialogId(event), 64),
      messageId: boundedText(message.id, 32),
      bots: [v2BotId(event)].filter(Boolean),
      ts: boundedText(event.ts, 32),
    };
  }
  const params = (event.data.PARAMS ?? {}) as Record<string, unknown>;
  // Message and join events key their bots by BOT_ID; commands key theirs by command id, with BOT_ID inside.
  const entries = Object.entries((event.data.BOT ?? event.data.COMMAND ?? {}) as Record<string, unknown>).slice(0, 5);
  const bots = entries.map(([key, value]) =>
    String((value as { BOT_ID?: unknown } | null)?.BOT_ID ?? key).slice(0, 20),
  );
  return {
    event: event.name,
    portal: boundedText(event.auth.domain, 253),
    dialogId: boundedText(params.DIALOG_ID, 64),
    messageId: boundedText(params.MESSAGE_ID, 32),
    bots,
    ts: boundedText(event.ts, 32),
  };
}

/** The handler's collaborators, built from the environment once per container and reused by every invocation. */
export function botEventsDependencies(
  env = process.env,
  overrides: Partial<BotEventsDependencies> = {},
): BotEventsDependencies {
  const config = overrides.config ?? loadConfig(env);
  const logger = overrides.logger ?? serviceLogger(config, 'botEvents');
  const metrics = overrides.metrics ?? functionMetrics(config, logger);
  const credentials = overrides.credentials ?? Credentials.fromConfig(config, logger, undefined, metrics);
  const state =
    overrides.state ??
    createSharedState({ tableName: config.stateTable, callTimeoutMs: config.stateCallTimeoutMs, logger, metrics });
  return {
    config,
    logger,
    credentials,
    // Only with installs on may this function write secrets, and so spend a rotating refresh token.
    portals: overrides.portals ?? portalClientFromConfig(config, credentials, logger, config.installsEnabled, metrics),
    state,
    gate: overrides.gate ?? TypingGate.fromConfig(config, state, metrics),
    metrics,
    tracing: overrides.tracing ?? functionTracing(config),
    publisher:
      'publisher' in overrides
        ? overrides.publisher
        : config.eventBusName
          ? createEventBridgePublisher(config.eventBusName)
          : undefined,
    verifier:
      overrides.verifier ??
      new EventVerifier({
        credentials,
        logger,
        portalDomains: config.portalDomains,
        unknownLookups: { burst: config.unknownPortalLookupBurst, perSecond: config.unknownPortalLookupsPerSecond },
        refusalFloorMs: config.eventsRefusalFloorMs,
        install: config.installsEnabled
          ? {
              oauthServer: config.oauthServer,
              allowedDomains: config.installAllowedDomains,
              timeoutMs: config.bitrix24TimeoutMs,
              allowLoopbackEndpoints: config.allowLoopbackEndpoints,
            }
          : undefined,
      }),
  };
}

export const handler = createBotEventsHandler(botEventsDependencies());
