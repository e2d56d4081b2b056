/**
 * Where secrets live: one port, two adapters (AWS Secrets Manager when deployed, a local JSON file for runs
 * without AWS). Values are JSON strings; the store never parses or logs them.
 */
export interface SecretStore {
  /** The current value, or `undefined` when no secret has that name. */
  read(name: string): Promise<string | undefined>;
  /**
   * Stores `value` as the new current version, creating the secret if needed. With `versionKey`, at most one
   * value can ever be written under that key: a second writer with a different value gets `'conflict'`.
   */
  write(
    name: string,
    value: string,
    options?: { versionKey?: string; timeoutMs?: number },
  ): Promise<'written' | 'conflict'>;
  /**
   * Claims `key` for this container without touching the current value. Only the first claimant of a key
   * gets `true`; everyone after gets `false`. Used so one container alone spends a rotating refresh token.
   */
  claim(name: string, key: string, owner: string, options?: { timeoutMs?: number }): Promise<boolean>;
  /** What the winner of claim `key` wrote as its owner, or `undefined` if nobody has claimed it. */
  readClaim(name: string, key: string, options?: { timeoutMs?: number }): Promise<string | undefined>;
  /** Names of the secrets that start with `prefix`, sorted. */
  list(prefix: string, options?: { timeoutMs?: number }): Promise<string[]>;
}

/** A store failure that is not "no such secret": the caller may serve a cached value instead. */
export class SecretStoreError extends Error {
  override readonly name = 'SecretStoreError';
}
