/**
 * A point in time by which a request must have answered. Every outbound call takes its timeout from the
 * deadline, so retries and token refreshes can never run past the Lambda's own timeout.
 */
export class Deadline {
  constructor(
    readonly at: number,
    private readonly now: () => number = Date.now,
  ) {}

  static in(ms: number, now: () => number = Date.now): Deadline {
    return new Deadline(now() + ms, now);
  }

  /** From a Lambda context, keeping `marginMs` to log and answer after the last outbound call. */
  static fromLambda(context: { getRemainingTimeInMillis(): number }, marginMs = 250): Deadline {
    return Deadline.in(Math.max(0, context.getRemainingTimeInMillis() - marginMs));
  }

  remainingMs(): number {
    return Math.max(0, this.at - this.now());
  }

  expired(): boolean {
    return this.remainingMs() <= 0;
  }

  /** The timeout for one outbound call: its own limit, cut short by the deadline. */
  timeoutFor(callLimitMs: number): number {
    return Math.min(callLimitMs, this.remainingMs());
  }

  /** A deadline no later than this one. */
  within(ms: number): Deadline {
    return new Deadline(Math.min(this.at, this.now() + ms), this.now);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Settles with `work`, or rejects with `onExpire()` when the deadline passes first. The work itself goes on
 * (a secret read still fills the cache for the next request); only the wait for it is bounded.
 */
export function withinDeadline<T>(work: Promise<T>, deadline: Deadline, onExpire: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onExpire()), deadline.remainingMs());
  });
  return Promise.race([work, expiry]).finally(() => clearTimeout(timer));
}
