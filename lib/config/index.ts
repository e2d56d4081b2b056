/**
 * Configuration, read and validated once per container. Every default lives in DEFAULTS below; a bad value
 * throws at start-up with the variable's name, so a misconfigured deployment fails its first invocation loudly
 * instead of misbehaving on some later request.
 */
export const DEFAULTS = {
  stage: 'dev',
  credentialsSource: 'secrets-manager',
  signatureToleranceSeconds: 300,
  bitrix24TimeoutMs: 5_000,
  bitrix24MaxAttempts: 3,
  secretsTimeoutMs: 2_000,
  secretsCacheTtlSeconds: 300,
  secretsStaleSeconds: 900,
  typingMaxBodyBytes: 16 * 1024,
  eventsMaxBodyBytes: 128 * 1024,
  eventsAnswerBudgetMs: 1_500,
  typingCoalesceMs: 10_000,
  // While Secrets Manager fails, a stale value is served and the store is asked again at most this often.
  secretsFailureBackoffMs: 5_000,
  // The share of each portal's REST budget (its leaky bucket) this service may spend; the rest is left for the
  // portal's other applications.
  portalBudgetSharePercent: 80,
  // A bot event's delivery is acted on once within this time (Bitrix24 itself never redelivers).
  deliveryMemorySeconds: 600,
  // One shared-state (DynamoDB) call on a request's critical path; past it, this container's memory answers.
  // DynamoDB answers in single-digit milliseconds; an emulator that queues every request needs more.
  stateCallTimeoutMs: 250,
  oauthServer: 'https://oauth.bitrix.info',
  installsEnabled: false,
  // The platform shows typing itself for most events; where it deliberately does not (open lines, supervisor
  // bots, keyboard commands), the service follows it unless this is on.
  typingWherePlatformDoesNot: false,
  logLevel: 'info',
  // Embedded-metric records in the log stream (README, "Metrics"); tracing needs the Powertools layer a
  // deployment adds with TRACING=true, so it is off unless that deployment turns it on.
  metricsEnabled: true,
  tracingEnabled: false,
  // Per container: at most this many secrets (portals found) are cached, least recently used out first; names
  // found absent are kept apart, in a smaller list of their own, so unknown names never push a portal out.
  secretsCacheMaxEntries: 10_000,
  secretsCacheMaxAbsent: 2_000,
  // A name found absent is remembered this long (or the cache TTL, if shorter): a portal just added is
  // recognised within a minute.
  secretsAbsentTtlSeconds: 60,
  // A signature that matches no cached key makes the container re-read the keys (a key just rotated in works at
  // once), but at most this often, so forged requests cannot turn into Secrets Manager calls.
  typingKeysRereadSeconds: 5,
  // Lookups of names this container holds nothing for that turn out absent: a burst, then a steady rate per
  // second. Beyond it an unknown name is refused with the same 401, without a lookup.
  unknownPortalLookupBurst: 10,
  unknownPortalLookupsPerSecond: 1,
  // Every refused event answers no sooner than this after it arrived, so timing does not tell a portal this
  // container has cached (an active one) from a name it had to look up.
  eventsRefusalFloorMs: 100,
  // A refresh token the OAuth server called invalid_grant is not tried again for this long (per container).
  deadRefreshTokenMemoryMs: 5 * 60_000,
  // Plain http to loopback endpoints (the sandbox, the tests) is refused on AWS Lambda unless set explicitly:
  // there, 127.0.0.1 is the Lambda Runtime API.
  allowLoopbackEndpointsOnLambda: false,
  allowLoopbackEndpointsElsewhere: true,
} as const;

