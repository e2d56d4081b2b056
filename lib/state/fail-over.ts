/**
 * Puts the shared store in front of this container's memory. When the shared store cannot answer (down,
 * throttled, slower than its call timeout), the call is answered from memory, the failure is remembered for
 * `backoffMs` so a hanging DynamoDB costs one timeout rather than one per request, and a warning is logged at
 * most once per `warnEveryMs`, counting the calls it covers.
 *
 * Why every use degrades to memory rather than refusing: what is lost is only cross-container strictness. A
 * second typing indicator, a second portal call over the budget, or a bot event acted on twice is harmless;
 * refusing would lose the indicator the caller asked for. The per-use consequences are listed in index.ts.
 */
import type { Logger } from '../logging/index.js';
import { noMetrics, type Metrics } from '../metrics/index.js';
import {
  StateUnavailableError,
  type Admission,
  type Budget,
  type IdempotentOutcome,
  type IdempotentRequest,
  type SharedState,
  type StoredAnswer,
  type TypingSlot,
  type TypingSlotRequest,
} from './shared-state.js';

export interface FailOverOptions {
  logger: Logger;
  backoffMs: number;
  warnEveryMs: number;
  now?: () => number;
  /** Counts shared-store calls that failed and were answered from memory. */
  metrics?: Metrics;
}

export function withMemoryFailOver(shared: SharedState, memory: SharedState, options: FailOverOptions): SharedState {
  return new FailOverState(shared, memory, options);
}

class FailOverState implements SharedState {
  readonly scope = 'shared';
  private readonly now: () => number;
  private downUntil = 0;
  private lastWarning = Number.NEGATIVE_INFINITY;
  private coveredSinceWarning = 0;

  constructor(
    private readonly shared: SharedState,
    private readonly memory: SharedState,
    private readonly options: FailOverOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  claim(key: string, ttlMs: number): Promise<boolean> {
    return this.use('claim', (store) => store.claim(key, ttlMs));
  }

  async release(key: string): Promise<void> {
    // The claim may have been taken in either store; a release where nothing is held costs nothing.
    await Promise.all([this.use('release', (store) => store.release(key)), this.memory.release(key)]);
  }

  takeTypingSlot(request: TypingSlotRequest): Promise<TypingSlot> {
    return this.use('takeTypingSlot', (store) => store.takeTypingSlot(request));
  }

  async releaseTypingSlot(coalesceKey: string): Promise<void> {
    await Promise.all([
      this.use('releaseTypingSlot', (store) => store.releaseTypingSlot(coalesceKey)),
      this.memory.releaseTypingSlot(coalesceKey),
    ]);
  }

  async holdMethod(budgetKey: string, method: string, untilMs: number): Promise<void> {
    // In memory too: while the table fails, this container still knows what it learnt.
    await Promise.all([
      this.use('holdMethod', (store) => store.holdMethod(budgetKey, method, untilMs)),
      this.memory.holdMethod(budgetKey, method, untilMs),
    ]);
  }

  admit(budgetKey: string, budget: Budget): Promise<Admission> {
    return this.use('admit', (store) => store.admit(budgetKey, budget));
  }

  async runIdempotent(request: IdempotentRequest, work: () => Promise<StoredAnswer>): Promise<IdempotentOutcome> {
    // Once the work has started, nothing may run it a second time, whatever the error says.
    let started = false;
    const tracked = () => {
      started = true;
      return work();
    };
    return this.use(
      'runIdempotent',
      (store) => store.runIdempotent(request, tracked),
      () => started,
    );
  }

  private async use<T>(
    operation: string,
    call: (store: SharedState) => Promise<T>,
    committed: () => boolean = () => false,
  ): Promise<T> {
    if (this.now() < this.downUntil) {
      this.covered(operation);
      return call(this.memory);
    }
    try {
      return await call(this.shared);
    } catch (error) {
      if (!(error instanceof StateUnavailableError) || committed()) throw error;
      (this.options.metrics ?? noMetrics).add('StateStoreFailures');
      this.downUntil = this.now() + this.options.backoffMs;
      this.covered(operation, error);
      return call(this.memory);
    }
  }

  private covered(operation: string, error?: StateUnavailableError): void {
    this.coveredSinceWarning += 1;
    const now = this.now();
    if (now - this.lastWarning < this.options.warnEveryMs) return;
    this.options.logger.warn('shared state unavailable: answering from this container', {
      operation,
      calls: this.coveredSinceWarning,
      retryInMs: Math.max(0, this.downUntil - now),
      ...(error ? { error: error.cause } : {}),
    });
    this.lastWarning = now;
    this.coveredSinceWarning = 0;
  }
}
