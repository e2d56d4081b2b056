/**
 * One Lambda container of either function in an OS process of its own, for the scale-out suite. Bundled with
 * esbuild by harness.ts and started as `node <bundle>`; it runs the function's real handler, built at module scope
 * from its environment exactly as deployed, and shares nothing with its peers but Secrets Manager (moto), the
 * state table (moto) and the loopback portal.
 *
 * Environment: what the function reads (CREDENTIALS_SOURCE, SECRETS_PREFIX, STATE_TABLE, AWS_*), plus
 *   FUNCTION      `typing` or `botEvents`: the function this container runs,
 *   REMAINING_MS  the Lambda time left when an invocation arrives.
 *
 * Protocol (JSON lines, tagged `container` so they stand out among the service's own log lines):
 *   stdout `{"container":"ready"}`                   once the function's module is loaded;
 *   stdin  `{"fireAt":<epoch ms>,"event":{...}}`     one invocation with that API Gateway event at that instant;
 *   stdout `{"container":"result",status,body,...}`   for each invocation, in order;
 *   stdin closed                                     the process exits once its invocations have answered.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaContext } from '../../../devtools/lambda.js';
import { serveInvocations } from '../../support/container-loop.js';

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const remainingMs = Number(process.env.REMAINING_MS ?? 10_000);
// Only the named function's module runs, as in its own bundle: its handler is built at module scope.
const { handler } = (
  process.env.FUNCTION === 'botEvents'
    ? await import('../../../functions/bot-events.js')
    : await import('../../../functions/typing.js')
) as { handler: Handler };

serveInvocations<{ fireAt: number; event: APIGatewayProxyEventV2 }>(async ({ event }) => {
  const response = await handler(event, lambdaContext(remainingMs));
  return { status: response.statusCode, body: response.body };
});
