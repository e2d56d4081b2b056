import { registerSecret } from '../logging/index.js';

/** Credentials of a portal whose bot was registered through an inbound webhook. */
export interface WebhookCredentials {
  /** `https://<portal>/rest/<user_id>/<code>/`: the code is a password. */
  url: string;
  /** The CLIENT_ID given to `imbot.register`; required for imbot calls through a webhook. */
  clientId?: string;
  /**
   * The token this service puts in the `webhookUrl` of the portal's v2 bots (`?eventsToken=<token>`), which their
   * events must bring back: the docs do not say what such a bot's events carry as `auth[application_token]`.
   */
  eventsToken?: string;
}

/** Credentials of a portal that installed our OAuth application. The pair rotates on every refresh. */
export interface OAuthCredentials {
  clientId: string;
  clientSecret: string;
  accessToken: string;
  refreshToken: string;
  /** Unix seconds. */
  expiresAt: number;
  clientEndpoint: string;
  serverEndpoint: string;
}

/**
 * What the service knows of one bot on the portal, under `bots["<BOT_ID>"]`. All optional: a bot without a record
 * is a v1 bot of type `B`.
 */
export interface BotRecord {
  /** The chat-bot API the bot was registered with; it decides the format of its events and the typing method. */
  api?: 'v1' | 'v2';
  /** A v2 bot's `botToken` from registration, needed for its webhook calls. A password (16–40 characters). */
  botToken?: string;
  /** As registered: v1 `B`, `H`, `O`, `S`; v2 `bot`, `personal`, `openline`, `supervisor`. */
  type?: string;
}

interface PortalCommon {
  domain: string;
  memberId?: string;
  /** The `auth[application_token]` this portal's events carry (OAuth application bots). */
  applicationToken?: string;
  /** The bot to use when a caller names none. */
  botId?: number;
  /** Per-bot records keyed by BOT_ID. */
  bots?: Record<string, BotRecord>;
  /** The portal's REST leaky bucket when it is not the common plan's (Enterprise: 250 at once, 5/s). */
  rateLimit?: PortalRateLimit;
}

export interface PortalRateLimit {
  burst: number;
  perSecond: number;
}

/** Most plans: a burst of 50 requests, drained at 2 per second. */
export const DEFAULT_RATE_LIMIT: PortalRateLimit = { burst: 50, perSecond: 2 };

function rateLimitOf(value: unknown, secretName: string): PortalRateLimit | undefined {
  if (value === undefined) return undefined;
  const { burst, perSecond } = (value ?? {}) as Record<string, unknown>;
  const positive = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
  if (!positive(burst) || !Number.isInteger(burst) || !positive(perSecond)) {
    throw new CredentialsFormatError(`secret ${secretName}: rateLimit needs a whole burst and a perSecond above 0`);
  }
  return { burst, perSecond };
}

/** The chat-bot API a bot was registered with: its record says, and a bot without one is v1. */
export function botApiOf(portal: { bots?: Record<string, BotRecord> }, botId: number | undefined): 'v1' | 'v2' {
  return botId !== undefined && portal.bots?.[String(botId)]?.api === 'v2' ? 'v2' : 'v1';
}

/** A supervisor bot reads every message of its chats; the platform never shows typing for it. */
export function isSupervisorBot(portal: { bots?: Record<string, BotRecord> }, botId: number): boolean {
  const type = portal.bots?.[String(botId)]?.type;
  return type === 'S' || type === 'supervisor';
}

export type PortalCredentials =
  | (PortalCommon & { webhook: WebhookCredentials; oauth?: undefined })
  | (PortalCommon & { oauth: OAuthCredentials; webhook?: undefined });

export class CredentialsFormatError extends Error {
  override readonly name = 'CredentialsFormatError';
}

// Portals are named by host; anything else could walk out of `<prefix>/portals/` in the secret namespace.
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

export function normalizeDomain(input: string): string | undefined {
  const domain = input.trim().toLowerCase().replace(/\.$/, '');
  return DOMAIN.test(domain) ? domain : undefined;
}

/**
 * https, or plain http on loopback where the sandbox and the tests run their portal, and only when allowed: on
 * Lambda, loopback is the Runtime API, which a stored endpoint must never reach.
 */
