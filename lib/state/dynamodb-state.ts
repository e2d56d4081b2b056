/**
 * The shared adapter: every container of every function sees the same claims, typing windows, budgets and
 * idempotency records. Each call is bounded by `callTimeoutMs` and any failure other than a refused condition
 * becomes a StateUnavailableError, which the fail-over turns into an answer from memory.
 *
 * A portal's budget and its dialogs' typing windows share one item, so one conditional write of one item
 * decides a typing request. Two items in a transaction would decide it atomically too, but every request of a
 * portal would then transact on its one budget item, and DynamoDB cancels concurrent transactions on an item
 * (TransactionConflict) in exactly the bursts the budget is for. (moto's transactions are not isolated from
 * concurrent requests at all: it restores a whole-table snapshot when one is cancelled.)
 */
import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { Logger } from '../logging/index.js';
import {
  bounded,
  budgetBranchOf,
  budgetUpdate,
  claimPut,
  holderKey,
  holdOf,
  holdUpdate,
  ITEM_ID,
  readNumber,
  str,
  windowRemoval,
  windowsOf,
  windowTakeover,
  type Item,
} from './dynamodb-items.js';
import { ExpiringMap } from './expiring-map.js';
import { dynamodbIdempotency } from './dynamodb-idempotency.js';
import { bucketState, gcraOf, type BucketState, type Gcra } from './gcra.js';
import {
  StateUnavailableError,
  type Admission,
  type Budget,
  type SharedState,
  type TypingSlot,
  type TypingSlotRequest,
} from './shared-state.js';

export interface DynamoDBStateOptions {
  client: DynamoDBClient;
  tableName: string;
  callTimeoutMs: number;
  idempotencyTtlSeconds: number;
  idempotencyPollMs: number;
  inProgressRetryAfterMs: number;
  logger: Logger;
  maxEntries: number;
  now?: () => number;
}

/** What this container last saw of a budget item: its `tat`, and the windows in it that had lapsed. */
interface BudgetView {
  tat: number | undefined;
  lapsed: string[];
}

/**
 * A first guess of the item's state, then the state each refused write showed. Every attempt judges the bucket
 * at the same instant and `tat` never decreases, so the worst case is fresh (the guess) → busy (a peer admitted
 * one) → over; a write refused because a window it would prune was reopened meanwhile is written again without
 * it, which may take one more.
 */
const MAX_ATTEMPTS = 4;
/** How long a view of a budget item is worth keeping as a guess. */
const VIEW_TTL_MS = 60_000;

export function createDynamoDBState(options: DynamoDBStateOptions): SharedState {
  return new DynamoDBState(options);
}

class DynamoDBState implements SharedState {
  readonly scope = 'shared';
  readonly runIdempotent: SharedState['runIdempotent'];
  private readonly now: () => number;
  /** The owner token of each claim this container took, so a release never deletes another's claim. */
  private readonly claims: ExpiringMap<string>;
  /** The typing windows this container opened, to close exactly those on release. */
  private readonly windows: ExpiringMap<{ budgetKey: string; until: number }>;
  private readonly views: ExpiringMap<BudgetView>;

  constructor(private readonly options: DynamoDBStateOptions) {
    this.now = options.now ?? Date.now;
    this.claims = new ExpiringMap(options.maxEntries);
    this.windows = new ExpiringMap(options.maxEntries);
    this.views = new ExpiringMap(options.maxEntries);
    this.runIdempotent = dynamodbIdempotency({
      client: options.client,
      tableName: options.tableName,
      callTimeoutMs: options.callTimeoutMs,
      ttlSeconds: options.idempotencyTtlSeconds,
      pollMs: options.idempotencyPollMs,
      inProgressRetryAfterMs: options.inProgressRetryAfterMs,
      logger: options.logger,
      now: options.now,
    });
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const owner = randomUUID();
    const put = claimPut(this.options.tableName, ITEM_ID.claim(key), now, ttlMs, owner);
    try {
      await this.send((client, abortSignal) => client.send(new PutItemCommand(put), { abortSignal }));
      this.claims.set(key, owner, now + ttlMs, now);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw new StateUnavailableError('claim', { cause: error });
    }
  }

  async release(key: string): Promise<void> {
    const owner = this.claims.get(key, this.now());
    if (owner === undefined) return;
    this.claims.delete(key);
    const command = new DeleteItemCommand({
      TableName: this.options.tableName,
      Key: { id: str(ITEM_ID.claim(key)) },
      ConditionExpression: '#owner = :owner',
      ExpressionAttributeNames: { '#owner': 'owner' },
      ExpressionAttributeValues: { ':owner': str(owner) },
    });
    await this.write('release', (client, abortSignal) => client.send(command, { abortSignal }));
  }

  async admit(budgetKey: string, budget: Budget): Promise<Admission> {
    const outcome = await this.decide('admit', budgetKey, budget);
    if (outcome.kind === 'rate-limited') return { admitted: false, retryAfterMs: outcome.retryAfterMs };
    return { admitted: true };
  }

  async takeTypingSlot(request: TypingSlotRequest): Promise<TypingSlot> {
    const { coalesceKey: key, windowMs, budgetKey, budget, holder, method } = request;
    return this.decide(
      'takeTypingSlot',
      budgetKey,
      budget,
      windowMs > 0 ? { key, windowMs, holder } : undefined,
      method,
    );
  }

  async holdMethod(budgetKey: string, method: string, untilMs: number): Promise<void> {
    const update = holdUpdate(this.options.tableName, budgetKey, method, untilMs, this.now());
    await this.write('holdMethod', (client, abortSignal) =>
      client.send(new UpdateItemCommand(update), { abortSignal }),
    );
  }

