/**
 * The DynamoDB requests every baseline makes for one `/typing` request, the same ones the service makes on its
 * table (the shapes Powertools Idempotency and lib/state send), written out by hand as plain request bodies:
 *  1. a conditional PutItem of the request's idempotency record, in parallel with
 *  2. a conditional UpdateItem of the portal's budget item (one admission, and the dialog's typing window),
 *  then the portal call, then
 *  3. an UpdateItem storing the answer on the idempotency record.
 * The baselines send them through the SDK (state-sdk.ts) or signed by hand (no-sdk.ts). No retry on a refused
 * condition, no fail-over, no waiting for an earlier request: the least a handler making these calls does.
 */
import type { PutItemCommandInput, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';

export interface StateRequest {
  webhookId: string;
  /** The request body, whose digest a repeat must match. */
  body: string;
  portal: string;
  dialog: string;
}

/** What a baseline answers, stored on the idempotency record for repeats. */
export interface Answer {
  statusCode: number;
  body: string;
}

/** The three requests one `/typing` sends, in the order they go out. */
export interface StateRequests {
  record: PutItemCommandInput;
  slot: UpdateItemCommandInput;
  answer: (answer: Answer) => UpdateItemCommandInput;
}

/** As the function's own settings: answers kept 600 s, a typing window of TYPING_COALESCE_MS (default 10 s). */
const TTL_SECONDS = 600;
const windowMs = () => Number(process.env.TYPING_COALESCE_MS || 10_000);
/** One admission every 1.25 ms at most: the baselines never refuse, they only write what an admission writes. */
const INTERVAL_MS = 1.25;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function stateRequests(request: StateRequest, now = Date.now()): StateRequests {
  const TableName = process.env.STATE_TABLE;
  const id = { S: `idempotency#${sha256(request.webhookId)}` };
  const validation = { S: sha256(request.body) };
  const expiration = { N: String(Math.ceil(now / 1000) + TTL_SECONDS) };
  const record: PutItemCommandInput = {
    TableName,
    Item: {
      id,
      expiration,
      status: { S: 'INPROGRESS' },
      in_progress_expiration: { N: String(now + 10_000) },
      validation,
    },
    ConditionExpression: 'attribute_not_exists(#id) OR #expiry < :now',
    ExpressionAttributeNames: { '#id': 'id', '#expiry': 'expiration' },
    ExpressionAttributeValues: { ':now': { N: String(now / 1000) } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
  // Its own item, so the baselines' admissions never move the service's bucket. A typing window is a
  // top-level attribute here: setting a path in a map needs the map to exist first.
  const coalescing = windowMs() > 0;
  const window: Record<string, string> = coalescing ? { '#window': `window ${request.dialog}` } : {};
  const slot: UpdateItemCommandInput = {
    TableName,
    Key: { id: { S: `baseline#budget#${request.portal}` } },
    UpdateExpression: `SET #tat = :tat, #expiry = :expiry${coalescing ? ', #window = :until' : ''}`,
    ConditionExpression: `(attribute_not_exists(#tat) OR #tat <= :latest)${
      coalescing ? ' AND (attribute_not_exists(#window) OR #window < :now)' : ''
    }`,
    ExpressionAttributeNames: { '#tat': 'tat', '#expiry': 'expiration', ...window },
    ExpressionAttributeValues: {
      ':tat': { N: String(now + INTERVAL_MS) },
      ':expiry': { N: String(Math.ceil(now / 1000) + 120) },
      ':latest': { N: String(now + 60_000) },
      ...(coalescing ? { ':until': { N: String(now + windowMs()) }, ':now': { N: String(now) } } : {}),
    },
    // Only what it set: the item collects a window per dialog (nothing prunes them), and returning them all
    // would make the baseline pay for a growing item the service keeps small.
    ReturnValues: 'UPDATED_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
  const answer = (answer: Answer): UpdateItemCommandInput => ({
    TableName,
    Key: { id },
    UpdateExpression: 'SET #expiry = :expiry, #status = :status, #data = :data, #validation = :validation',
    ExpressionAttributeNames: {
      '#expiry': 'expiration',
      '#status': 'status',
      '#data': 'data',
      '#validation': 'validation',
    },
    ExpressionAttributeValues: {
      ':expiry': expiration,
      ':status': { S: 'COMPLETED' },
      ':data': { M: { statusCode: { N: String(answer.statusCode) }, body: { S: answer.body } } },
      ':validation': validation,
    },
  });
  return { record, slot, answer };
}

/** Sends one of the requests above; how (SDK or hand-signed) is the baseline's business. */
export type StateSender = {
  put(input: PutItemCommandInput): Promise<unknown>;
  update(input: UpdateItemCommandInput): Promise<unknown>;
};

/** Record ‖ slot, then the work, then the answer: two round trips on the critical path, like the service. */
export function runOnce(sender: StateSender) {
  return async (request: StateRequest, work: () => Promise<Answer>): Promise<Answer> => {
    const requests = stateRequests(request);
    await Promise.all([sender.put(requests.record), sender.update(requests.slot)]);
    const answer = await work();
    await sender.update(requests.answer(answer));
    return answer;
  };
}
