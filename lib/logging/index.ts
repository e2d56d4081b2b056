/**
 * Structured logs: one JSON object per line on stdout, which Lambda ships to CloudWatch as is.
 *
 * Callers never pass a token, URL with a webhook code, client secret or signing key on purpose. As a second
 * line of defence, every secret value the credentials layer loads is registered here, and any line that
 * would contain one has it replaced before it is written.
 */
import type { Config, LogLevel } from '../config/index.js';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const REDACTED = '[redacted]';
// Short values (a numeric bot id, "true") would redact ordinary words; real secrets are far longer.
const MIN_SECRET_LENGTH = 8;

// Each secret with the form it takes inside a JSON line (quotes, backslashes and control characters escaped),
// worked out once when the secret is registered rather than on every line.
const knownSecrets = new Map<string, string>();

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= MIN_SECRET_LENGTH && !knownSecrets.has(value)) {
    knownSecrets.set(value, JSON.stringify(value).slice(1, -1));
  }
}

export function redactSecrets(text: string): string {
  let out = text;
  for (const [secret, escaped] of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    if (escaped !== secret && out.includes(escaped)) out = out.split(escaped).join(REDACTED);
  }
  return out;
}

export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  /**
   * Writes a line another reader parses (an embedded-metric record, which CloudWatch turns into metrics) as it
   * is: no level, time or base fields, whatever the level; redacted like every line.
   */
  raw(line: string): void;
}

function describeError(error: unknown): unknown {
  if (!(error instanceof Error)) return String(error);
  const out: Record<string, unknown> = { name: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (error.cause !== undefined) out.cause = describeError(error.cause);
  return out;
}

export function createLogger(options: { level?: LogLevel; base?: LogFields; sink?: LogSink } = {}): Logger {
  const level = options.level ?? 'info';
  const base = options.base ?? {};
  const sink = options.sink ?? ((line: string) => process.stdout.write(line + '\n'));
  const write = (at: LogLevel, message: string, fields: LogFields = {}): void => {
    if (ORDER[at] < ORDER[level]) return;
    const record: LogFields = { level: at, time: new Date().toISOString(), message, ...base, ...fields };
    if (record.error !== undefined) record.error = describeError(record.error);
    sink(redactSecrets(JSON.stringify(record)));
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ level, base: { ...base, ...fields }, sink }),
    raw: (line) => sink(redactSecrets(line)),
  };
}

/**
 * The logger a function uses, built once per container. Its first line tells cold starts apart in the logs and
 * shows the settings in force (no secrets).
 */
export function serviceLogger(config: Config, function_: string): Logger {
  const logger = createLogger({ level: config.logLevel, base: { service: 'bitrix24-typing', stage: config.stage } });
  logger.info('container started', {
    function: function_,
    credentialsSource: config.credentialsSource.kind,
    secretsPrefix: config.secretsPrefix,
    installsEnabled: config.installsEnabled,
    forwarding: config.eventBusName !== undefined,
  });
  return logger;
}
