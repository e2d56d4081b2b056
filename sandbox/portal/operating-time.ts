/**
 * The method execution-time budget [docs: limits.md, "Resource Intensity Limits"]: per application or webhook and
 * per method, the time its calls took is summed in one-minute baskets. A basket opens with the first call of its
 * minute and leaves the sum ten minutes later. Before each call the sum is checked: past the limit, the call is
 * refused with 429 `OPERATION_TIME_LIMIT` (the call that crossed the limit itself still ran). Every answer's `time`
 * block carries `operating` (the sum) and `operating_reset_at` (when the oldest basket leaves it; with none, ten
 * minutes after this call's start, as the docs' examples show). Source tags are listed in index.ts.
 */
import { RestError, type Caller } from './rest-protocol.js';

const BASKET_MS = 60_000;
const WINDOW_MS = 600_000;

interface Basket {
  startMs: number;
  seconds: number;
}

export interface OperatingFields {
  operating: number;
  operating_reset_at: number;
}

export class OperatingTime {
  private readonly baskets = new Map<string, Basket[]>();
  private readonly costs = new Map<string, number>();

  /** `limitSeconds`: the cloud's limit is set by its configuration; the docs' worked example uses 480 s. */
  constructor(private readonly limitSeconds = 480) {}

  /** Makes every later call of `method` count as taking `seconds`; by default a call counts as 0 s, as the docs'
   * examples of light calls show (`"operating": 0`). */
  setCost(method: string, seconds: number): void {
    this.costs.set(method.toLowerCase(), seconds);
  }

  /** Refuses the call when the method's sum is already past the limit. */
  check(caller: Caller, method: string, nowMs: number): void {
    if (this.sum(this.live(caller, method, nowMs)) > this.limitSeconds) {
      throw new RestError(429, 'OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit.');
    }
  }

  /** Adds a finished call to its basket and returns the `time` fields of its answer. */
  charge(caller: Caller, method: string, startedMs: number): OperatingFields {
    const baskets = this.live(caller, method, startedMs);
    const seconds = this.costs.get(method.toLowerCase()) ?? 0;
    if (seconds === 0) return this.fields(baskets, startedMs);
    const current = baskets.at(-1);
    if (current && startedMs - current.startMs < BASKET_MS) current.seconds += seconds;
    else baskets.push({ startMs: startedMs, seconds });
    return this.fields(baskets, startedMs);
  }

  private fields(baskets: Basket[], startedMs: number): OperatingFields {
    const oldest = baskets[0]?.startMs ?? startedMs;
    return { operating: this.sum(baskets), operating_reset_at: Math.floor((oldest + WINDOW_MS) / 1000) };
  }

  private live(caller: Caller, method: string, nowMs: number): Basket[] {
    const key = `${caller.via === 'oauth' ? `app:${caller.clientId}` : `webhook:${caller.userId}`}|${method.toLowerCase()}`;
    const kept = (this.baskets.get(key) ?? []).filter((basket) => nowMs - basket.startMs < WINDOW_MS);
    this.baskets.set(key, kept);
    return kept;
  }

  private sum(baskets: Basket[]): number {
    return baskets.reduce((total, basket) => total + basket.seconds, 0);
  }
}
