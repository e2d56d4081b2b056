/**
 * The shared-state port: what the service needs to hold across containers, whatever stores it. DynamoDB
 * (dynamodb-state.ts) is the shared adapter, memory (memory-state.ts) the single-container one, and
 * fail-over.ts puts the first in front of the second.
 */

/**
 * A portal's request budget as its leaky bucket allows: `burst` requests at once, refilled at `perSecond`.
 * Callers pass what is left for this service (the portal's own bucket less a share kept for its other apps).
 */
export interface Budget {
  burst: number;
  perSecond: number;
}

export type Admission = { admitted: true } | { admitted: false; retryAfterMs: number };

export type TypingSlot =
  /** This caller makes the portal call; one unit of the budget is spent. */
  | { kind: 'acquired' }
  /** Another request typed in this dialog within the window (or is typing now): no portal call, no budget. */
  | { kind: 'coalesced' }
  /** The budget is spent: no portal call, and `retryAfterMs` is when the next unit frees up. */
  | { kind: 'rate-limited'; retryAfterMs: number }
  /** The portal stopped taking this method for a while (`holdMethod`): no portal call until `retryAfterMs`. */
  | { kind: 'held'; retryAfterMs: number };

export interface TypingSlotRequest {
  /** One dialog of one bot on one portal. */
  coalesceKey: string;
  /** How long one portal call keeps the indicator showing for repeats; 0 turns coalescing off. */
  windowMs: number;
  /** One portal. */
  budgetKey: string;
  budget: Budget;
  /**
   * The request the slot is for (its idempotency key). Copies of one request sent at once must not coalesce
   * against each other: the copy that does the work would be answered "coalesced" while the copy holding the
   * window hands it back, and nobody would type. A window a copy opened counts as this request's own.
   */
  holder?: string;
  /** The portal method the call would make: refused as `held` while the portal holds it back (`holdMethod`). */
  method?: string;
}

/** What a finished request answered, stored to answer its repeats the same way. Must survive JSON. */
export interface StoredAnswer {
  statusCode: number;
  body: string;
  headers?: Record<string, string>;
}

export interface IdempotentRequest {
  /** The request's own id (e.g. its `webhook-id`), scoped by the caller. */
  key: string;
  /** A digest of what the request asks for: a repeat with another digest is a conflict, not a repeat. */
  payloadHash: string;
  /** How long this caller can wait for an earlier request with the same key to finish. */
  remainingMs: number;
  /**
   * How long this request's own work may run (default `remainingMs`): its record counts as in progress that long,
   * so a repeat never takes over while the work may still act.
   */
  runsForMs?: number;
}

export type IdempotentOutcome =
  /** `replayed`: the answer of an earlier request with the same key and payload, and `work` did not run. */
  | { kind: 'done'; answer: StoredAnswer; replayed: boolean }
  /** The key was used before with another payload. */
  | { kind: 'conflict' }
  /** An earlier request with the key is still running after `remainingMs`. */
  | { kind: 'in-progress'; retryAfterMs: number };

export interface SharedState {
  /** `shared`: every container sees the same state; `container`: this container's memory only. */
  readonly scope: 'shared' | 'container';
  /** Claims `key` for `ttlMs`. true for exactly one caller among all who claim it while it is held. */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /** Gives up this caller's claim early (its work failed), so a later attempt can claim the key again. */
  release(key: string): Promise<void>;
  /** Decides whether this request calls the portal: one coalescing window and one budget admission together. */
  takeTypingSlot(request: TypingSlotRequest): Promise<TypingSlot>;
  /** Closes this caller's coalescing window after its portal call failed; the budget unit stays spent. */
  releaseTypingSlot(coalesceKey: string): Promise<void>;
  /**
   * Holds back `method` on the budget's portal until `untilMs` for every container: typing slots that name it are
   * refused as `held`. A later hold only ever extends an earlier one.
   */
  holdMethod(budgetKey: string, method: string, untilMs: number): Promise<void>;
  /** One admission against a budget on its own (a retry after the portal said its limit was exceeded). */
  admit(budgetKey: string, budget: Budget): Promise<Admission>;
  /**
   * Runs `work` once per key: repeats get the stored answer. A `work` that throws is not remembered (the error
   * goes to this caller), so a retry with the same key runs it again.
   */
  runIdempotent(request: IdempotentRequest, work: () => Promise<StoredAnswer>): Promise<IdempotentOutcome>;
}

/** The shared store could not answer (down, throttled, too slow, misconfigured); `cause` says what happened. */
export class StateUnavailableError extends Error {
  override readonly name = 'StateUnavailableError';
  constructor(
    readonly operation: string,
    options: { cause: unknown },
  ) {
    super(`shared state unavailable for ${operation}`, options);
  }
}
