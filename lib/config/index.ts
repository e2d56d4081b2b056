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
  // Per-container memories of accepted webhook-ids and event deliveries; oldest entries go first beyond these.
  replayGuardMaxEntries: 100_000,
  deliveryGuardMaxEntries: 50_000,
  oauthServer: 'https://oauth.bitrix.info',
  installsEnabled: false,
  // The platform shows typing itself for most events; where it deliberately does not (open lines, supervisor
  // bots, keyboard commands), the service follows it unless this is on.
  typingWherePlatformDoesNot: false,
  logLevel: 'info',
} as const;

export type CredentialsSource = { kind: 'secrets-manager' } | { kind: 'file'; path: string };
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Config {
  stage: string;
  secretsPrefix: string;
  credentialsSource: CredentialsSource;
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
  replayGuardMaxEntries: number;
  deliveryGuardMaxEntries: number;
  oauthServer: string;
  installsEnabled: boolean;
  typingWherePlatformDoesNot: boolean;
  installAllowedDomains: string[];
  eventBusName: string | undefined;
  logLevel: LogLevel;
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

function secretsPrefix(env: Env, stage: string): string {
  const raw = env.SECRETS_PREFIX?.trim() || `bitrix24-typing/${stage}`;
  // Secrets Manager names allow only these characters; a trailing slash would double up in `<prefix>/portals/...`.
  if (!/^[A-Za-z0-9/_+=.@-]+$/.test(raw) || raw.endsWith('/')) {
    throw new ConfigError('SECRETS_PREFIX', `not a valid secret name prefix: "${raw}"`);
  }
  return raw;
}

function httpsOrLoopbackUrl(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim() || fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `not a URL: "${raw}"`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ConfigError(name, 'must be https (plain http only on loopback)');
  }
  return url.origin;
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function loadConfig(env: Env = process.env): Config {
  const stage = env.STAGE?.trim() || DEFAULTS.stage;
  if (!/^[A-Za-z0-9-]{1,64}$/.test(stage))
    throw new ConfigError('STAGE', `expected letters, digits and dashes, got "${stage}"`);
  const logLevel = (env.LOG_LEVEL?.trim().toLowerCase() || DEFAULTS.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}`);
  return {
    stage,
    secretsPrefix: secretsPrefix(env, stage),
    credentialsSource: credentialsSource(env),
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
    replayGuardMaxEntries: DEFAULTS.replayGuardMaxEntries,
    deliveryGuardMaxEntries: DEFAULTS.deliveryGuardMaxEntries,
    oauthServer: httpsOrLoopbackUrl(env, 'OAUTH_SERVER', DEFAULTS.oauthServer),
    installsEnabled: flag(env, 'INSTALLS_ENABLED', DEFAULTS.installsEnabled),
    typingWherePlatformDoesNot: flag(env, 'TYPING_WHERE_PLATFORM_DOES_NOT', DEFAULTS.typingWherePlatformDoesNot),
    installAllowedDomains: (env.INSTALL_ALLOWED_DOMAINS ?? '')
      .split(',')
      .map((d) => d.trim().toLowerCase())
      .filter(Boolean),
    eventBusName: env.EVENT_BUS_NAME?.trim() || undefined,
    logLevel,
  };
}
