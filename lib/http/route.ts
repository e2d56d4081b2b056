import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { ServiceError } from '../errors/index.js';
import type { LogFields, Logger } from '../logging/index.js';
import { noMetrics, type Metrics } from '../metrics/index.js';
import { noTracing, type TraceAnnotations, type Tracing } from '../tracing/index.js';
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
  /** Where the request's metrics go (requests by outcome, 5xx, latency, cold start); nowhere when omitted. */
  metrics?: Metrics;
  /** Runs each request in a trace subsegment; untraced when omitted. */
  tracing?: Tracing;
}

/** What a use case receives: the request's bytes, already bounded and typed, and its own logger. */
export interface RouteRequest {
  headers: Record<string, string | undefined>;
  /** The URL's query parameters. They may carry a credential (a v2 bot's `eventsToken`): never log them. */
  query: Record<string, string | undefined>;
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
 * a per-request child logger, one summary log line per request (info for answers below 500, error above), the
 * request's metrics and trace, and every thrown error rendered as problem+json with its status from the error
 * catalogue.
 */
export function httpRoute(
  options: RouteOptions,
  useCase: (request: RouteRequest) => Promise<HttpResponse>,
): LambdaHttpHandler {
  const metrics = options.metrics ?? noMetrics;
  let coldStart = true;
  /** The request's metrics and trace labels, from the same outcome and status as its summary line. */
  const measure = (fields: LogFields, annotate: (labels: TraceAnnotations) => void, logger: Logger) => {
    const outcome = String(fields.outcome);
    const status = Number(fields.status);
    annotate({ outcome, status, portal: typeof fields.portal === 'string' ? fields.portal : undefined });
    try {
      if (coldStart) metrics.add('ColdStart');
      coldStart = false;
      metrics.add('Requests');
      metrics.add('ServerErrors', status >= 500 ? 1 : 0);
      metrics.add('Latency', Number(fields.durationMs));
      metrics.publish({ route: options.route, outcome });
    } catch (error) {
      // A metric the format refuses must never cost the caller its answer.
      logger.warn('metrics not published', { error });
    }
  };
  const tracing = options.tracing ?? noTracing;
  return (event, context) => tracing.request(options.route, (annotate) => serve(event, context, annotate));

  async function serve(
    event: APIGatewayProxyEventV2,
    context: Context,
    annotate: (labels: TraceAnnotations) => void,
  ): Promise<HttpResponse> {
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
        query: event.queryStringParameters ?? {},
        body,
        context,
        requestId,
        logger,
        annotate: (fields) => Object.assign(summary, fields),
        onServerError: (fields) => {
          serverErrorFields = fields;
        },
      });
      const fields = { ...summary, outcome: 'OK', status: response.statusCode, durationMs: Date.now() - started };
      logger.info(options.messages.ok, fields);
      measure(fields, annotate, logger);
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
        reason: known?.reason,
        durationMs: Date.now() - started,
      };
      if (response.statusCode >= 500)
        logger.error(options.messages.failed, { ...fields, ...serverErrorFields?.(), error });
      else logger.info(options.messages.refused, fields);
      measure(fields, annotate, logger);
      return response;
    }
  }
}