export type CredentialsSource = { kind: 'secrets-manager' } | { kind: 'file'; path: string };
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Config {
  stage: string;
  secretsPrefix: string;
  credentialsSource: CredentialsSource;
  /** The customer-managed KMS key (its ARN) new secrets are encrypted with; undefined: aws/secretsmanager. */
  secretsKmsKeyId: string | undefined;
  signatureToleranceSeconds: number;
  bitrix24TimeoutMs: number;
  bitrix24MaxAttempts: number;
  secretsTimeoutMs: number;
  secretsCacheTtlSeconds: number;
  secretsStaleSeconds: number;
  typingMaxBodyBytes: number;
  eventsMaxBodyBytes: number;
  eventsAnswerBudgetMs: number;
  typingCoalesceMs: number;
  secretsFailureBackoffMs: number;
  portalBudgetSharePercent: number;
  deliveryMemorySeconds: number;
  /** The shared-state table; undefined: state is this container's memory only. */
  stateTable: string | undefined;
  stateCallTimeoutMs: number;
  oauthServer: string;
  installsEnabled: boolean;
  typingWherePlatformDoesNot: boolean;
  installAllowedDomains: string[];
  /** Domains events may name (exact, or `*.suffix`); empty: any. Others are refused before any lookup. */
  portalDomains: string[];
  secretsCacheMaxEntries: number;
  secretsCacheMaxAbsent: number;
  secretsAbsentTtlSeconds: number;
  typingKeysRereadSeconds: number;
  unknownPortalLookupBurst: number;
  unknownPortalLookupsPerSecond: number;
  eventsRefusalFloorMs: number;
  deadRefreshTokenMemoryMs: number;
  /** Whether stored endpoints and OAUTH_SERVER may be plain http on loopback. */
  allowLoopbackEndpoints: boolean;
  eventBusName: string | undefined;
  logLevel: LogLevel;
  metricsEnabled: boolean;
  tracingEnabled: boolean;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `expected ${min}..${max}, got ${value}`);
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function credentialsSource(env: Env): CredentialsSource {
  const raw = env.CREDENTIALS_SOURCE?.trim() || DEFAULTS.credentialsSource;
  if (raw === 'secrets-manager') return { kind: 'secrets-manager' };
  if (raw.startsWith('file:') && raw.length > 'file:'.length) return { kind: 'file', path: raw.slice('file:'.length) };
  throw new ConfigError('CREDENTIALS_SOURCE', `expected "secrets-manager" or "file:<path>", got "${raw}"`);
}

// A key ARN, not an alias or a bare id: serverless.yml grants the functions that very resource.
function kmsKeyArn(env: Env): string | undefined {
  const raw = env.SECRETS_KMS_KEY_ID?.trim();
  if (!raw) return undefined;
  if (!/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/.test(raw)) {
    throw new ConfigError(
      'SECRETS_KMS_KEY_ID',
      `expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), got "${raw}"`,
    );
  }
  return raw;
}

function secretsPrefix(env: Env, stage: string): string {
  const raw = env.SECRETS_PREFIX?.trim() || `bitrix24-typing/${stage}`;
  // Secrets Manager names allow only these characters; a trailing slash would double up in `<prefix>/portals/...`.
  if (!/^[A-Za-z0-9/_+=.@-]+$/.test(raw) || raw.endsWith('/')) {
    throw new ConfigError('SECRETS_PREFIX', `not a valid secret name prefix: "${raw}"`);
  }
  return raw;
}

function httpsOrLoopbackUrl(env: Env, name: string, fallback: string, allowLoopback: boolean): string {
  const raw = env[name]?.trim() || fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `not a URL: "${raw}"`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback && allowLoopback)) {
    throw new ConfigError(
      name,
      'must be https (plain http only on loopback, where ALLOW_LOOPBACK_ENDPOINTS allows it)',
    );
  }
  return url.origin;
}

