import { createHash } from 'node:crypto';
import { loadConfig, type Config } from '../lib/config/index.js';
import { Deadline } from '../lib/deadline/index.js';
import { ServiceError } from '../lib/errors/index.js';
import { functionMetrics, functionTracing } from '../lib/http/observability.js';
import { json, type HttpResponse } from '../lib/http/response.js';
import { httpRoute } from '../lib/http/route.js';
import { sendTyping } from '../lib/imbot/send-typing.js';
import { TypingGate } from '../lib/imbot/typing-gate.js';
import { serviceLogger, type Logger } from '../lib/logging/index.js';
import type { Metrics } from '../lib/metrics/index.js';
import { Credentials, portalClientFromConfig, type PortalClient } from '../lib/portal/index.js';
import { verifyTypingSignature } from '../lib/portal/typing-signature.js';
import { createSharedState, type SharedState, type StoredAnswer } from '../lib/state/index.js';
import type { Tracing } from '../lib/tracing/index.js';
import { parseTypingRequest } from '../lib/typing/typing-request.js';

export interface TypingDependencies {
  config: Config;
  logger: Logger;
  credentials: Credentials;
  portals: PortalClient;
  /** Idempotency by webhook-id, across containers when the state table is configured. */
  state: SharedState;
  gate: TypingGate;
  /** Embedded-metric records in the log stream (README, "Metrics"). */
  metrics: Metrics;
  tracing: Tracing;
}

// Leaves the first request's own answer time to arrive before a repeat gives up waiting for it.
const REPEAT_WAIT_MARGIN_MS = 500;

/**
 * `POST /typing`: a signed request from an internal service makes the bot show "typing..." in a dialog.
 * Idempotent by `webhook-id`: a repeat (a caller's retry after a lost answer, or a captured request replayed)
 * gets the first answer again without a second portal call, whichever container it reaches.
 */
export function createTypingHandler(deps: TypingDependencies) {
  const { config, logger, credentials, portals, state, gate } = deps;
  const route = {
    route: 'POST /typing',
    logger,
    maxBodyBytes: config.typingMaxBodyBytes,
    mediaType: 'application/json',
    messages: { ok: 'typing sent', refused: 'typing refused', failed: 'typing failed' },
    metrics: deps.metrics,
    tracing: deps.tracing,
  };
  return httpRoute(route, async ({ headers, body, context, annotate }) => {
    // A signature no cached key matches makes a bounded re-read of the keys: a key just rotated in works at once.
    const signed = await verifyTypingSignature(credentials, {
      headers,
      body,
      toleranceSeconds: config.signatureToleranceSeconds,
      rereadMs: config.typingKeysRereadSeconds * 1000,
    });
    annotate({ webhookId: signed.id });
    const deadline = Deadline.fromLambda(context);
    const request = parseTypingRequest(body);
    annotate({
      portal: request.portal,
      dialogId: request.dialogId,
      botId: request.botId,
      durationSeconds: request.durationSeconds,
      // Not `status`: the summary line's `status` is the HTTP status of the answer.
      typingStatus: request.status,
    });
    const portal = await credentials.portal(request.portal);
    if (!portal) throw new ServiceError('PORTAL_UNKNOWN', `No credentials are stored for portal ${request.portal}.`);

    // The typing slot's round trip runs beside the idempotency record's: two round trips on the critical
    // path (record, slot | portal call | answer) instead of three. A repeat hands its slot back; copies of this
    // request sent at once share one slot, so the copy that does the work holds it whichever took it first.
    const idempotencyKey = `typing#${signed.id}`;
    const reservation = gate.reserve({ ...request, portal }, idempotencyKey);
    let used = false;
    const outcome = await state
      .runIdempotent(
        {
          key: idempotencyKey,
          payloadHash: createHash('sha256').update(body).digest('hex'),
          remainingMs: Math.max(0, deadline.remainingMs() - REPEAT_WAIT_MARGIN_MS),
          runsForMs: deadline.remainingMs(),
        },
        async () => {
          used = true;
          const out = await sendTyping(portals, { ...request, portal }, deadline, reservation);
          annotate({
            botId: out.botId,
            method: out.method,
            upstreamStatus: out.coalesced ? undefined : out.upstreamStatus,
            attempts: out.attempts,
            refreshed: out.refreshed,
            coalesced: out.coalesced,
          });
          // How long the indicator should show from now, so a caller knows when to ask again.
          const shows = out.indicatorSeconds === undefined ? {} : { indicatorSeconds: out.indicatorSeconds };
          return answerOf(json(200, { ok: true, ...shows }));
        },
      )
      .finally(() => (used ? undefined : reservation.cancel()));
    if (outcome.kind === 'conflict') {
      throw new ServiceError('WEBHOOK_ID_REUSED', 'This webhook-id was already used with another body.');
    }
    if (outcome.kind === 'in-progress') {
      throw new ServiceError('REQUEST_IN_PROGRESS', 'A request with this webhook-id is still running.', {
        retryAfterSeconds: Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)),
      });
    }
    if (outcome.replayed) annotate({ replayed: true });
    return { statusCode: outcome.answer.statusCode, headers: outcome.answer.headers ?? {}, body: outcome.answer.body };
  });
}

function answerOf(response: HttpResponse): StoredAnswer {
  return { statusCode: response.statusCode, headers: response.headers, body: String(response.body ?? '') };
}

/** The handler's collaborators, built from the environment once per container and reused by every invocation. */
export function typingDependencies(env = process.env, overrides: Partial<TypingDependencies> = {}): TypingDependencies {
  const config = overrides.config ?? loadConfig(env);
  const logger = overrides.logger ?? serviceLogger(config, 'typing');
  const metrics = overrides.metrics ?? functionMetrics(config, logger);
  const credentials = overrides.credentials ?? Credentials.fromConfig(config, logger, undefined, metrics);
  const state =
    overrides.state ??
    createSharedState({
      tableName: config.stateTable,
      callTimeoutMs: config.stateCallTimeoutMs,
      logger,
      metrics,
    });
  return {
    config,
    logger,
    credentials,
    portals: overrides.portals ?? portalClientFromConfig(config, credentials, logger, true, metrics),
    state,
    gate: overrides.gate ?? TypingGate.fromConfig(config, state, metrics),
    metrics,
    tracing: overrides.tracing ?? functionTracing(config),
  };
}

export const handler = createTypingHandler(typingDependencies());
