import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ServiceError } from '../errors/index.js';

export type HttpResponse = APIGatewayProxyStructuredResultV2 & { statusCode: number; headers: Record<string, string> };

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * An RFC 9457 problem document. Unknown errors become a bare 500: their messages may carry internals, so the
 * caller gets only the request id to quote.
 */
export function problem(error: unknown, requestId: string): HttpResponse {
  const known =
    error instanceof ServiceError ? error : new ServiceError('INTERNAL_ERROR', 'Something went wrong on our side.');
  const headers: Record<string, string> = { 'content-type': 'application/problem+json', 'cache-control': 'no-store' };
  if (known.retryAfterSeconds !== undefined) headers['retry-after'] = String(known.retryAfterSeconds);
  const body: Record<string, unknown> = {
    title: known.title,
    status: known.status,
    detail: known.message,
    code: known.code,
    requestId,
  };
  if (known.upstreamCode !== undefined) body.upstreamCode = known.upstreamCode;
  return { statusCode: known.status, headers, body: JSON.stringify(body) };
}
