/**
 * Idempotent requests on Powertools' Idempotency utility with its DynamoDB persistence layer, on the shared
 * table. Powertools writes the in-progress record with a conditional put, stores the answer, deletes the
 * record when the work throws, and refuses a repeat whose payload hash differs. What it does not do, and this
 * file adds: wait for an earlier request that is still running (Powertools answers "in progress" at once), bound
 * each of its DynamoDB calls in time, and tell "DynamoDB failed before the work ran" (safe to run elsewhere)
 * from "the work ran and only storing its answer failed" (must not run again).
 */
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { sleep } from '../deadline/index.js';
import type { Logger } from '../logging/index.js';
import { bounded, IDEMPOTENCY_KEY_PREFIX } from './dynamodb-items.js';
import {
  StateUnavailableError,
  type IdempotentOutcome,
  type IdempotentRequest,
  type StoredAnswer,
} from './shared-state.js';

/** Powertools passes no abort signal to the SDK: each of its calls is bounded here like every other state call. */
class BoundedPersistenceLayer extends DynamoDBPersistenceLayer {
  constructor(
    private readonly timeoutMs: number,
    options: ConstructorParameters<typeof DynamoDBPersistenceLayer>[0],
  ) {
    super(options);
  }
  protected override _putRecord(record: IdempotencyRecord): Promise<void> {
    return bounded(this.timeoutMs, () => super._putRecord(record));
  }
  protected override _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    return bounded(this.timeoutMs, () => super._getRecord(idempotencyKey));
  }
  protected override _updateRecord(record: IdempotencyRecord): Promise<void> {
    return bounded(this.timeoutMs, () => super._updateRecord(record));
  }
  protected override _deleteRecord(record: IdempotencyRecord): Promise<void> {
    return bounded(this.timeoutMs, () => super._deleteRecord(record));
  }
}

export interface PowertoolsIdempotencyOptions {
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
}

export type IdempotencyRunner = (
  request: IdempotentRequest,
  work: () => Promise<StoredAnswer>,
) => Promise<IdempotentOutcome>;

/**
 * Kept out of index.ts so only a function that runs idempotent requests bundles Powertools (about 47 KB
 * minified): pass it to createSharedState as `idempotency`.
 */
export function powertoolsIdempotency(options: PowertoolsIdempotencyOptions): IdempotencyRunner {
  const persistenceStore = new BoundedPersistenceLayer(options.callTimeoutMs, {
    tableName: options.tableName,
    keyAttr: 'id',
    expiryAttr: 'expiration',
    awsSdkV3Client: options.client,
  });

  return async function runIdempotent(request, work) {
    const deadline = Date.now() + request.remainingMs;
    const run: { started: boolean; answer?: StoredAnswer; failure?: { error: unknown } } = { started: false };
    const config = new IdempotencyConfig({
      eventKeyJmesPath: 'key',
      payloadValidationJmesPath: 'payloadHash',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: options.ttlSeconds,
      hashFunction: 'sha256',
    });
    // The in-progress record lapses when this request's own time is up, so a request that dies mid-way does
    // not block its repeats for the whole record lifetime.
    const context = { getRemainingTimeInMillis: () => Math.max(1, deadline - Date.now()) };
    config.registerLambdaContext(context as unknown as Parameters<IdempotencyConfig['registerLambdaContext']>[0]);
    const once = makeIdempotent(
      async (_request: { key: string; payloadHash: string }): Promise<StoredAnswer> => {
        run.started = true;
        try {
          // A JSON round trip drops undefined fields, which the SDK's marshalling refuses, and proves the
          // answer can be stored at all.
          run.answer = JSON.parse(JSON.stringify(await work())) as StoredAnswer;
          return run.answer;
        } catch (error) {
          run.failure = { error };
          throw error;
        }
      },
      { persistenceStore, config, keyPrefix: IDEMPOTENCY_KEY_PREFIX },
    );

    for (;;) {
      try {
        const answer = await once({ key: request.key, payloadHash: request.payloadHash });
        return { kind: 'done', answer, replayed: !run.started };
      } catch (error) {
        if (run.failure) throw run.failure.error;
        if (run.started && run.answer) {
          // The work ran; only storing its answer failed. Running it again elsewhere would act twice, so this
          // caller gets its answer and repeats see "in progress" until the record's in-progress time lapses.
          options.logger.warn('idempotency answer not stored', { error });
          return { kind: 'done', answer: run.answer, replayed: false };
        }
        if (error instanceof IdempotencyValidationError) return { kind: 'conflict' };
        if (!(error instanceof IdempotencyAlreadyInProgressError)) {
          throw new StateUnavailableError('runIdempotent', { cause: error });
        }
        if (Date.now() + options.pollMs >= deadline) {
          return { kind: 'in-progress', retryAfterMs: options.inProgressRetryAfterMs };
        }
        await sleep(options.pollMs);
      }
    }
  };
}
