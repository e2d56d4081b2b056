import { describe, expect, it } from 'vitest';
import { SecretCache } from '../../../lib/secrets/secret-cache.js';
import { SecretStoreError } from '../../../lib/secrets/secret-store.js';
import { MemoryStore } from '../../support/memory-store.js';
import { createLogger } from '../../../lib/logging/index.js';

function setup(options: { ttlMs?: number; staleMs?: number } = {}) {
  let now = 1_700_000_000_000;
  const store = new MemoryStore();
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', sink: (line) => lines.push(line) });
  const cache = new SecretCache(store, {
    ttlMs: options.ttlMs ?? 300_000,
    staleMs: options.staleMs ?? 900_000,
    logger,
    now: () => now,
  });
  return {
    store,
    cache,
    warnings: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((r) => r.level === 'warn'),
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const NAME = 'bitrix24-typing/test/portals/example.bitrix24.com';

describe('SecretCache', () => {
  it('reads a secret from the store on first use', () => {
    // Prepare
    const { store, cache } = setup();
    store.values.set(NAME, '{"v":1}');

    // Act / Assess
    return expect(cache.get(NAME)).resolves.toBe('{"v":1}');
  });

  it('serves a repeat read within the TTL without going back to the store', async () => {
    // Prepare
    const { store, cache, advance } = setup({ ttlMs: 300_000 });
    store.values.set(NAME, '{"v":1}');
    await cache.get(NAME);
    store.values.set(NAME, '{"v":2}');
    advance(299_999);

    // Act
    const value = await cache.get(NAME);

    // Assess
    expect(value).toBe('{"v":1}');
    expect(store.reads).toBe(1);
  });

  it('reads the store again once the TTL has passed', async () => {
    // Prepare
    const { store, cache, advance } = setup({ ttlMs: 300_000 });
    store.values.set(NAME, '{"v":1}');
    await cache.get(NAME);
    store.values.set(NAME, '{"v":2}');
    advance(300_000);

    // Act
    const value = await cache.get(NAME);

    // Assess
    expect(value).toBe('{"v":2}');
    expect(store.reads).toBe(2);
  });

  it('keeps different secrets apart', async () => {
    // Prepare
    const { store, cache } = setup();
    store.values.set('a/one', 'first');
    store.values.set('a/two', 'second');

    // Act
    const values = [await cache.get('a/one'), await cache.get('a/two')];

    // Assess
    expect(values).toEqual(['first', 'second']);
    expect(store.reads).toBe(2);
  });

  it('makes one store read for 100 concurrent misses of one secret', async () => {
    // Prepare
    const { store, cache } = setup();
    store.values.set(NAME, '{"v":1}');
    store.hold();

    // Act
    const pending = Array.from({ length: 100 }, () => cache.get(NAME));
    store.release();
    const values = await Promise.all(pending);

    // Assess
    expect(store.reads).toBe(1);
    expect(new Set(values)).toEqual(new Set(['{"v":1}']));
  });

  it('shares one failure among concurrent misses when nothing is cached', async () => {
    // Prepare
    const { store, cache } = setup();
    store.failing = true;
    store.hold();

    // Act
    const pending = Array.from({ length: 10 }, () => cache.get(NAME));
    store.release();
    const outcomes = await Promise.allSettled(pending);

    // Assess
    expect(store.reads).toBe(1);
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof SecretStoreError)).toBe(true);
  });

  it('remembers that a secret does not exist', async () => {
    // Prepare
    const { store, cache, advance } = setup({ ttlMs: 300_000 });
    await cache.get(NAME);
    store.values.set(NAME, '{"v":1}');
    advance(1_000);

    // Act
    const value = await cache.get(NAME);

    // Assess
    expect(value).toBeUndefined();
    expect(store.reads).toBe(1);
  });

  it('finds a secret created after the "not found" answer has expired', async () => {
    // Prepare
    const { store, cache, advance } = setup({ ttlMs: 300_000 });
    await cache.get(NAME);
    store.values.set(NAME, '{"v":1}');
    advance(300_000);

    // Act
    const value = await cache.get(NAME);

    // Assess
    expect(value).toBe('{"v":1}');
  });

  it('reads the store when asked for a fresh value, even within the TTL', async () => {
    // Prepare
    const { store, cache } = setup();
    store.values.set(NAME, '{"v":1}');
    await cache.get(NAME);
    store.values.set(NAME, '{"v":2}');

    // Act
    const value = await cache.get(NAME, { fresh: true });

    // Assess
    expect(value).toBe('{"v":2}');
    expect(store.reads).toBe(2);
    expect(await cache.get(NAME)).toBe('{"v":2}');
    expect(store.reads).toBe(2);
  });

  it('serves the last good value and logs a warning when a refresh fails within the stale window', async () => {
    // Prepare
    const { store, cache, advance, warnings } = setup({ ttlMs: 300_000, staleMs: 900_000 });
    store.values.set(NAME, '{"v":1}');
    await cache.get(NAME);
    store.failing = true;
    advance(300_000 + 900_000 - 1);

    // Act
    const value = await cache.get(NAME);

    // Assess
    expect(value).toBe('{"v":1}');
    expect(store.reads).toBe(2);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ secret: NAME, error: { name: 'SecretStoreError' } });
  });

  it('serves a cached "not found" while the store is failing within the stale window', async () => {
    // Prepare
    const { store, cache, advance, warnings } = setup({ ttlMs: 1_000, staleMs: 10_000 });
    await cache.get(NAME);
    store.failing = true;
    advance(5_000);

    // Act
    const value = await cache.get(NAME);

    // Assess
    expect(value).toBeUndefined();
    expect(warnings()).toHaveLength(1);
  });

  it('keeps trying the store (once per failure backoff) while serving a stale value, and recovers when it answers', async () => {
    // Prepare
    const { store, cache, advance } = setup({ ttlMs: 1_000, staleMs: 10_000 });
    store.values.set(NAME, 'old');
    await cache.get(NAME);
    store.failing = true;
    advance(2_000);
    await cache.get(NAME);
    store.failing = false;
    store.values.set(NAME, 'new');
    advance(5_000);

    // Act
    const value = await cache.get(NAME);

    // Assess
    expect(value).toBe('new');
    expect(store.reads).toBe(3);
  });

  it('passes the store failure on once the stale window has passed', async () => {
    // Prepare
    const { store, cache, advance } = setup({ ttlMs: 300_000, staleMs: 900_000 });
    store.values.set(NAME, '{"v":1}');
    await cache.get(NAME);
    store.failing = true;
    advance(300_000 + 900_000);

    // Act / Assess
    await expect(cache.get(NAME)).rejects.toBeInstanceOf(SecretStoreError);
  });

  it('passes the store failure on when nothing was ever cached', async () => {
    // Prepare
    const { store, cache, warnings } = setup();
    store.failing = true;

    // Act / Assess
    await expect(cache.get(NAME)).rejects.toBeInstanceOf(SecretStoreError);
    expect(warnings()).toHaveLength(0);
  });

  it('passes the store failure on when a fresh value was asked for', async () => {
    // Prepare
    const { store, cache } = setup();
    store.values.set(NAME, '{"v":1}');
    await cache.get(NAME);
    store.failing = true;

    // Act / Assess
    await expect(cache.get(NAME, { fresh: true })).rejects.toBeInstanceOf(SecretStoreError);
  });

  it('serves a value this container just wrote without reading the store', async () => {
    // Prepare
    const { store, cache } = setup();

    // Act
    cache.set(NAME, '{"v":"written"}');
    const value = await cache.get(NAME);

    // Assess
    expect(value).toBe('{"v":"written"}');
    expect(store.reads).toBe(0);
  });
});

