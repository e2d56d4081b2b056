import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { signRequest } from '../lib/signing/standard-webhooks.js';

export function lambdaContext(remainingMs = 10_000): Context {
  const until = Date.now() + remainingMs;
  return {
    awsRequestId: randomUUID(),
    functionName: 'bitrix24-typing-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-central-1:123456789012:function:bitrix24-typing-test',
    memoryLimitInMB: '256',
    logGroupName: '/aws/lambda/test',
    logStreamName: 'test',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => Math.max(0, until - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** An HTTP API (payload 2.0) event as API Gateway delivers it. */
export function httpEvent(input: {
  method?: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  base64?: boolean;
  /** Query parameters, as API Gateway passes them (raw and parsed). */
  query?: Record<string, string>;
}): APIGatewayProxyEventV2 {
  const method = input.method ?? 'POST';
  const query = input.query && Object.keys(input.query).length > 0 ? input.query : undefined;
  return {
    version: '2.0',
    routeKey: `${method} ${input.path}`,
    rawPath: input.path,
    rawQueryString: query ? new URLSearchParams(query).toString() : '',
    ...(query ? { queryStringParameters: query } : {}),
    headers: { host: 'api.example.test', ...input.headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.test',
      domainPrefix: 'api',
      http: { method, path: input.path, protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'test' },
      requestId: randomUUID(),
      routeKey: `${method} ${input.path}`,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: input.body === undefined ? undefined : input.base64 ? Buffer.from(input.body).toString('base64') : input.body,
    isBase64Encoded: Boolean(input.base64),
  };
}

/** A signed `POST /typing` event. */
export function signedTypingEvent(
  body: unknown,
  key: string,
  options: { id?: string; timestamp?: number; base64?: boolean } = {},
) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const headers = signRequest({ body: text, key, id: options.id, timestamp: options.timestamp });
  return httpEvent({
    path: '/typing',
    body: text,
    base64: options.base64,
    headers: { 'content-type': 'application/json', ...headers },
  });
}
