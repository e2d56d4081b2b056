// The options a typing client is built from: checked once, when the client is built, so a missing URL or key
// fails at start-up with its name instead of on the first request.
import { isSigningKey } from '../signing/signing-key.js';
import { TypingClientOptionsError } from './errors.js';
import type { TypingClientOptions } from './typing-client.js';

const DEFAULTS = { timeoutMs: 10_000, maxAttempts: 4, baseMs: 250, capMs: 4_000, deadlineMs: 15_000 } as const;

const shown = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));
// The usual cause of a missing option: `process.env.TYPING_URL!` read from an environment that does not set it.
const UNSET = 'is the environment variable you read it from set?';

function endpointOf(base: unknown): string {
  if (base === undefined || base === null || base === '')
    throw new TypingClientOptionsError('url', `url is missing (got ${shown(base)}; ${UNSET})`);
  if (typeof base !== 'string' || !URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) {
    throw new TypingClientOptionsError(
      'url',
      `url must be the service's http(s) base URL, e.g. https://abc123.execute-api.eu-central-1.amazonaws.com (got ${shown(base)})`,
    );
  }
  const url = new URL(base);
  if (!url.pathname.endsWith('/typing')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/typing`;
  return url.toString();
}

function keysOf(key: unknown): string[] {
  if (key === undefined || key === null || key === '')
    throw new TypingClientOptionsError(
      'key',
      `key is missing: pass the whsec_... signing key you were given (got ${shown(key)}; ${UNSET})`,
    );
  const keys = typeof key === 'string' ? [key] : Array.isArray(key) ? [...(key as unknown[])] : undefined;
  // Never echo a key: it is a credential, and a near-miss may be a real one.
  if (keys === undefined || keys.length === 0 || keys.some((k) => !isSigningKey(k))) {
    throw new TypingClientOptionsError(
      'key',
      'key must be a whsec_<base64> signing key of 24-64 bytes (Standard Webhooks), or a non-empty array of them',
    );
  }
  return keys as string[];
}

/** The validated options, with their defaults filled in. */
export interface ClientSettings {
  endpoint: string;
  keys: string[];
  doFetch: typeof fetch;
  timeoutMs: number;
  maxAttempts: number;
  baseMs: number;
  capMs: number;
  /** Time budget of one sendTyping when the caller gives none. */
  deadlineMs: number;
}

export function settingsOf(options: TypingClientOptions): ClientSettings {
  if (options === null || typeof options !== 'object')
    throw new TypingClientOptionsError('options', 'pass { url, key } (the service URL and your signing key)');
  return {
    endpoint: endpointOf(options.url),
    keys: keysOf(options.key),
    doFetch: options.fetch ?? globalThis.fetch,
    timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
    maxAttempts: Math.max(1, options.maxAttempts ?? DEFAULTS.maxAttempts),
    baseMs: options.backoff?.baseMs ?? DEFAULTS.baseMs,
    capMs: options.backoff?.capMs ?? DEFAULTS.capMs,
    deadlineMs: DEFAULTS.deadlineMs,
  };
}
