/**
 * A map whose entries lapse at their own time and whose size is capped, so a long-lived container's memory
 * stays bounded however many keys pass through it. Over the cap, the oldest entries go first: what this
 * package keeps is short-lived, and forgetting the oldest only costs a repeat of work already done.
 */
export class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(private readonly maxEntries: number) {}

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V, until: number, now: number): void {
    // Re-inserting keeps Map order close to "oldest first" for the pruning below.
    this.entries.delete(key);
    this.entries.set(key, { value, until });
    if (this.entries.size > this.maxEntries) this.prune(now);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Drops lapsed entries, then the oldest down to 90% of the cap, so a full map is not scanned on every set. */
  private prune(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.until <= now) this.entries.delete(key);
    }
    const target = Math.floor(this.maxEntries * 0.9);
    for (const key of this.entries.keys()) {
      if (this.entries.size <= target) break;
      this.entries.delete(key);
    }
  }
}
