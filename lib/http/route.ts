import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { ServiceError } from '../errors/index.js';
import type { LogFields, Logger } from '../logging/index.js';
import { headersOf, rawBody, requireMediaType } from './request.js';
import { problem, type HttpResponse } from './response.js';

export interface RouteOptions {
  /** `POST /typing`: names the route in every log line. */
  route: string;
  logger: Logger;
  maxBodyBytes: number;
  /** The one media type the route accepts (parameters such as charset allowed). */
  mediaType: string;
  /** The summary line's message for a success, a 4xx refusal and a 5xx failure. */
  messages: { ok: string; refused: string; failed: string };
}

/** What a use case receives: the request's bytes, already bounded and typed, and its own logger. */
export interface RouteRequest {
  headers: Record<string, string | undefined>;
  body: Buffer;
  context: Context;
  requestId: string;
  /** A child of the route's logger carrying `requestId` and `route`. */
  logger: Logger;
  /** Adds fields to the request's one summary line. */
  annotate(fields: LogFields): void;
  /** Fields for the summary line of a 5xx only (what an operator needs to act on it by hand). */
  onServerError(fields: () => LogFields): void;
}

export type LambdaHttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<HttpResponse>;

/**
 * The ceremony every route shares, so a function file holds only its use case: the body limit and media type,
 * a per-request child logger, one summary log line per request (info for answers below 500, error above), and
 * every thrown error rendered as problem+json with its status from the error catalogue.
 */
export function httpRoute(
  options: RouteOptions,
  useCase: (request: RouteRequest) => Promise<HttpResponse>,
): LambdaHttpHandler {
  return async function handler(event, context) {
    const started = Date.now();
    const requestId = context.awsRequestId;
    const logger = options.logger.child({ requestId, route: options.route });
    const summary: LogFields = {};
    let serverErrorFields: (() => LogFields) | undefined;
    try {
      const headers = headersOf(event);
      const body = rawBody(event, options.maxBodyBytes);
      requireMediaType(headers, options.mediaType);
      const response = await useCase({
        headers,
        body,
        context,
        requestId,
        logger,
        annotate: (fields) => Object.assign(summary, fields),
        onServerError: (fields) => {
          serverErrorFields = fields;
        },
      });
      logger.info(options.messages.ok, {
        ...summary,
        outcome: 'OK',
        status: response.statusCode,
        durationMs: Date.now() - started,
      });
      return response;
    } catch (error) {
      const response = problem(error, requestId);
      const known = error instanceof ServiceError ? error : undefined;
      const fields = {
        ...summary,
        outcome: known?.code ?? 'INTERNAL_ERROR',
        status: response.statusCode,
        upstreamStatus: known?.upstreamStatus,
        upstreamCode: known?.upstreamCode,
        attempts: known?.attempts,
        durationMs: Date.now() - started,
      };
      if (response.statusCode >= 500)
        logger.error(options.messages.failed, { ...fields, ...serverErrorFields?.(), error });
      else logger.info(options.messages.refused, fields);
      return response;
    }
  };
}
