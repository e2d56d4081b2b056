/**
 * One warm container: a child process that imports a function bundle (its module scope builds the runtime
 * from this process's environment, as Lambda's init does) and runs the scenarios the parent asks for over
 * IPC. Its stdout is a pipe the parent drains and counts, as Lambda's runtime captures a function's stdout.
 *
 * argv: <bundle file URL>; env BENCH_BASELINE_BUNDLE: a baseline's bundle (file URL) the warm scenario
 * compares the function with, imported beside it.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { performance } from 'node:perf_hooks';
import { lambdaContext } from '../devtools/lambda.js';
import { typingEvent, type TypingTarget } from './events.js';

export type { TypingTarget };

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<{ statusCode: number; body?: string }>;

export type Command =
  | { cmd: 'warm'; target: TypingTarget; warmup: number; count: number }
  | { cmd: 'sequential'; target: TypingTarget; count: number; spacingMs: number; dialog?: string }
  /** Like `sequential`, but each request leaves on its schedule whether or not the previous one was answered. */
  | { cmd: 'paced'; target: TypingTarget; count: number; spacingMs: number; dialog: string }
  | { cmd: 'concurrent'; target: TypingTarget; dialogs: string[] }
  /** One request signed by the parent, which may send the same one again (a repeat of its webhook-id). */
  | { cmd: 'event'; target: TypingTarget; dialog: string; event: APIGatewayProxyEventV2 };

export interface Sent {
  dialog: string;
  /** Epoch ms (the portal records its calls in epoch ms). */
  sentAt: number;
  doneAt: number;
  status: number;
  code?: string;
  body?: string;
}

const { handler } = (await import(process.argv[2]!)) as { handler: Handler };
const baselineBundle = process.env.BENCH_BASELINE_BUNDLE;
const baseline = baselineBundle ? ((await import(baselineBundle)) as { handler: Handler }).handler : undefined;

async function send(target: TypingTarget, dialog: string, prepared = typingEvent(target, dialog)): Promise<Sent> {
  const sentAt = Date.now();
  const response = await handler(prepared, lambdaContext());
  const code = response.statusCode === 200 ? undefined : (JSON.parse(response.body ?? '{}') as { code?: string }).code;
  const done = { dialog, sentAt, doneAt: Date.now(), status: response.statusCode, body: response.body };
  return code ? { ...done, code } : done;
}

/** What the warm-overhead stage measures: latencies (ms) of the handler, the baseline and the bare fetch. */
export interface WarmRun {
  handlerMs: number[];
  baselineMs: number[];
  fetchMs: number[];
  statuses: Record<string, number>;
  baselineStatuses: Record<string, number>;
  bareFailures: number;
}

/** Every order of the three, so each one runs first, second and last equally often and drift cancels. */
const ORDERS = [
  [0, 1, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
  [1, 0, 2],
  [0, 2, 1],
] as const;

/**
 * `/typing` through the handler vs the baseline handler (the same portal call and DynamoDB requests) vs the
 * bare `fetch` of the portal call alone, interleaved.
 */
async function warm(target: TypingTarget, warmup: number, count: number): Promise<WarmRun> {
  if (!baseline) throw new Error('the warm scenario needs BENCH_BASELINE_BUNDLE');
  const handlerMs: number[] = [];
  const baselineMs: number[] = [];
  const fetchMs: number[] = [];
  const statuses: Record<string, number> = {};
  const baselineStatuses: Record<string, number> = {};
  const bareBody = JSON.stringify({ DIALOG_ID: 'chat1', BOT_ID: target.botId, CLIENT_ID: target.clientId });
  const bareUrl = `${target.webhookUrl}imbot.chat.sendTyping.json`;
  let bareFailures = 0;
  const through = (run: Handler, times: number[], counts: Record<string, number>) => async (record: boolean) => {
    const prepared = typingEvent(target, 'chat1');
    const started = performance.now();
    const response = await run(prepared, lambdaContext());
    const took = performance.now() - started;
    if (record) {
      times.push(took);
      counts[response.statusCode] = (counts[response.statusCode] ?? 0) + 1;
    }
  };
  const viaFetch = async (record: boolean) => {
    const started = performance.now();
    const response = await fetch(bareUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: bareBody,
    });
    const out = (await response.json()) as { result?: unknown };
    const took = performance.now() - started;
    if (record) {
      fetchMs.push(took);
      if (out.result !== true) bareFailures += 1;
    }
  };
  const variants = [through(handler, handlerMs, statuses), through(baseline, baselineMs, baselineStatuses), viaFetch];
  for (let i = 0; i < warmup + count; i += 1) {
    for (const v of ORDERS[i % ORDERS.length]!) await variants[v]!(i >= warmup);
  }
  return { handlerMs, baselineMs, fetchMs, statuses, baselineStatuses, bareFailures };
}

async function sequential(target: TypingTarget, count: number, spacingMs: number, dialog?: string) {
  const sent: Sent[] = [];
  const started = Date.now();
  for (let i = 0; i < count; i += 1) {
    // Paced against the start, not the previous request, so the schedule does not stretch with latency.
    const due = started + i * spacingMs;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    sent.push(await send(target, dialog ?? `chat${100_000 + i}`));
  }
  return { sent, elapsedMs: Date.now() - started };
}

/** A caller asking on a timer: requests leave on schedule and may overlap when an answer takes longer. */
async function paced(target: TypingTarget, count: number, spacingMs: number, dialog: string) {
  const pending: Array<Promise<Sent>> = [];
  const started = Date.now();
  for (let i = 0; i < count; i += 1) {
    const due = started + i * spacingMs;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    pending.push(send(target, dialog));
  }
  const sent = await Promise.all(pending);
  return { sent, elapsedMs: Date.now() - started };
}

async function concurrent(target: TypingTarget, dialogs: string[]) {
  // Sign everything first, so the burst leaves as one batch.
  const prepared = dialogs.map((dialog) => ({ dialog, event: typingEvent(target, dialog) }));
  const sent = await Promise.all(prepared.map((p) => send(target, p.dialog, p.event)));
  return { sent };
}

process.on('message', (message: { id: number; command: Command } | { exit: true }) => {
  // A normal exit, so that --cpu-prof writes its profile.
  if ('exit' in message) process.exit(0);
  const { id, command } = message;
  const run = async () => {
    switch (command.cmd) {
      case 'warm':
        return warm(command.target, command.warmup, command.count);
      case 'sequential':
        return sequential(command.target, command.count, command.spacingMs, command.dialog);
      case 'paced':
        return paced(command.target, command.count, command.spacingMs, command.dialog);
      case 'concurrent':
        return concurrent(command.target, command.dialogs);
      case 'event':
        return send(command.target, command.dialog, command.event);
    }
  };
  run().then(
    (result) => process.send?.({ id, result }),
    (error: unknown) => process.send?.({ id, error: String((error as Error)?.stack ?? error) }),
  );
});
process.send?.({ ready: true });