  async releaseTypingSlot(coalesceKey: string): Promise<void> {
    const opened = this.windows.get(coalesceKey, this.now());
    if (opened === undefined) return;
    this.windows.delete(coalesceKey);
    const removal = windowRemoval(this.options.tableName, opened.budgetKey, { key: coalesceKey, until: opened.until });
    await this.write('releaseTypingSlot', (client, abortSignal) =>
      client.send(new UpdateItemCommand(removal), { abortSignal }),
    );
  }

  /**
   * One admission to the budget, with a typing window when `window` is given: a single conditional write. A
   * refused write returns the item as it was, which tells an open window (coalesced) from a spent budget
   * (rate-limited) from a wrong guess of the bucket's state (written again in the state it showed).
   */
  private async decide(
    operation: string,
    budgetKey: string,
    budget: Budget,
    window?: { key: string; windowMs: number; holder?: string },
    method?: string,
  ): Promise<TypingSlot> {
    const gcra = gcraOf(budget);
    // One instant for every attempt. With a fresh clock per attempt, a burst whose writes queue on the item for
    // longer than one interval sees the bucket idle again at each retry, and idle writes exclude each other:
    // one contender per round would be admitted and the rest refused with most of the budget unspent. Judging
    // at the first attempt's instant counts less drain than has happened, so it can only be stricter.
    const now = this.now();
    const view = this.views.get(budgetKey, now);
    let branch = firstGuess(view, now, gcra);
    // `tat` never decreases, so a budget seen spent is still spent: an admission is refused without a round
    // trip. A typing request still asks, since an open window (coalesced, a 200) must win over a 429.
    if (branch.kind === 'over' && !window) return { kind: 'rate-limited', retryAfterMs: branch.retryAfterMs };
    const opened = window && { key: window.key, until: now + window.windowMs, holder: window.holder };
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const update = budgetUpdate({
        tableName: this.options.tableName,
        budgetKey,
        gcra,
        now,
        branch: branch.kind === 'idle' ? 'fresh' : 'busy',
        window: opened,
        lapsed: this.views.get(budgetKey, now)?.lapsed,
        method,
      });
      try {
        const out = await this.send((client, signal) =>
          client.send(new UpdateItemCommand(update), { abortSignal: signal }),
        );
        this.see(budgetKey, out.Attributes, now);
        if (opened) this.windows.set(opened.key, { budgetKey, until: opened.until }, opened.until, now);
        return { kind: 'acquired' };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) {
          throw new StateUnavailableError(operation, { cause: error });
        }
        this.see(budgetKey, error.Item, now);
        const open = opened && windowsOf(error.Item)[opened.key];
        if (opened && open !== undefined && open >= now) {
          const byCopy = opened.holder !== undefined && windowsOf(error.Item)[holderKey(opened.key, opened.holder)];
          // A copy of this same request holds the window: it is this request's, and its unit is spent already.
          return byCopy === open ? this.takeOver(budgetKey, opened, open, now) : { kind: 'coalesced' };
        }
        const heldUntil = method === undefined ? undefined : holdOf(error.Item, method);
        if (heldUntil !== undefined && heldUntil > now)
          return { kind: 'held', retryAfterMs: Math.max(1, heldUntil - now) };
        branch = budgetBranchOf(error.Item, now, gcra);
        if (branch.kind === 'over') return { kind: 'rate-limited', retryAfterMs: branch.retryAfterMs };
      }
    }
    // Only a bucket that moved backwards (a table edited by hand) gets here: refuse for one interval.
    return { kind: 'rate-limited', retryAfterMs: Math.ceil(gcra.intervalMs) };
  }

  /** Makes a copy's window this container's, so the copy handing its slot back leaves it; one more write. */
  private async takeOver(
    budgetKey: string,
    opened: { key: string; until: number; holder?: string },
    theirs: number,
    now: number,
  ): Promise<TypingSlot> {
    const takeover = windowTakeover(this.options.tableName, budgetKey, {
      key: opened.key,
      holder: opened.holder as string,
      theirs,
      until: opened.until,
    });
    // Refused only if the copy already handed the window back: this request still holds the slot it paid for.
    await this.write('takeTypingSlot', (client, signal) =>
      client.send(new UpdateItemCommand(takeover), { abortSignal: signal }),
    );
    this.windows.set(opened.key, { budgetKey, until: opened.until }, opened.until, now);
    return { kind: 'acquired' };
  }

  private see(budgetKey: string, item: Item | undefined, now: number): void {
    if (item === undefined) return this.views.delete(budgetKey);
    const lapsed = Object.entries(windowsOf(item))
      .filter(([, until]) => until < now)
      .map(([key]) => key);
    this.views.set(budgetKey, { tat: readNumber(item, 'tat'), lapsed }, now + VIEW_TTL_MS, now);
  }

  /** A write whose refused condition means "not ours any more": nothing to do. */
  private async write(operation: string, call: (client: DynamoDBClient, signal: AbortSignal) => Promise<unknown>) {
    try {
      await this.send(call);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return;
      throw new StateUnavailableError(operation, { cause: error });
    }
  }

  private send<T>(call: (client: DynamoDBClient, abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    return bounded(this.options.callTimeoutMs, (signal) => call(this.options.client, signal));
  }
}

/**
 * The state to try first: the one this container saw last, or else a fresh bucket (none yet, or drained). A cold
 * container's first request for a portal most often follows a quiet spell; in a burst the guess costs one write.
 */
function firstGuess(view: BudgetView | undefined, now: number, gcra: Gcra): BucketState {
  return view === undefined ? { kind: 'idle' } : bucketState(view.tat, now, gcra);
}
