/**
 * The generic cell rate algorithm: a leaky bucket kept as one number, the theoretical arrival time (`tat`) of
 * the next request if requests came exactly at the drain rate. It needs one conditional write per admission
 * and no timer, which is what lets many containers share one bucket in one item.
 *
 * `tat` never decreases: an admission moves it forward by one interval, and a bucket that ran dry restarts
 * from `now`, which is past the old `tat`. So a `tat` seen earlier is a lower bound of the stored one.
 */
import type { Budget } from './shared-state.js';

export interface Gcra {
  /** Time one request occupies the bucket: 1 / drain rate. */
  intervalMs: number;
  /** How far `tat` may run ahead of now: room for `burst` requests at once. */
  toleranceMs: number;
}

export function gcraOf(budget: Budget): Gcra {
  if (!Number.isInteger(budget.burst) || budget.burst < 1) throw new RangeError(`burst must be a positive integer`);
  if (!(budget.perSecond > 0)) throw new RangeError(`perSecond must be positive`);
  const intervalMs = 1000 / budget.perSecond;
  return { intervalMs, toleranceMs: (budget.burst - 1) * intervalMs };
}

/**
 * Where a stored `tat` stands at `now`: `idle` (absent or past: the bucket drained), `busy` (within the
 * tolerance: admit on top), or `over` (the budget is spent until `retryAfterMs` from now).
 */
export type BucketState = { kind: 'idle' } | { kind: 'busy' } | { kind: 'over'; retryAfterMs: number };

export function bucketState(tat: number | undefined, now: number, gcra: Gcra): BucketState {
  if (tat === undefined || tat < now) return { kind: 'idle' };
  if (tat - now <= gcra.toleranceMs) return { kind: 'busy' };
  return { kind: 'over', retryAfterMs: Math.max(1, Math.ceil(tat - now - gcra.toleranceMs)) };
}

/** One admission at `now`: the new `tat` when admitted. */
export function admitAt(
  tat: number | undefined,
  now: number,
  gcra: Gcra,
): { admitted: true; tat: number } | { admitted: false; retryAfterMs: number } {
  const state = bucketState(tat, now, gcra);
  if (state.kind === 'over') return { admitted: false, retryAfterMs: state.retryAfterMs };
  return { admitted: true, tat: (state.kind === 'idle' ? now : (tat as number)) + gcra.intervalMs };
}