describe('SecretCache while the store keeps failing', () => {
  it('asks a failing store at most once per backoff and serves the stale value meanwhile', async () => {
    // Prepare
    let now = 0;
    let reads = 0;
    let failing = false;
    const store = {
      read: async () => {
        reads += 1;
        if (failing) throw new SecretStoreError('down');
        return '{"v":1}';
      },
      write: async () => 'written' as const,
      claim: async () => true,
      readClaim: async () => undefined,
      list: async () => [],
    };
    const cache = new SecretCache(store, {
      ttlMs: 1_000,
      staleMs: 60_000,
      failureBackoffMs: 5_000,
      logger: createLogger({ sink: () => undefined }),
      now: () => now,
    });
    await cache.get('s');
    failing = true;
    now = 2_000;
    // Act: ten requests inside one backoff window, then one after it
    const values = [];
    for (let i = 0; i < 10; i += 1) values.push(await cache.get('s'));
    now = 7_500;
    values.push(await cache.get('s'));
    // Assess
    expect(values.every((v) => v === '{"v":1}')).toBe(true);
    expect(reads).toBe(3); // the warm read, one failed refresh, one retry after the backoff
  });
});

describe('SecretCache bounds', () => {
  function bounded(options: { maxEntries?: number; maxAbsent?: number; absentTtlMs?: number } = {}) {
    let now = 1_700_000_000_000;
    const store = new MemoryStore();
    const cache = new SecretCache(store, {
      ttlMs: 300_000,
      staleMs: 900_000,
      logger: createLogger({ sink: () => undefined }),
      now: () => now,
      ...options,
    });
    return { store, cache, advance: (ms: number) => (now += ms) };
  }

  it('keeps at most maxEntries secrets, dropping the least recently used first', async () => {
    // Prepare
    const { store, cache } = bounded({ maxEntries: 3 });
    for (const name of ['a', 'b', 'c', 'd']) store.values.set(name, `value of ${name}`);
    await cache.get('a');
    await cache.get('b');
    await cache.get('c');
    await cache.get('a'); // a is now the most recently used; b the least

    // Act
    await cache.get('d');

    // Assess
    expect(cache.size).toBe(3);
    expect([cache.knowledge('a'), cache.knowledge('b'), cache.knowledge('c'), cache.knowledge('d')]).toEqual([
      'found',
      'nothing',
      'found',
      'found',
    ]);
  });

  it('never lets names found absent push a secret out', async () => {
    // Prepare
    const { store, cache } = bounded({ maxEntries: 2, maxAbsent: 5 });
    store.values.set('portal', 'value');
    await cache.get('portal');

    // Act
    for (let i = 0; i < 1_000; i += 1) await cache.get(`made-up-${i}`);

    // Assess
    expect(cache.knowledge('portal')).toBe('found');
    expect(cache.size).toBe(1 + 5);
  });

  it('remembers "absent" for absentTtlMs only, shorter than the TTL of a secret', async () => {
    // Prepare
    const { store, cache, advance } = bounded({ absentTtlMs: 60_000 });
    await cache.get('new-portal');
    store.values.set('new-portal', 'added by the operator');

    // Act
    advance(59_999);
    const before = await cache.get('new-portal');
    advance(1);
    const after = await cache.get('new-portal');

    // Assess
    expect([before, after]).toEqual([undefined, 'added by the operator']);
    expect(store.reads).toBe(2);
  });

  it('tells what it holds without reading the store', async () => {
    // Prepare
    const { store, cache, advance } = bounded({ absentTtlMs: 60_000 });
    store.values.set('portal', 'value');
    await cache.get('portal');
    await cache.get('absent');

    // Act
    const now = [cache.knowledge('portal'), cache.knowledge('absent'), cache.knowledge('never-asked')];
    advance(60_000);
    const later = [cache.knowledge('portal'), cache.knowledge('absent')];

    // Assess
    expect(now).toEqual(['found', 'absent', 'nothing']);
    expect(later).toEqual(['found', 'nothing']);
    expect(store.reads).toBe(2);
  });

  it('drops a secret past its stale window instead of keeping it', async () => {
    // Prepare
    const { store, cache, advance } = bounded();
    store.values.set('portal', 'value');
    await cache.get('portal');
    store.values.delete('portal');

    // Act
    advance(300_000 + 900_000);
    const value = await cache.get('portal');

    // Assess
    expect(value).toBeUndefined();
    expect(cache.knowledge('portal')).toBe('absent');
  });
});