export function isAcceptableEndpoint(
  raw: string,
  { allowLoopback = false }: { allowLoopback?: boolean } = {},
): boolean {
  try {
    const url = new URL(raw);
    if (url.username || url.password) return false;
    if (url.protocol === 'https:') return true;
    return allowLoopback && url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

/**
 * The shortest event token (a webhook bot's CLIENT_ID, an application token) accepted. It is the only proof an
 * event carries, so it must not be guessable, and it must be long enough for the log redactor to recognise.
 * Bitrix24's own application tokens are 32 hex characters.
 */
export const MIN_EVENT_TOKEN_LENGTH = 16;

function eventToken(value: unknown, path: string): string | undefined {
  const token = text(value, path, true);
  if (token !== undefined && token.length < MIN_EVENT_TOKEN_LENGTH) {
    throw new CredentialsFormatError(`${path} must be at least ${MIN_EVENT_TOKEN_LENGTH} characters`);
  }
  return token;
}

function text(value: unknown, path: string, optional: true): string | undefined;
function text(value: unknown, path: string, optional?: false): string;
function text(value: unknown, path: string, optional = false): string | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string' || value === '') throw new CredentialsFormatError(`${path} must be a non-empty string`);
  return value;
}

function botRecords(value: unknown, secretName: string): Record<string, BotRecord> | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CredentialsFormatError(`secret ${secretName}: bots must be an object keyed by bot id`);
  }
  const bots: Record<string, BotRecord> = {};
  for (const [id, raw] of Object.entries(value as Record<string, unknown>)) {
    const path = `bots.${id.slice(0, 20)}`;
    if (!/^[1-9]\d{0,15}$/.test(id) || raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new CredentialsFormatError(`secret ${secretName}: ${path} must be an object under a positive bot id`);
    }
    // Fields this version does not know are left alone, so a newer writer's records stay readable.
    const r = raw as Record<string, unknown>;
    if (r.api !== undefined && r.api !== 'v1' && r.api !== 'v2') {
      throw new CredentialsFormatError(`secret ${secretName}: ${path}.api must be "v1" or "v2"`);
    }
    const type = text(r.type, `${path}.type`, true);
    if (type !== undefined && !/^[A-Za-z]{1,32}$/.test(type)) {
      throw new CredentialsFormatError(
        `secret ${secretName}: ${path}.type must be a bot type, e.g. "B" or "supervisor"`,
      );
    }
    const record: BotRecord = {};
    if (r.api !== undefined) record.api = r.api as 'v1' | 'v2';
    // A bot's credential in every webhook call: unguessable, and long enough for the log redactor.
    const botToken = eventToken(r.botToken, `${path}.botToken`);
    if (botToken !== undefined) record.botToken = botToken;
    if (type !== undefined) record.type = type;
    registerSecret(botToken);
    bots[id] = record;
  }
  return bots;
}

function endpoint(value: unknown, path: string, allowLoopback: boolean): string {
  const url = text(value, path);
  if (!isAcceptableEndpoint(url, { allowLoopback })) throw new CredentialsFormatError(`${path} must be an https URL`);
  return url.endsWith('/') ? url : `${url}/`;
}

/** Validates a portal secret's JSON and registers every secret in it with the log redactor. */
export function parsePortalCredentials(
  json: string,
  secretName: string,
  { allowLoopback = false }: { allowLoopback?: boolean } = {},
): PortalCredentials {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new CredentialsFormatError(`secret ${secretName} is not JSON`);
  }
  if (raw === null || typeof raw !== 'object')
    throw new CredentialsFormatError(`secret ${secretName} is not an object`);
  const r = raw as Record<string, unknown>;
  const domain = normalizeDomain(text(r.domain, 'domain'));
  if (!domain) throw new CredentialsFormatError(`secret ${secretName}: domain is not a host name`);
  const botId = r.botId;
  if (botId !== undefined && !(Number.isSafeInteger(botId) && (botId as number) > 0)) {
    throw new CredentialsFormatError(`secret ${secretName}: botId must be a positive integer`);
  }
  const common: PortalCommon = {
    domain,
    memberId: text(r.memberId, 'memberId', true),
    applicationToken: eventToken(r.applicationToken, 'applicationToken'),
    botId: botId as number | undefined,
  };
  const bots = botRecords(r.bots, secretName);
  if (bots !== undefined) common.bots = bots;
  const rateLimit = rateLimitOf(r.rateLimit, secretName);
  if (rateLimit !== undefined) common.rateLimit = rateLimit;
  registerSecret(common.applicationToken);

  if (r.webhook !== undefined && r.oauth !== undefined) {
    throw new CredentialsFormatError(`secret ${secretName}: holds both webhook and oauth; keep one`);
  }
  if (r.webhook !== undefined) {
    const w = r.webhook as Record<string, unknown>;
    const webhook: WebhookCredentials = {
      url: endpoint(w?.url, 'webhook.url', allowLoopback),
      clientId: eventToken(w?.clientId, 'webhook.clientId'),
    };
    const eventsToken = eventToken(w?.eventsToken, 'webhook.eventsToken');
    if (eventsToken !== undefined) webhook.eventsToken = eventsToken;
    registerSecret(webhook.url);
    registerSecret(new URL(webhook.url).pathname);
    registerSecret(webhook.clientId);
    registerSecret(webhook.eventsToken);
    return { ...common, webhook };
  }
  if (r.oauth !== undefined) {
    const o = r.oauth as Record<string, unknown>;
    const expiresAt = o?.expiresAt;
    if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) {
      throw new CredentialsFormatError(`secret ${secretName}: oauth.expiresAt must be unix seconds`);
    }
    const oauth: OAuthCredentials = {
      clientId: text(o.clientId, 'oauth.clientId'),
      clientSecret: text(o.clientSecret, 'oauth.clientSecret'),
      accessToken: text(o.accessToken, 'oauth.accessToken'),
      refreshToken: text(o.refreshToken, 'oauth.refreshToken'),
      expiresAt,
      clientEndpoint: endpoint(o.clientEndpoint, 'oauth.clientEndpoint', allowLoopback),
      serverEndpoint: endpoint(o.serverEndpoint, 'oauth.serverEndpoint', allowLoopback),
    };
    for (const value of [oauth.clientSecret, oauth.accessToken, oauth.refreshToken]) registerSecret(value);
    return { ...common, oauth };
  }
  throw new CredentialsFormatError(`secret ${secretName}: needs either webhook or oauth`);
}
