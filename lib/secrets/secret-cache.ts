import type { Logger } from '../logging/index.js';
import type { SecretStore } from './secret-store.js';

interface Entry {
  value: string | undefined;
  fetchedAt: number;
  /** While the store is failing: no new read before this time, the stale value is served at once. */
  retryAt?: number;
}

export interface SecretCacheOptions {
  ttlMs: number;
  /** How long past its TTL the last good value may be served while the store is failing. */
  staleMs: number;
  /** After a failed refresh, how long the stale value is served without asking the store again. */
  failureBackoffMs?: number;
  logger: Logger;
  now?: () => number;
}

/**
 * A per-container cache in front of a SecretStore.
 * - A value (or the fact that a secret does not exist) is kept for `ttlMs`.
 * - Concurrent misses for one name share a single store read, so a cold container hit by 100 requests at once
 *   still makes one GetSecretValue per secret.
 * - If a refresh fails, the last good value keeps being served for up to `staleMs` past its TTL, and the
 *   failure is logged; after that the error reaches the caller. While the store is failing it is asked again
 *   at most once per `failureBackoffMs`, so a hanging Secrets Manager does not add its timeout to every request.
 */
export class SecretCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<string | undefined>>();
  /** The last failed read of a name with nothing servable cached: repeated at once until the backoff ends. */
  private readonly failures = new Map<string, { until: number; error: unknown }>();
  private readonly now: () => number;

  constructor(
    private readonly store: SecretStore,
    private readonly options: SecretCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async get(name: string, { fresh = false }: { fresh?: boolean } = {}): Promise<string | undefined> {
    const entry = this.entries.get(name);
    if (!fresh && entry && this.now() - entry.fetchedAt < this.options.ttlMs) return entry.value;
    if (!fresh && entry?.retryAt !== undefined && this.now() < entry.retryAt && this.servable(entry))
      return entry.value;
    const failure = this.failures.get(name);
    if (!fresh && failure && this.now() < failure.until) throw failure.error;
    const pending = this.inflight.get(name);
    if (pending) return pending;

    const load = this.store
      .read(name)
      .then((value) => {
        this.entries.set(name, { value, fetchedAt: this.now() });
        this.failures.delete(name);
        return value;
      })
      .catch((error: unknown) => {
        const age = entry ? this.now() - entry.fetchedAt : Infinity;
        if (entry && !fresh && this.servable(entry)) {
          entry.retryAt = this.now() + (this.options.failureBackoffMs ?? 5_000);
          this.options.logger.warn('secret refresh failed; serving the cached value', {
            secret: name,
            ageSeconds: Math.round(age / 1000),
            error,
          });
          return entry.value;
        }
        // Nothing to serve: fail fast for a short while instead of making every request wait for the store,
        // short enough that recovery is noticed within half a second.
        this.failures.set(name, { until: this.now() + Math.min(500, this.options.failureBackoffMs ?? 5_000), error });
        throw error;
      })
      .finally(() => this.inflight.delete(name));
    this.inflight.set(name, load);
    return load;
  }

  private servable(entry: Entry): boolean {
    return this.now() - entry.fetchedAt < this.options.ttlMs + this.options.staleMs;
  }

  /** Records a value this container just wrote, so the next read does not go back to the store. */
  set(name: string, value: string): void {
    this.entries.set(name, { value, fetchedAt: this.now() });
    this.failures.delete(name);
  }
}
