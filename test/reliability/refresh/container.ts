/**
 * One Lambda container in an OS process of its own, for the refresh tests. Bundled with esbuild by
 * harness.ts and started as `node <bundle>`; it shares nothing with its peers but Secrets Manager
 * (moto) and the loopback portal, exactly like two warm containers of the `/typing` function.
 *
 * Environment: what `typingDependencies` reads (CREDENTIALS_SOURCE, SECRETS_PREFIX, AWS_*), plus
 *   TYPING_KEY    the signing key for the request,
 *   TYPING_BODY   the `/typing` body (JSON),
 *   REMAINING_MS  the Lambda time left when the request arrives (the request's deadline).
 *
 * Protocol (JSON lines, tagged `container` so they stand out among the service's own log lines):
 *   stdout `{"container":"ready"}`                 once the runtime is built;
 *   stdin  `{"fireAt":<epoch ms>}`                  one invocation at that instant, so peers fire together;
 *   stdout `{"container":"result",status,body,...}` for each invocation, in order;
 *   stdin closed                                   the process exits once its invocations have answered.
 * A container is warm after its first invocation: its SDK client, connections and secret cache are reused,
 * exactly as in a warm Lambda container.
 */
import { createTypingHandler, typingDependencies } from '../../../functions/typing.js';
import { lambdaContext, signedTypingEvent } from '../../../devtools/lambda.js';
import { serveInvocations } from '../../support/container-loop.js';

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`container: ${name} is not set`);
  return value;
};

const key = required('TYPING_KEY');
const body = required('TYPING_BODY');
const remainingMs = Number(process.env.REMAINING_MS ?? 10_000);
const handler = createTypingHandler(typingDependencies(process.env));

serveInvocations(async () => {
  // Signed at fire time, as a caller would: the signature's timestamp is "now".
  const response = await handler(signedTypingEvent(body, key), lambdaContext(remainingMs));
  return { status: response.statusCode, body: response.body, headers: response.headers };
});
