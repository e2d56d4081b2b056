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
import { createInterface } from 'node:readline';
import { createTypingHandler, typingDependencies } from '../../../functions/typing.js';
import { lambdaContext, signedTypingEvent } from '../../../devtools/lambda.js';

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`container: ${name} is not set`);
  return value;
};

const key = required('TYPING_KEY');
const body = required('TYPING_BODY');
const remainingMs = Number(process.env.REMAINING_MS ?? 10_000);
const handler = createTypingHandler(typingDependencies(process.env));

const emit = (record: Record<string, unknown>, then?: () => void): void => {
  process.stdout.write(JSON.stringify({ ...record, pid: process.pid }) + '\n', then);
};

emit({ container: 'ready' });

let pending = 0;
let closed = false;
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const { fireAt } = JSON.parse(line) as { fireAt: number };
  pending += 1;
  setTimeout(() => void invoke(), Math.max(0, fireAt - Date.now()));
});
lines.on('close', () => {
  closed = true;
  if (pending === 0) process.exit(0);
});

async function invoke(): Promise<void> {
  // Signed at fire time, as a caller would: the signature's timestamp is "now".
  const event = signedTypingEvent(body, key);
  const context = lambdaContext(remainingMs);
  const firedAt = Date.now();
  const started = performance.now();
  let record: Record<string, unknown>;
  try {
    const response = await handler(event, context);
    record = { status: response.statusCode, body: response.body, headers: response.headers };
  } catch (error) {
    // The handler must never throw; if it does, the parent sees it as status 0.
    record = { status: 0, thrown: String(error) };
  }
  const elapsedMs = Math.round((performance.now() - started) * 10) / 10;
  pending -= 1;
  // Exit once the last line is flushed: the SDK's keep-alive sockets would otherwise keep the process up.
  emit({ container: 'result', ...record, firedAt, elapsedMs }, () => {
    if (closed && pending === 0) process.exit(0);
  });
}
