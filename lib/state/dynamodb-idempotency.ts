/**
 * Idempotent requests on the shared table, kept as Powertools Idempotency keeps them (its attribute names and
 * life cycle, not its key hashing: a conditional put marks the request in progress, its answer is stored when it
 * ends, the record is deleted when the work throws, a repeat with another payload hash is a conflict) in about the lines its adapter needed around it. Written here
 * rather than on Powertools because the bench measured Powertools adding 10–25 ms to every cold start (its modules
 * and first call; 49 KB of bundle), and because what this service needs on top (wait for a request still running,
 * bound every call in time, tell "DynamoDB failed before the work ran" from "only storing its answer failed") was
 * most of the adapter anyway. The bench keeps a Powertools baseline, (b+P), to show the difference.
 *
 * The record (`idempotency#<sha-256 of the key>`): `status` (INPROGRESS or COMPLETED), `validation` (the payload
 * hash), `in_progress_expiration` (ms: the first request's deadline; past it a repeat may run the work), `data`
 * (the answer, JSON), `expiration` (s, TTL).
 */
import { createHash } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
  type PutItemCommandInput,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { sleep } from '../deadline/index.js';
import type { Logger } from '../logging/index.js';
import { bounded, IDEMPOTENCY_KEY_PREFIX, num, str, type Item } from './dynamodb-items.js';
import {
  StateUnavailableError,
  type IdempotentOutcome,
  type IdempotentRequest,
  type StoredAnswer,
} from './shared-state.js';

export interface IdempotencyOptions {
  client: DynamoDBClient;
  tableName: string;
  callTimeoutMs: number;
  /** How long a finished request's answer is kept for its repeats. */
  ttlSeconds: number;
  /** How often a repeat looks again while the first request runs. */
  pollMs: number;
  /** What an `in-progress` outcome tells the caller to wait. */
  inProgressRetryAfterMs: number;
  logger: Logger;
  now?: () => number;
}

export type IdempotencyRunner = (
  request: IdempotentRequest,
  work: () => Promise<StoredAnswer>,
) => Promise<IdempotentOutcome>;

const IN_PROGRESS = 'INPROGRESS';
const COMPLETED = 'COMPLETED';

/** What a refused put found: another request's record, finished or still running. */
type Existing =
  | { kind: 'conflict' }
  | { kind: 'completed'; answer: StoredAnswer }
  | { kind: 'running' }
  /** The put was refused but the record it met is gone or lapsed by now: try again at once. */
  | { kind: 'gone' };

export function dynamodbIdempotency(options: IdempotencyOptions): IdempotencyRunner {
  const now = options.now ?? Date.now;
  const send = <T>(call: (signal: AbortSignal) => Promise<T>) => bounded(options.callTimeoutMs, call);

  /** Marks the request in progress unless a live record holds its key; refused, returns what holds it. */
  async function begin(id: string, request: IdempotentRequest, runsUntil: number): Promise<Existing | undefined> {
    const at = now();
    const put = new PutItemCommand(beginPut(options, id, request, runsUntil, at));
    try {
      await send((abortSignal) => options.client.send(put, { abortSignal }));
      return undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return existing(error.Item, request, at);
      throw new StateUnavailableError('runIdempotent', { cause: error });
    }
  }

  /** Stores the answer, only on the record this request still holds (a repeat may have taken over a lapsed one). */
  async function finish(id: string, answer: StoredAnswer, runsUntil: number): Promise<void> {
    const update = new UpdateItemCommand(finishUpdate(options, id, answer, runsUntil, now()));
    await send((abortSignal) => options.client.send(update, { abortSignal }));
  }

  /** The work threw: forget the request so a retry can run it. A record this request no longer holds stays. */
  async function abandon(id: string, runsUntil: number): Promise<void> {
    const remove = new DeleteItemCommand({
      TableName: options.tableName,
      Key: { id: str(id) },
      ConditionExpression: '#status = :inProgress AND #running = :deadline',
      ExpressionAttributeNames: { '#status': 'status', '#running': 'in_progress_expiration' },
      ExpressionAttributeValues: { ':inProgress': str(IN_PROGRESS), ':deadline': num(runsUntil) },
    });
    await send((abortSignal) => options.client.send(remove, { abortSignal })).catch((error: unknown) => {
      // Until the record's in-progress time lapses, repeats are told to wait; then they run the work.
      if (!(error instanceof ConditionalCheckFailedException))
        options.logger.warn('idempotency record not released', { error });
    });
  }

  return async function runIdempotent(request, work) {
    const id = `${IDEMPOTENCY_KEY_PREFIX}#${createHash('sha256').update(request.key).digest('hex')}`;
    const started = now();
    const deadline = started + request.remainingMs;
    const runsUntil = started + Math.max(request.runsForMs ?? request.remainingMs, 1);
    for (;;) {
      const found = await begin(id, request, runsUntil);
      if (found === undefined) return runFirst(id, runsUntil, work);
      if (found.kind === 'conflict') return { kind: 'conflict' };
      if (found.kind === 'completed') return { kind: 'done', answer: found.answer, replayed: true };
      if (now() + options.pollMs >= deadline) {
        return { kind: 'in-progress', retryAfterMs: options.inProgressRetryAfterMs };
      }
      await sleep(options.pollMs);
    }
  };

  async function runFirst(
    id: string,
    runsUntil: number,
    work: () => Promise<StoredAnswer>,
  ): Promise<IdempotentOutcome> {
    let answer: StoredAnswer;
    try {
      // A JSON round trip drops undefined fields and proves the answer can be stored at all.
      answer = JSON.parse(JSON.stringify(await work())) as StoredAnswer;
    } catch (error) {
      await abandon(id, runsUntil);
      throw error;
    }
    try {
      await finish(id, answer, runsUntil);
    } catch (error) {
      // The work ran; only storing its answer failed. Running it again elsewhere would act twice, so this caller
      // gets its answer and repeats see "in progress" until the record's in-progress time lapses.
      options.logger.warn('idempotency answer not stored', { error });
    }
    return { kind: 'done', answer, replayed: false };
  }
}

