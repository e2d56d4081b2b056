/**
 * Coalesces repeated typing requests for one dialog. The web client shows the indicator for about 35 s after
 * the last call, so a call made less than `windowMs` ago is still showing: repeating it only spends the
 * portal's small request budget (a leaky bucket of about 2 requests/s). Concurrent requests for the same
 * dialog share one portal call. With a window well under 35 s, a caller who keeps asking never sees the
 * indicator lapse: the first request after the window makes a real call again.
 */
export interface CoalescedOutcome<T> {
  value: T;
  /** true when no portal call was made for this request. */
  coalesced: boolean;
}

export class TypingCoalescer<T> {
  private readonly recent = new Map<string, { at: number; value: T }>();
  private readonly inflight = new Map<string, Promise<T>>();
  private readonly now: () => number;

  constructor(private readonly options: { windowMs: number; maxEntries?: number; now?: () => number }) {
    this.now = options.now ?? Date.now;
  }

  static key(portal: string, botId: number | undefined, dialogId: string): string {
    return `${portal}|${botId ?? ''}|${dialogId}`;
  }

  async run(key: string, call: () => Promise<T>): Promise<CoalescedOutcome<T>> {
    if (this.options.windowMs <= 0) return { value: await call(), coalesced: false };
    const last = this.recent.get(key);
    if (last && this.now() - last.at < this.options.windowMs) return { value: last.value, coalesced: true };
    const pending = this.inflight.get(key);
    if (pending) return { value: await pending, coalesced: true };
    const attempt = call()
      .then((value) => {
        // Only a success starts a window: after a failure the next request tries the portal again.
        this.remember(key, value);
        return value;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, attempt);
    return { value: await attempt, coalesced: false };
  }

  private remember(key: string, value: T): void {
    this.recent.delete(key);
    this.recent.set(key, { at: this.now(), value });
    const max = this.options.maxEntries ?? 10_000;
    // Oldest first (Map keeps insertion order, and a refreshed key is re-inserted at the end).
    for (const [old, entry] of this.recent) {
      if (this.recent.size <= max && this.now() - entry.at < this.options.windowMs) break;
      this.recent.delete(old);
    }
  }
}
