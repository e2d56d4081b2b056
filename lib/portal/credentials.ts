import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../config/index.js';
import { ServiceError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import { registerSecret } from '../logging/index.js';
import { noMetrics, type Metrics } from '../metrics/index.js';
import { createFileStore } from '../secrets/file-store.js';
import { SecretCache, type CacheKnowledge, type SecretCacheOptions } from '../secrets/secret-cache.js';
import { SecretStoreError, type SecretStore } from '../secrets/secret-store.js';
import { createSecretsManagerStore } from '../secrets/secrets-manager-store.js';
import {
  CredentialsFormatError,
  normalizeDomain,
  parsePortalCredentials,
  type PortalCredentials,
} from './portal-credentials.js';
import { parseTypingKeys } from './typing-keys.js';

export interface AppCredentials {
  clientId: string;
  clientSecret: string;
}

/** Secret names under the service's prefix; IAM grants access to `<prefix>/*` and nothing else. */
export function secretNames(prefix: string) {
  return {
    portal: (domain: string) => `${prefix}/portals/${domain}`,
    // A member id names one portal for good, whatever its address: the index that finds a renamed portal. Under
    // `portals/` so the functions' existing grants cover it; a domain always has a dot, `members/...` never.
    member: (memberId: string) => `${prefix}/portals/members/${memberId}`,
    typingKeys: `${prefix}/typing-keys`,
    app: `${prefix}/app`,
  };
}

const MEMBER_ID = /^[A-Za-z0-9]{1,64}$/;

function parseMemberIndex(raw: string, name: string): string {
  let domain: unknown;
  try {
    domain = (JSON.parse(raw) as { domain?: unknown } | null)?.domain;
  } catch {
    domain = undefined;
  }
  const normalized = typeof domain === 'string' ? normalizeDomain(domain) : undefined;
  if (!normalized) throw new CredentialsFormatError(`secret ${name}: needs {"domain": "<portal host>"}`);
  return normalized;
}

/** A deterministic Secrets Manager ClientRequestToken (32–64 chars) that reveals nothing of its input. */
export function versionKey(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

/**
 * The service's view of its secrets: portals by domain, the signing keys of `/typing`, and the OAuth
 * application's own credentials. Reads go through a per-container cache; parse results are memoised per raw
 * value so a warm request does no JSON work.
 */
export class Credentials {
  readonly names: ReturnType<typeof secretNames>;
  /** Identifies this container in refresh claims. */
  readonly owner = randomUUID();
  private readonly cache: SecretCache;
  private readonly parsed = new Map<string, { raw: string; value: unknown }>();
  private readonly allowLoopbackEndpoints: boolean;
  private readonly metrics: Metrics;

  constructor(
    readonly store: SecretStore,
    prefix: string,
    private readonly logger: Logger,
    options: Omit<SecretCacheOptions, 'logger'> & {
      /** Whether stored endpoints may be plain http on loopback (the sandbox and tests); never on Lambda. */
      allowLoopbackEndpoints?: boolean;
      /** Counts reads and writes that failed with nothing to fall back on. */
      metrics?: Metrics;
    },
  ) {
    this.names = secretNames(prefix);
    const { allowLoopbackEndpoints = false, metrics = noMetrics, ...cacheOptions } = options;
    this.allowLoopbackEndpoints = allowLoopbackEndpoints;
    this.metrics = metrics;
    this.cache = new SecretCache(store, { ...cacheOptions, logger });
  }

  static fromConfig(config: Config, logger: Logger, store?: SecretStore, metrics?: Metrics): Credentials {
    const chosen =
      store ??
      (config.credentialsSource.kind === 'file'
        ? createFileStore(config.credentialsSource.path)
        : createSecretsManagerStore({ timeoutMs: config.secretsTimeoutMs, kmsKeyId: config.secretsKmsKeyId }));
    return new Credentials(chosen, config.secretsPrefix, logger, {
      ttlMs: config.secretsCacheTtlSeconds * 1000,
      staleMs: config.secretsStaleSeconds * 1000,
      failureBackoffMs: config.secretsFailureBackoffMs,
      maxEntries: config.secretsCacheMaxEntries,
      maxAbsent: config.secretsCacheMaxAbsent,
      absentTtlMs: config.secretsAbsentTtlSeconds * 1000,
      allowLoopbackEndpoints: config.allowLoopbackEndpoints,
      metrics,
    });
  }

  private readonly parsePortal = (raw: string, name: string): PortalCredentials =>
    parsePortalCredentials(raw, name, { allowLoopback: this.allowLoopbackEndpoints });

  /** Secrets and "absent" answers this container holds; bounded by the cache's two limits. */
  get cachedEntries(): number {
    return this.cache.size;
  }

  /**
   * What this container holds for the domain without asking the store: a portal it has read before, a name it
   * found absent a short while ago (or one that cannot be a portal), or nothing, which costs a secret read.
   */
  portalKnowledge(domain: string): CacheKnowledge {
    const normalized = normalizeDomain(domain);
    return normalized === undefined ? 'absent' : this.cache.knowledge(this.names.portal(normalized));
  }

  private async read<T>(name: string, parse: (raw: string, name: string) => T, fresh = false): Promise<T | undefined> {
    let raw: string | undefined;
    try {
      raw = await this.cache.get(name, { fresh });
    } catch (error) {
      if (error instanceof SecretStoreError) {
        this.metrics.add('CredentialFailures');
        this.logger.error('secret store unavailable', { secret: name, error });
        throw new ServiceError('CREDENTIALS_UNAVAILABLE', 'Credentials are unavailable right now; retry shortly.', {
          retryAfterSeconds: 5,
          cause: error,
        });
      }
      throw error;
    }
    if (raw === undefined) return undefined;
    const memo = this.parsed.get(name);
    if (memo && memo.raw === raw) return memo.value as T;
    try {
      const value = parse(raw, name);
      this.parsed.set(name, { raw, value });
      return value;
    } catch (error) {
      if (error instanceof CredentialsFormatError) {
        this.logger.error('secret is malformed', { secret: name, reason: error.message });
        throw new ServiceError('INTERNAL_ERROR', 'Stored credentials are malformed; the operators have been told.', {
          cause: error,
        });
      }
      throw error;
    }
  }

  /** The portal's credentials, or `undefined` when no secret exists for that domain. */
  async portal(domain: string, { fresh = false } = {}): Promise<PortalCredentials | undefined> {
    const normalized = normalizeDomain(domain);
    if (!normalized) return undefined;
    return this.read(this.names.portal(normalized), this.parsePortal, fresh);
  }

  /** The domain last stored for a portal's member id, or `undefined` when none is (or the id is malformed). */
  async domainOfMember(memberId: string): Promise<string | undefined> {
    if (!MEMBER_ID.test(memberId)) return undefined;
    return this.read(this.names.member(memberId), parseMemberIndex);
  }

  /**
   * Points the member-id index at `portal.domain`. A failure is logged, not thrown: the index only helps find a
   * portal after it is renamed, and must not fail the write it follows.
   */
  async indexMember(portal: PortalCredentials): Promise<void> {
    if (portal.memberId === undefined || !MEMBER_ID.test(portal.memberId)) return;
    const name = this.names.member(portal.memberId);
    try {
      if ((await this.domainOfMember(portal.memberId)) === portal.domain) return;
      const raw = JSON.stringify({ domain: portal.domain });
      if ((await this.store.write(name, raw)) === 'written') this.cache.set(name, raw);
    } catch (error) {
      this.logger.warn('member id index not written', { secret: name, portal: portal.domain, error });
    }
  }

  /** The live signing keys; `fresh` reads the store past the cache (a signature no cached key matched). */
  async typingKeys({ fresh = false } = {}): Promise<string[]> {
    const keys = await this.read(
      this.names.typingKeys,
      (raw, name) =>
        parseTypingKeys(raw, name, (index, bytes) =>
          this.logger.error('typing key left out: Standard Webhooks keys are 24-64 bytes; rotate it out', {
            secret: name,
            index,
            bytes,
          }),
        ),
      fresh,
    );
    if (!keys) {
      this.metrics.add('CredentialFailures');
      this.logger.error('typing keys secret is missing', { secret: this.names.typingKeys });
      throw new ServiceError('CREDENTIALS_UNAVAILABLE', 'Signing keys are not configured.', { retryAfterSeconds: 60 });
    }
    return keys;
  }

  async app(): Promise<AppCredentials | undefined> {
    return this.read(this.names.app, (raw, name) => {
      const value = JSON.parse(raw) as Partial<AppCredentials>;
      if (
        typeof value.clientId !== 'string' ||
        typeof value.clientSecret !== 'string' ||
        !value.clientId ||
        !value.clientSecret
      ) {
        throw new CredentialsFormatError(`secret ${name}: needs clientId and clientSecret`);
      }
      registerSecret(value.clientSecret);
      return { clientId: value.clientId, clientSecret: value.clientSecret };
    });
  }

  /** Stores a portal's credentials as a new version; with `key`, only the first writer of that key wins. */
  async savePortal(
    portal: PortalCredentials,
    options: { key?: string; timeoutMs?: number } = {},
  ): Promise<'written' | 'conflict'> {
    const name = this.names.portal(portal.domain);
    const raw = JSON.stringify(portal);
    // Validate before writing: a malformed secret would break every later request for this portal. Parsing also
    // registers the new secrets with the log redactor.
    this.parsePortal(raw, name);
    let outcome: 'written' | 'conflict';
    try {
      outcome = await this.store.write(name, raw, { versionKey: options.key, timeoutMs: options.timeoutMs });
    } catch (error) {
      if (error instanceof SecretStoreError) {
        this.metrics.add('CredentialFailures');
        throw new ServiceError('CREDENTIALS_UNAVAILABLE', 'Credentials could not be stored.', {
          retryAfterSeconds: 5,
          cause: error,
        });
      }
      throw error;
    }
    if (outcome === 'written') this.cache.set(name, raw);
    // Token rotations (written under a key) change nothing the index holds; installs and operators' writes do.
    if (outcome === 'written' && options.key === undefined) await this.indexMember(portal);
    return outcome;
  }

  /** Keeps a value this container holds (e.g. a rotated pair it could not store) until the next TTL. */
  remember(portal: PortalCredentials): void {
    this.cache.set(this.names.portal(portal.domain), JSON.stringify(portal));
  }
}
