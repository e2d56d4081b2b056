/** Leaky bucket: each call adds 1, the level drains continuously; a call that would overflow is refused
 * and adds nothing [docs: 2 req/s drain, burst 50]. Source tags are listed in index.ts. */
export class LeakyBucket {
  private level = 0;
  private last = Date.now();

  constructor(
    private readonly capacity: number,
    private readonly drainPerSecond: number,
  ) {}

  tryAdd(now: number): boolean {
    this.level = Math.max(0, this.level - ((now - this.last) / 1000) * this.drainPerSecond);
    this.last = now;
    if (this.level + 1 > this.capacity) return false;
    this.level += 1;
    return true;
  }
}
