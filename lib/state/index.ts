/**
 * Shared state: what must hold across all of the service's containers. Lambda runs one container per
 * concurrent request, so anything kept in one container's memory (a replay guard, a rate limit, a coalescing
 * window) holds only for the requests that happen to land there.
 *
 * One DynamoDB table (`STATE_TABLE`, defined in serverless.yml): partition key `id` (S), TTL on `expiration`
 * (epoch seconds), on-demand. TTL deletes lapsed items eventually (within days), so every condition compares a
 * time of its own and never relies on an item being gone. The items, by the prefix of their `id`:
 *
 * | id                      | written by                 | attributes                          | lives                   |
 * |-------------------------|----------------------------|-------------------------------------|-------------------------|
 * | `claim#<key>`           | claim (bot-event delivery) | until (ms), owner                   | the claim's ttl         |
 * | `budget#<budgetKey>`    | takeTypingSlot, admit,     | tat (ms, GCRA); `w#<coalesceKey>`   | 12 min past its last    |
 * |                         | holdMethod                 | (a typing window's end, ms), and    | write (past any hold);  |
 * |                         |                            | `w#<coalesceKey>|held-by|<holder>`  | windows pruned on write |
 * |                         |                            | beside a window a named request     |                         |
 * |                         |                            | opened; `hold#<method>` (ms: the    |                         |
 * |                         |                            | portal holds the method back)       |                         |
 * | `idempotency#<sha-256>` | runIdempotent              | status, data, validation,           | idempotencyTtlSeconds   |
 * |                         |                            | in_progress_expiration (ms)         |                         |
 *
 * A portal's typing windows live in its budget item, so one conditional write decides a typing request
 * (dynamodb-state.ts says why not a transaction). The windows a write finds lapsed are removed by the next.
 * Copies of one request (same holder) share a window: the one whose write is refused by a copy's window makes
 * it its own with one more write (no budget), so whichever copy does the work holds the slot.
 *
 * DynamoDB round trips per call, common case: claim 1 (PutItem), release 1 (DeleteItem), takeTypingSlot 1
 * (UpdateItem, whether acquired, coalesced or rate-limited; 2 when this container's guess of the bucket's
 * state was wrong: with no view of it yet, a container guesses it fresh, so only a first request that meets a
 * busy bucket pays one more), releaseTypingSlot 1, admit 1 (0 when this container
 * already saw the budget spent), runIdempotent 2 for a first request (conditional put, then the answer) and 1
 * for a repeat of a finished one, plus one per poll while the first still runs.
 *
 * When DynamoDB fails (an error, throttling, or no answer within `callTimeoutMs`), each call is answered from
 * this container's memory for `failureBackoffMs`, with a warning (fail-over.ts says why degrading beats
 * refusing). Per use:
 * - bot-event delivery dedup: acted on once per container instead of once overall; a second delivery landing
 *   elsewhere types again (a duplicate indicator is harmless; dropping the event would lose it).
 * - coalescing and the portal budget: per container, as before the table existed; a wide burst may draw
 *   QUERY_LIMIT_EXCEEDED from the portal, whose retries still go through this container's budget.
 * - idempotency: the request proceeds under this container's replay guard, so a repeat landing elsewhere may
 *   act again. A DynamoDB failure after the work ran never runs it again: the caller gets its answer, and
 *   repeats see "in progress" until the record's in-progress time (the first request's deadline) lapses.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from '../logging/index.js';
import type { Metrics } from '../metrics/index.js';
import { createStateClient } from './dynamodb-items.js';
import { createDynamoDBState } from './dynamodb-state.js';
import { withMemoryFailOver } from './fail-over.js';
import { createMemoryState } from './memory-state.js';
import type { SharedState } from './shared-state.js';

export * from './shared-state.js';
export { createDynamoDBState } from './dynamodb-state.js';
export { createMemoryState } from './memory-state.js';
export { ExpiringMap } from './expiring-map.js';
export { withMemoryFailOver } from './fail-over.js';
export { createStateClient } from './dynamodb-items.js';

export const STATE_DEFAULTS = {
  /** One DynamoDB call on a request's critical path; past it, memory answers. */
  callTimeoutMs: 250,
  /** How long a failed DynamoDB is left alone before the next call tries it again. */
  failureBackoffMs: 5_000,
  warnEveryMs: 60_000,
  /**
   * Twice the signature tolerance (300 s): a signed request is accepted from its timestamp's tolerance before
   * to the tolerance after, so its repeats can arrive up to that far apart.
   */
  idempotencyTtlSeconds: 600,
  /** How often a repeat looks again while the first request still runs. */
  idempotencyPollMs: 100,
  inProgressRetryAfterMs: 1_000,
  /** Per map kept in a container's memory. */
  maxEntries: 10_000,
} as const;

export interface SharedStateOptions {
  /** The table's name; without it, state is this container's memory only. */
  tableName: string | undefined;
  logger: Logger;
  callTimeoutMs?: number;
  failureBackoffMs?: number;
  warnEveryMs?: number;
  idempotencyTtlSeconds?: number;
  idempotencyPollMs?: number;
  inProgressRetryAfterMs?: number;
  maxEntries?: number;
  /** A ready client (tests); by default one is built with the call timeout. */
  client?: DynamoDBClient;
  now?: () => number;
  /** Counts table calls that failed over to memory. */
  metrics?: Metrics;
}

/** Built once per container: the table behind a memory fail-over, or memory alone without a table. */
export function createSharedState(options: SharedStateOptions): SharedState {
  const settings = { ...STATE_DEFAULTS, ...definedOnly(options), logger: options.logger };
  const memory = createMemoryState(settings);
  if (!options.tableName) return memory;
  const shared = createDynamoDBState({
    ...settings,
    tableName: options.tableName,
    client: options.client ?? createStateClient(settings.callTimeoutMs),
  });
  return withMemoryFailOver(shared, memory, { ...settings, backoffMs: settings.failureBackoffMs });
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
