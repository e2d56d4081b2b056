/**
 * DynamoDB round trips: what one `/typing` request waits for on the shared-state table, counted on the wire by
 * a pass-through proxy in front of moto (bench/dynamodb-wire.ts), so the count does not depend on the code
 * under test. Requests are sent one at a time, so every request the proxy sees belongs to the one in flight.
 */
import type { Container } from '../container.js';
import type { BenchContext } from '../context.js';
import { byOperation, sequentialDepth, startDynamoDBWire, type DynamoDBWire } from '../dynamodb-wire.js';
import { typingEvent } from '../events.js';
import { check, sectionRows, type Row, type StageReport } from '../report.js';
import { TARGET } from '../targets.js';
import type { Sent, TypingTarget } from '../worker.js';

const WARM_REQUESTS = 20;
const row = sectionRows('DynamoDB round trips');

interface Observed {
  sent: Sent;
  requests: number;
  operations: string;
  depth: number;
}

export async function stateRoundTrips(bench: BenchContext): Promise<StageReport> {
  // A portal of its own with the common bucket (50 + 2/s), whose budget item does not exist yet.
  const seeded = await bench.seedPortal({ burst: 50, drainPerSecond: 2, domain: 'trips.bitrix24.test' });
  const wire = await startDynamoDBWire(bench.moto.url);
  bench.onClose(() => wire.close());
  const container = await bench.startContainer({ dynamodbEndpoint: wire.url });
  const target = seeded.target;
  bench.say('  DynamoDB requests per /typing…');
  const first = await observe(container, wire, target, 'chat3000');
  const warm: Observed[] = [];
  for (let i = 1; i <= WARM_REQUESTS; i += 1) warm.push(await observe(container, wire, target, `chat${3000 + i}`));
  const coalesced = await observe(container, wire, target, 'chat3000');
  const original = typingEvent(target, 'chat4000');
  const answered = await observe(container, wire, target, 'chat4000', original);
  const repeat = await observe(container, wire, target, 'chat4000', original);
  await container.stop();

  const deepest = Math.max(...warm.map((o) => o.depth));
  const counts = [...new Set(warm.map((o) => o.requests))].join(' or ');
  const allOk = [first, ...warm, coalesced, answered, repeat].every((o) => o.sent.status === 200);
  const sameAnswer = repeat.sent.body === answered.sent.body;
  const rows: Row[] = [
    row(
      `one warm /typing for a dialog not typed in within the window (${WARM_REQUESTS} in turn, each a portal call): requests on the wire; round trips one after another (the most of any)`,
      `${warm[0]!.operations} (${counts} per request); ${deepest}`,
      `≤ ${TARGET.stateRoundTrips} round trips`,
      check(deepest <= TARGET.stateRoundTrips && allOk),
    ),
    row(
      `the first /typing of a fresh container, on a portal whose budget item does not exist yet`,
      `${first.operations}; ${first.depth} round trips`,
      '–',
      'info',
    ),
    row(
      `a dialog this container typed in within the window (coalesced from its memory)`,
      `${coalesced.operations}; ${coalesced.depth} round trips`,
      '–',
      'info',
    ),
    row(
      `a repeat of an answered webhook-id (${repeat.sent.status}, ${sameAnswer ? 'the same body' : 'another body'})`,
      `${repeat.operations}; ${repeat.depth} round trips`,
      '–',
      'info',
    ),
  ];
  return { rows, details: [DETAILS] };
}

async function observe(
  container: Container,
  wire: DynamoDBWire,
  target: TypingTarget,
  dialog: string,
  event = typingEvent(target, dialog),
): Promise<Observed> {
  wire.reset();
  const sent = await container.run<Sent>({ cmd: 'event', target, dialog, event });
  const requests = [...wire.requests];
  return {
    sent,
    requests: requests.length,
    operations: byOperation(requests) || 'none',
    depth: sequentialDepth(requests),
  };
}

const DETAILS =
  "### DynamoDB round trips\n\nOne fresh container of the typing bundle with the function's serverless.yml environment (coalescing window 10 s), its DynamoDB endpoint a pass-through proxy in front of moto that records each request's operation (`x-amz-target`) and the time it was in flight. Requests are sent one after another, so what the proxy sees between a request and its answer is that request's. \"Round trips one after another\" is the longest chain of DynamoDB requests each of which started after the previous one had answered: requests in flight together count once. The design: the idempotency record's conditional PutItem and the typing slot's conditional UpdateItem (window and budget in one write) go out together, then the portal call, then the answer's UpdateItem. A container's first request to a portal guesses the budget item's state, and a wrong guess costs one more UpdateItem (lib/state/dynamodb-state.ts).";
