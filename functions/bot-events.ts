import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { Deadline, withinDeadline } from '../lib/deadline/index.js';
import { ServiceError } from '../lib/errors/index.js';
import { INSTALL_EVENTS, TYPING_EVENTS, toBotEvent, type BotEvent } from '../lib/events/bot-event.js';
import { parseFormBody } from '../lib/events/form-body.js';
import { createEventBridgePublisher, type EventPublisher } from '../lib/events/forwarding.js';
import { acceptInstall } from '../lib/events/install.js';
import { showTypingForEvent, type TypingResult } from '../lib/events/reactions.js';
import { verifyEventOrigin } from '../lib/events/verification.js';
import { headersOf, rawBody, requireMediaType } from '../lib/http/request.js';
import { json, problem, type HttpResponse } from '../lib/http/response.js';
import { createRuntime, type Runtime } from '../lib/runtime/index.js';
import { ReplayGuard } from '../lib/signing/replay-guard.js';

export interface BotEventsDeps {
  publisher?: EventPublisher;
  /** Remembers deliveries already acted on (per container). */
  deliveries?: ReplayGuard;
  fetch?: typeof fetch;
}

/**
 * `POST /bitrix/events`: bot events from Bitrix24 portals. Verifies the sender, shows typing in the dialog
 * and forwards the event, all inside the portal's answer budget: Bitrix24 does not retry a delivery and
 * deprioritises slow handlers, so every verified event gets 200 quickly, whatever happened downstream.
 */
export function createBotEventsHandler(runtime: Runtime, deps: BotEventsDeps = {}) {
  const { config, credentials, portals, logger } = runtime;
  const deliveries = deps.deliveries ?? new ReplayGuard({ maxEntries: 50_000 });
  const publisher = deps.publisher ?? (config.eventBusName ? createEventBridgePublisher(config.eventBusName) : undefined);
  const installPolicy = {
    oauthServer: config.oauthServer,
    allowedDomains: config.installAllowedDomains,
    timeoutMs: config.bitrix24TimeoutMs,
    fetch: deps.fetch,
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

  return async function handler(event: APIGatewayProxyEventV2, context: Context): Promise<HttpResponse> {
    const started = Date.now();
    const deadline = Deadline.fromLambda(context).within(config.eventsAnswerBudgetMs);
    const log: Record<string, unknown> = { requestId: context.awsRequestId, route: 'POST /bitrix/events' };
    let botEvent: BotEvent | undefined;
    try {
      const headers = headersOf(event);
      const body = rawBody(event, config.eventsMaxBodyBytes);
      requireMediaType(headers, 'application/x-www-form-urlencoded');
      botEvent = toBotEvent(parseFormBody(body));
      // auth[domain] is unverified input here: bound what reaches the log.
      Object.assign(log, { event: botEvent.name, portal: botEvent.auth.domain.slice(0, 253) });

      const installing = INSTALL_EVENTS.has(botEvent.name) && config.installsEnabled;
      // Verification reads secrets (and, for installs, calls the OAuth server): it gets the same answer budget,
      // so a slow Secrets Manager turns into a prompt 503 rather than a handler that outlives the portal's patience.
      const verified = botEvent;
      const portal = await withinDeadline(
        installing ? acceptInstall(verified, { credentials, logger, policy: installPolicy, deadline }) : verifyEventOrigin(credentials, verified),
        deadline,
        () => new ServiceError('CREDENTIALS_UNAVAILABLE', 'The event could not be verified in time; retry shortly.', { retryAfterSeconds: 1 }),
      );

      const [typing, forwarded] = await Promise.all([
        TYPING_EVENTS.has(botEvent.name)
          ? showTypingForEvent(botEvent, portal, { portals, deliveries, logger, deadline, typing: runtime.typing })
          : Promise.resolve<TypingResult[]>([]),
        forward(botEvent, deadline),
      ]);
      if (botEvent.name === 'ONIMBOTDELETE') log.deletedBotId = String(botEvent.data.BOT_ID ?? '').slice(0, 20);
      logger.info('event accepted', { ...log, outcome: 'OK', status: 200, typing, forwarded, durationMs: Date.now() - started });
      return json(200, { ok: true });
    } catch (error) {
      const response = problem(error, context.awsRequestId);
      const known = error instanceof ServiceError ? error : undefined;
      const fields = { ...log, outcome: known?.code ?? 'INTERNAL_ERROR', status: response.statusCode, durationMs: Date.now() - started };
      // Bitrix24 will not deliver this event again: log what is needed to act on it by hand.
      if (response.statusCode >= 500) logger.error('event failed', { ...fields, replay: botEvent ? replayOf(botEvent) : undefined, error });
      else logger.info('event refused', fields);
      return response;
    }
  };
}

function replayOf(event: BotEvent): Record<string, unknown> {
  const params = (event.data.PARAMS ?? {}) as Record<string, unknown>;
  // Message and join events key their bots by BOT_ID; commands key theirs by command id, with BOT_ID inside.
  const entries = Object.entries((event.data.BOT ?? event.data.COMMAND ?? {}) as Record<string, unknown>).slice(0, 5);
  const bots = entries.map(([key, value]) => String((value as { BOT_ID?: unknown } | null)?.BOT_ID ?? key).slice(0, 20));
  return { event: event.name, portal: event.auth.domain, dialogId: params.DIALOG_ID, messageId: params.MESSAGE_ID, bots, ts: event.ts };
}

export const handler = createBotEventsHandler(createRuntime(process.env, {}, { refreshTokens: (config) => config.installsEnabled }));
