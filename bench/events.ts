import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { signRequest } from '../lib/signing/standard-webhooks.js';

/** Who a benchmark request is for, and the bare portal call the warm stage compares the handler against. */
export interface TypingTarget {
  /** The `whsec_` key requests are signed with. */
  key: string;
  portal: string;
  botId: number;
  webhookUrl: string;
  clientId: string;
}

/** A Lambda context with a 10 s budget (the function's timeout in serverless.yml). */
export function context(): Context {
  const until = Date.now() + 10_000;
  return {
    awsRequestId: `bench-${Math.random().toString(36).slice(2)}`,
    functionName: 'bench',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-central-1:123456789012:function:bench',
    memoryLimitInMB: '256',
    logGroupName: '/aws/lambda/bench',
    logStreamName: 'bench',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => Math.max(0, until - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A signed `POST /typing` as an HTTP API (payload 2.0) delivers it. */
export function event(target: TypingTarget, dialog: string): APIGatewayProxyEventV2 {
  const body = JSON.stringify({ portal: target.portal, dialogId: dialog, botId: target.botId });
  const headers = { host: 'api.example.test', 'content-type': 'application/json', ...signRequest({ body, key: target.key }) };
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: 'POST /typing',
    rawPath: '/typing',
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.test',
      domainPrefix: 'api',
      http: { method: 'POST', path: '/typing', protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'bench' },
      requestId: `r${now}${Math.random().toString(36).slice(2, 8)}`,
      routeKey: 'POST /typing',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body,
    isBase64Encoded: false,
  };
}
