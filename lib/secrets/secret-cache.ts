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
  /** Secrets found that are kept at most; the least recently used goes first. Default 10,000. */
  maxEntries?: number;
  /** Names found absent that are kept at most, apart from the secrets found. Default 2,000. */
  maxAbsent?: number;
  /** How long "no such secret" is kept (never longer than `ttlMs`). Default `ttlMs`. */
  absentTtlMs?: number;
  logger: Logger;
  now?: () => number;
}

/** What the cache holds for a name, without asking the store: a secret, a fresh "absent", or nothing. */
export type CacheKnowledge = 'found' | 'absent' | 'nothing';

/** A Map used as a least-recently-used list: insertion order is recency order, the first key the oldest. */
class LruMap<V> extends Map<string, V> {
  constructor(private readonly capacity: number) {
    super();
  }

  touch(key: string): V | undefined {
    const value = super.get(key);
    if (value !== undefined) {
      super.delete(key);
      super.set(key, value);
    }
    return value;
  }

  override set(key: string, value: V): this {
    super.delete(key);
    super.set(key, value);
    while (this.size > this.capacity) this.delete(this.keys().next().value as string);
    return this;
  }
}

/**
 * A per-container cache in front of a SecretStore.
 * - A value is kept for `ttlMs`; the fact that a secret does not exist for `absentTtlMs`.
 * - Both lists are bounded (least recently used out first) and apart from each other: names that do not exist,
 *   which anyone can make up, never push a real secret out, and never grow the container's memory unbounded.
 * - Concurrent misses for one name share a single store read, so a cold container hit by 100 requests at once
 *   still makes one GetSecretValue per secret.
 * - If a refresh fails, the last good value keeps being served for up to `staleMs` past its TTL, and the
 *   failure is logged; after that the error reaches the caller. While the store is failing it is asked again
 *   at most once per `failureBackoffMs`, so a hanging Secrets Manager does not add its timeout to every request.
 */
export class SecretCache {
  private readonly found: LruMap<Entry>;
  private readonly absent: LruMap<Entry>;
  private readonly inflight = new Map<string, Promise<string | undefined>>();
  /** The last failed read of a name with nothing servable cached: repeated at once until the backoff ends. */
  private readonly failures: LruMap<{ until: number; error: unknown }>;
  private readonly now: () => number;
  private readonly absentTtlMs: number;

  constructor(
    private readonly store: SecretStore,
    private readonly options: SecretCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.found = new LruMap(options.maxEntries ?? 10_000);
    this.absent = new LruMap(options.maxAbsent ?? 2_000);
    this.failures = new LruMap(options.maxAbsent ?? 2_000);
    this.absentTtlMs = Math.min(options.ttlMs, options.absentTtlMs ?? options.ttlMs);
  }

  /** Entries held now (secrets found plus names found absent); never more than the two bounds together. */
  get size(): number {
    return this.found.size + this.absent.size;
  }

  /** What a `get` would start from, without reading the store or changing the recency order. */
  knowledge(name: string): CacheKnowledge {
    if (this.found.has(name)) return 'found';
    const absent = this.absent.get(name);
    return absent && this.now() - absent.fetchedAt < this.absentTtlMs ? 'absent' : 'nothing';
  }

  async get(name: string, { fresh = false }: { fresh?: boolean } = {}): Promise<string | undefined> {
    const entry = this.entry(name);
    if (!fresh && entry && this.now() - entry.fetchedAt < this.ttlOf(entry)) return entry.value;
    if (!fresh && entry?.retryAt !== undefined && this.now() < entry.retryAt && this.servable(entry))
      return entry.value;
    const failure = this.failures.get(name);
    if (!fresh && failure && this.now() < failure.until) throw failure.error;
    const pending = this.inflight.get(name);
    if (pending) return pending;

    const load = this.store
      .read(name)
      .then((value) => {
        this.remember(name, { value, fetchedAt: this.now() });
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
    return this.now() - entry.fetchedAt < this.ttlOf(entry) + this.options.staleMs;
  }

  private ttlOf(entry: Entry): number {
    return entry.value === undefined ? this.absentTtlMs : this.options.ttlMs;
  }

  /** The entry for `name`, made most recently used; one past serving, even stale, is dropped. */
  private entry(name: string): Entry | undefined {
    const entry = this.found.touch(name) ?? this.absent.touch(name);
    if (entry && !this.servable(entry)) {
      this.found.delete(name);
      this.absent.delete(name);
      return undefined;
    }
    return entry;
  }

  private remember(name: string, entry: Entry): void {
    if (entry.value === undefined) {
      this.found.delete(name);
      this.absent.set(name, entry);
    } else {
      this.absent.delete(name);
      this.found.set(name, entry);
    }
  }

  /** Records a value this container just wrote, so the next read does not go back to the store. */
  set(name: string, value: string): void {
    this.remember(name, { value, fetchedAt: this.now() });
    this.failures.delete(name);
  }
}