/** What the record that refused a put says about this request, judged at `at`. */
function existing(item: Item | undefined, request: IdempotentRequest, at: number): Existing {
  if (item === undefined) return { kind: 'gone' };
  if (item.validation?.S !== request.payloadHash) return { kind: 'conflict' };
  if (item.status?.S === COMPLETED && item.data?.S !== undefined) {
    try {
      return { kind: 'completed', answer: JSON.parse(item.data.S) as StoredAnswer };
    } catch (error) {
      throw new StateUnavailableError('runIdempotent', { cause: error });
    }
  }
  const running = Number(item.in_progress_expiration?.N ?? 0);
  return running >= at ? { kind: 'running' } : { kind: 'gone' };
}

/** The conditional put that marks a request in progress unless a live record holds its key. */
function beginPut(
  options: Pick<IdempotencyOptions, 'tableName' | 'ttlSeconds'>,
  id: string,
  request: IdempotentRequest,
  runsUntil: number,
  at: number,
): PutItemCommandInput {
  return {
    TableName: options.tableName,
    Item: {
      id: str(id),
      status: str(IN_PROGRESS),
      validation: str(request.payloadHash),
      in_progress_expiration: num(runsUntil),
      expiration: num(Math.ceil(at / 1000) + options.ttlSeconds),
    },
    // Free: no record, a record past its TTL, or one whose request died before answering.
    ConditionExpression:
      'attribute_not_exists(#id) OR #expiration < :nowSeconds OR (#status = :inProgress AND #running < :now)',
    ExpressionAttributeNames: {
      '#id': 'id',
      '#expiration': 'expiration',
      '#status': 'status',
      '#running': 'in_progress_expiration',
    },
    ExpressionAttributeValues: {
      ':nowSeconds': num(Math.floor(at / 1000)),
      ':inProgress': str(IN_PROGRESS),
      ':now': num(at),
    },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** Stores the answer and restarts the record's TTL, only on the record the request still holds. */
function finishUpdate(
  options: Pick<IdempotencyOptions, 'tableName' | 'ttlSeconds'>,
  id: string,
  answer: StoredAnswer,
  runsUntil: number,
  at: number,
): UpdateItemCommandInput {
  return {
    TableName: options.tableName,
    Key: { id: str(id) },
    UpdateExpression: 'SET #status = :completed, #data = :data, #expiration = :expiration',
    ConditionExpression: '#status = :inProgress AND #running = :runsUntil',
    ExpressionAttributeNames: {
      '#status': 'status',
      '#data': 'data',
      '#expiration': 'expiration',
      '#running': 'in_progress_expiration',
    },
    ExpressionAttributeValues: {
      ':completed': str(COMPLETED),
      ':data': str(JSON.stringify(answer)),
      ':expiration': num(Math.ceil(at / 1000) + options.ttlSeconds),
      ':inProgress': str(IN_PROGRESS),
      ':runsUntil': num(runsUntil),
    },
  };
}