// Exact host names or `*.suffix` wildcards, lower-cased. A rule that is neither would silently match nothing.
const DOMAIN_RULE = /^(\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

function domainList(env: Env, name: string): string[] {
  const rules = (env[name] ?? '')
    .split(',')
    .map((d) => d.trim().toLowerCase())
    .filter(Boolean);
  const bad = rules.find((rule) => !DOMAIN_RULE.test(rule));
  if (bad !== undefined) throw new ConfigError(name, `expected domains or *.suffix wildcards, got "${bad}"`);
  return rules;
}

// Lambda sets AWS_LAMBDA_FUNCTION_NAME; serverless-offline sets it too, and IS_OFFLINE beside it.
function onLambda(env: Env): boolean {
  return Boolean(env.AWS_LAMBDA_FUNCTION_NAME) && !env.IS_OFFLINE;
}

function stateTable(env: Env): string | undefined {
  const raw = env.STATE_TABLE?.trim();
  if (!raw) return undefined;
  // DynamoDB table names: 3-255 of these characters.
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(raw)) throw new ConfigError('STATE_TABLE', `not a DynamoDB table name: "${raw}"`);
  return raw;
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function loadConfig(env: Env = process.env): Config {
  const stage = env.STAGE?.trim() || DEFAULTS.stage;
  if (!/^[A-Za-z0-9-]{1,64}$/.test(stage))
    throw new ConfigError('STAGE', `expected letters, digits and dashes, got "${stage}"`);
  const logLevel = (env.LOG_LEVEL?.trim().toLowerCase() || DEFAULTS.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}`);
  const allowLoopbackEndpoints = flag(
    env,
    'ALLOW_LOOPBACK_ENDPOINTS',
    onLambda(env) ? DEFAULTS.allowLoopbackEndpointsOnLambda : DEFAULTS.allowLoopbackEndpointsElsewhere,
  );
  return {
    stage,
    secretsPrefix: secretsPrefix(env, stage),
    credentialsSource: credentialsSource(env),
    secretsKmsKeyId: kmsKeyArn(env),
    signatureToleranceSeconds: integer(env, 'SIGNATURE_TOLERANCE_SECONDS', DEFAULTS.signatureToleranceSeconds, 1, 3600),
    bitrix24TimeoutMs: integer(env, 'BITRIX24_TIMEOUT_MS', DEFAULTS.bitrix24TimeoutMs, 100, 60_000),
    bitrix24MaxAttempts: integer(env, 'BITRIX24_MAX_ATTEMPTS', DEFAULTS.bitrix24MaxAttempts, 1, 10),
    secretsTimeoutMs: integer(env, 'SECRETS_TIMEOUT_MS', DEFAULTS.secretsTimeoutMs, 100, 30_000),
    secretsCacheTtlSeconds: integer(env, 'SECRETS_CACHE_TTL_SECONDS', DEFAULTS.secretsCacheTtlSeconds, 0, 86_400),
    secretsStaleSeconds: integer(env, 'SECRETS_STALE_SECONDS', DEFAULTS.secretsStaleSeconds, 0, 86_400),
    typingMaxBodyBytes: DEFAULTS.typingMaxBodyBytes,
    eventsMaxBodyBytes: DEFAULTS.eventsMaxBodyBytes,
    eventsAnswerBudgetMs: integer(env, 'EVENTS_ANSWER_BUDGET_MS', DEFAULTS.eventsAnswerBudgetMs, 200, 10_000),
    // Well under the ~35 s the web client shows the indicator, so it never lapses for a caller who keeps asking.
    typingCoalesceMs: integer(env, 'TYPING_COALESCE_MS', DEFAULTS.typingCoalesceMs, 0, 25_000),
    secretsFailureBackoffMs: DEFAULTS.secretsFailureBackoffMs,
    portalBudgetSharePercent: integer(env, 'PORTAL_BUDGET_SHARE_PERCENT', DEFAULTS.portalBudgetSharePercent, 1, 100),
    deliveryMemorySeconds: DEFAULTS.deliveryMemorySeconds,
    stateTable: stateTable(env),
    stateCallTimeoutMs: integer(env, 'STATE_CALL_TIMEOUT_MS', DEFAULTS.stateCallTimeoutMs, 50, 5_000),
    oauthServer: httpsOrLoopbackUrl(env, 'OAUTH_SERVER', DEFAULTS.oauthServer, allowLoopbackEndpoints),
    installsEnabled: flag(env, 'INSTALLS_ENABLED', DEFAULTS.installsEnabled),
    typingWherePlatformDoesNot: flag(env, 'TYPING_WHERE_PLATFORM_DOES_NOT', DEFAULTS.typingWherePlatformDoesNot),
    installAllowedDomains: domainList(env, 'INSTALL_ALLOWED_DOMAINS'),
    portalDomains: domainList(env, 'PORTAL_DOMAINS'),
    secretsCacheMaxEntries: DEFAULTS.secretsCacheMaxEntries,
    secretsCacheMaxAbsent: DEFAULTS.secretsCacheMaxAbsent,
    secretsAbsentTtlSeconds: DEFAULTS.secretsAbsentTtlSeconds,
    typingKeysRereadSeconds: DEFAULTS.typingKeysRereadSeconds,
    unknownPortalLookupBurst: integer(
      env,
      'UNKNOWN_PORTAL_LOOKUP_BURST',
      DEFAULTS.unknownPortalLookupBurst,
      1,
      100_000,
    ),
    unknownPortalLookupsPerSecond: integer(
      env,
      'UNKNOWN_PORTAL_LOOKUPS_PER_SECOND',
      DEFAULTS.unknownPortalLookupsPerSecond,
      0,
      100_000,
    ),
    eventsRefusalFloorMs: integer(env, 'EVENTS_REFUSAL_FLOOR_MS', DEFAULTS.eventsRefusalFloorMs, 0, 1_000),
    deadRefreshTokenMemoryMs: DEFAULTS.deadRefreshTokenMemoryMs,
    allowLoopbackEndpoints,
    eventBusName: env.EVENT_BUS_NAME?.trim() || undefined,
    logLevel,
    metricsEnabled: flag(env, 'METRICS_ENABLED', DEFAULTS.metricsEnabled),
    tracingEnabled: flag(env, 'TRACING_ENABLED', DEFAULTS.tracingEnabled),
  };
}
