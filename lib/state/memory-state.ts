/**
 * The single-container adapter: the same semantics as the shared one, kept in this container's memory. It
 * serves the sandbox and any setup without a table, and answers for DynamoDB while it fails.
 */
import { ExpiringMap } from './expiring-map.js';
import { admitAt, gcraOf } from './gcra.js';
import type {
  Admission,
  Budget,
  IdempotentOutcome,
  IdempotentRequest,
  SharedState,
  StoredAnswer,
  TypingSlot,
  TypingSlotRequest,
} from './shared-state.js';

export interface MemoryStateOptions {
  idempotencyTtlSeconds: number;
  inProgressRetryAfterMs: number;
  maxEntries: number;
  now?: () => number;
}

interface IdempotencyRecord {
  payloadHash: string;
  answer?: StoredAnswer;
  /** Settles when the first request finishes: with its answer, or undefined when its work threw. */
  running: Promise<StoredAnswer | undefined>;
}

/** Method names are case-insensitive on the platform. */
const holdKey = (budgetKey: string, method: string) => `${budgetKey}|${method.toLowerCase()}`;

export function createMemoryState(options: MemoryStateOptions): SharedState {
  return new MemoryState(options);
}

/** true when `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

class MemoryState implements SharedState {
  readonly scope = 'container';
  private readonly now: () => number;
  private readonly claims: ExpiringMap<true>;
  /** Each open typing window, with the request that opened it ('' when it named none). */
  private readonly windows: ExpiringMap<string>;
  /** Each budget's `tat`, kept until it passes: a bucket without an entry is idle. */
  private readonly budgets: ExpiringMap<number>;
  private readonly records: ExpiringMap<IdempotencyRecord>;
  /** Methods held back per budget (`<budgetKey>|<method>`), until when. */
  private readonly holds: ExpiringMap<number>;

  constructor(private readonly options: MemoryStateOptions) {
    this.now = options.now ?? Date.now;
    this.claims = new ExpiringMap(options.maxEntries);
    this.windows = new ExpiringMap(options.maxEntries);
    this.budgets = new ExpiringMap(options.maxEntries);
    this.records = new ExpiringMap(options.maxEntries);
    this.holds = new ExpiringMap(options.maxEntries);
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    if (this.claims.get(key, now)) return false;
    this.claims.set(key, true, now + ttlMs, now);
    return true;
  }

  async release(key: string): Promise<void> {
    this.claims.delete(key);
  }

  async takeTypingSlot(request: TypingSlotRequest): Promise<TypingSlot> {
    const { coalesceKey, windowMs, budgetKey, budget, holder, method } = request;
    const now = this.now();
    const openedBy = windowMs > 0 ? this.windows.get(coalesceKey, now) : undefined;
    // A window a copy of this same request opened is this request's own (its unit is spent already).
    if (openedBy !== undefined)
      return openedBy !== '' && openedBy === holder ? { kind: 'acquired' } : { kind: 'coalesced' };
    const heldUntil = method === undefined ? undefined : this.holds.get(holdKey(budgetKey, method), now);
    if (heldUntil !== undefined) return { kind: 'held', retryAfterMs: Math.max(1, heldUntil - now) };
    const admission = this.admitNow(budgetKey, budget, now);
    if (!admission.admitted) return { kind: 'rate-limited', retryAfterMs: admission.retryAfterMs };
    if (windowMs > 0) this.windows.set(coalesceKey, holder ?? '', now + windowMs, now);
    return { kind: 'acquired' };
  }

  async releaseTypingSlot(coalesceKey: string): Promise<void> {
    this.windows.delete(coalesceKey);
  }

  async holdMethod(budgetKey: string, method: string, untilMs: number): Promise<void> {
    const now = this.now();
    const key = holdKey(budgetKey, method);
    if (untilMs > (this.holds.get(key, now) ?? now)) this.holds.set(key, untilMs, untilMs, now);
  }

  async admit(budgetKey: string, budget: Budget): Promise<Admission> {
    return this.admitNow(budgetKey, budget, this.now());
  }

  async runIdempotent(request: IdempotentRequest, work: () => Promise<StoredAnswer>): Promise<IdempotentOutcome> {
    const deadline = this.now() + request.remainingMs;
    for (;;) {
      const record = this.records.get(request.key, this.now());
      if (record === undefined) return this.runFirst(request, work);
      if (record.payloadHash !== request.payloadHash) return { kind: 'conflict' };
      if (record.answer) return { kind: 'done', answer: record.answer, replayed: true };
      // Wait for the first request; when its work throws, its record is gone and the loop runs the work here.
      const waitMs = deadline - this.now();
      if (waitMs <= 0 || !(await settlesWithin(record.running, waitMs))) {
        return { kind: 'in-progress', retryAfterMs: this.options.inProgressRetryAfterMs };
      }
    }
  }

  private async runFirst(request: IdempotentRequest, work: () => Promise<StoredAnswer>): Promise<IdempotentOutcome> {
    let finish!: (answer: StoredAnswer | undefined) => void;
    const record: IdempotencyRecord = {
      payloadHash: request.payloadHash,
      running: new Promise((resolve) => (finish = resolve)),
    };
    const ttlMs = this.options.idempotencyTtlSeconds * 1000;
    this.records.set(request.key, record, this.now() + ttlMs, this.now());
    try {
      // Stored as the shared adapter would store it: what does not survive JSON is not part of the answer.
      const answer = JSON.parse(JSON.stringify(await work())) as StoredAnswer;
      record.answer = answer;
      finish(answer);
      return { kind: 'done', answer, replayed: false };
    } catch (error) {
      if (this.records.get(request.key, this.now()) === record) this.records.delete(request.key);
      finish(undefined);
      throw error;
    }
  }

  private admitNow(budgetKey: string, budget: Budget, now: number): Admission {
    const admission = admitAt(this.budgets.get(budgetKey, now), now, gcraOf(budget));
    if (!admission.admitted) return admission;
    this.budgets.set(budgetKey, admission.tat, admission.tat, now);
    return { admitted: true };
  }
}
