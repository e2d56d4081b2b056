/**
 * Remembers accepted `webhook-id`s until their timestamp leaves the tolerance window; after that the
 * signature check itself refuses a replay. Per container: see README for why that is the chosen scope.
 *
 * An id is reserved while its request runs. If the request then fails without reaching the portal's method
 * (or the portal refused it), the id is released so the sender's retry with the same id is not refused.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly options: { maxEntries: number; now?: () => number } = { maxEntries: 100_000 }) {}

  private nowSeconds(): number {
    return Math.floor((this.options.now ?? Date.now)() / 1000);
  }

  /** Reserves `id` until `expiresAt` (unix seconds). `false` if it is already reserved or accepted. */
  reserve(id: string, expiresAt: number): boolean {
    const now = this.nowSeconds();
    const existing = this.seen.get(id);
    if (existing !== undefined && existing >= now) return false;
    this.evict(now);
    this.seen.set(id, expiresAt);
    return true;
  }

  release(id: string): void {
    this.seen.delete(id);
  }

  get size(): number {
    return this.seen.size;
  }

  private evict(now: number): void {
    if (this.seen.size < this.options.maxEntries) return;
    // Map keeps insertion order, and entries are inserted roughly in expiry order: drop from the front.
    for (const [id, expiresAt] of this.seen) {
      if (expiresAt < now || this.seen.size >= this.options.maxEntries) this.seen.delete(id);
      else break;
    }
  }
}
