import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { Deadline } from '../lib/deadline/index.js';
import { ServiceError } from '../lib/errors/index.js';
import { sendTyping } from '../lib/imbot/send-typing.js';
import { headersOf, rawBody, requireMediaType } from '../lib/http/request.js';
import { json, problem, type HttpResponse } from '../lib/http/response.js';
import { createRuntime, type Runtime } from '../lib/runtime/index.js';
import { verifySignature } from '../lib/signing/standard-webhooks.js';
import { parseTypingRequest } from '../lib/typing/typing-request.js';

/** `POST /typing`: a signed request from an internal service makes the bot show "typing..." in a dialog. */
export function createTypingHandler(runtime: Runtime) {
  const { config, credentials, portals, replayGuard, typing } = runtime;

  return async function handler(event: APIGatewayProxyEventV2, context: Context): Promise<HttpResponse> {
    const started = Date.now();
    const requestId = context.awsRequestId;
    const log: Record<string, unknown> = { requestId, route: 'POST /typing' };
    let reservedId: string | undefined;
    try {
      const headers = headersOf(event);
      const body = rawBody(event, config.typingMaxBodyBytes);
      requireMediaType(headers, 'application/json');

      const signed = verifySignature({
        headers,
        body,
        keys: await credentials.typingKeys(),
        toleranceSeconds: config.signatureToleranceSeconds,
      });
      if (!replayGuard.reserve(signed.id, signed.timestamp + config.signatureToleranceSeconds)) {
        throw new ServiceError('SIGNATURE_INVALID', 'This webhook-id was already accepted.');
      }
      reservedId = signed.id;
      log.webhookId = signed.id;

      const request = parseTypingRequest(body);
      Object.assign(log, { portal: request.portal, dialogId: request.dialogId, botId: request.botId });
      const portal = await credentials.portal(request.portal);
      if (!portal) throw new ServiceError('PORTAL_UNKNOWN', `No credentials are stored for portal ${request.portal}.`);

      const outcome = await sendTyping(portals, { portal, dialogId: request.dialogId, botId: request.botId }, Deadline.fromLambda(context), typing);
      Object.assign(log, {
        botId: outcome.botId,
        upstreamStatus: outcome.coalesced ? undefined : outcome.upstreamStatus,
        attempts: outcome.attempts,
        refreshed: outcome.refreshed,
        coalesced: outcome.coalesced,
      });
      reservedId = undefined;
      runtime.logger.info('typing sent', { ...log, outcome: 'OK', status: 200, durationMs: Date.now() - started });
      return json(200, { ok: true });
    } catch (error) {
      // Nothing was shown, so the sender's retry with the same webhook-id must not be taken for a replay.
      if (reservedId !== undefined) replayGuard.release(reservedId);
      const response = problem(error, requestId);
      const known = error instanceof ServiceError ? error : undefined;
      const fields = {
        ...log,
        outcome: known?.code ?? 'INTERNAL_ERROR',
        status: response.statusCode,
        upstreamStatus: known?.upstreamStatus,
        upstreamCode: known?.upstreamCode,
        attempts: known?.attempts,
        durationMs: Date.now() - started,
      };
      if (response.statusCode >= 500) runtime.logger.error('typing failed', { ...fields, error });
      else runtime.logger.info('typing refused', fields);
      return response;
    }
  };
}

export const handler = createTypingHandler(createRuntime());
