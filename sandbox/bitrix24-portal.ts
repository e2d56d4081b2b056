/**
 * A loopback Bitrix24 portal: a real `node:http` server on 127.0.0.1 that answers the REST calls this
 * project makes (`imbot.chat.sendTyping`, `imbot.register`, `app.info`, `profile`) and the OAuth refresh,
 * the way the real servers do. Used by tests and as a sandbox simulator.
 *
 * Sources for the rules below (cited as [im_rest], [rest_server], [apauth], [access_exc], [common], [docs]):
 * - [im_rest]    Bitrix24 `im` module, `modules/im/classes/general/im_rest.php` (CIMRestService), as stored in
 *                avshatalov48/bitrix-core-business: botSendTyping, botRegister.
 * - [rest_server] `rest` module `CRestServer::processExecution/checkAuth` and `Bitrix\Rest\OAuthException`.
 * - [apauth]     `modules/rest/lib/apauth/auth.php` (inbound webhooks).
 * - [access_exc] `modules/rest/lib/accessexception.php`.
 * - [common]     `Bitrix\Im\Common::isDialogId`.
 * - [docs]       bitrix24/b24restdocs (system error table) and /work/shared/bitrix24-platform.md.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface PortalOptions {
  /** The portal's name; the server itself listens on loopback. */
  domain?: string;
  /** Default: a random 32-hex string. */
  memberId?: string;
  /** Leaky bucket capacity. */
  burst?: number;
  drainPerSecond?: number;
  accessTokenTtlSeconds?: number;
  /** Port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /** Called for every REST call received (for a simulator to print). */
  onCall?: (call: PortalCall) => void;
}

export interface PortalCall {
  method: string;
  params: Record<string, unknown>;
  via: 'webhook' | 'oauth';
  userId?: number;
  at: number;
  status: number;
  error?: string;
}

export interface RefreshCall {
  at: number;
  clientId: string;
  ok: boolean;
  error?: string;
}

export type ScriptedResponse =
  | { status: number; body: unknown; headers?: Record<string, string> }
  | { reset: true }
  | { delayMs: number; then?: ScriptedResponse };

/** A bot as the portal keeps it. `appId` is the owner key the server compares: an OAuth app's client id,
 * or `custom<CLIENT_ID>` for a bot registered through an inbound webhook [im_rest]. */
export interface PortalBot {
  botId: number;
  code: string;
  type: string;
  appId: string;
  clientId?: string;
  appClientId?: string;
  handlers: Record<string, string>;
  properties: Record<string, unknown>;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  /** Unix seconds. */
  expiresAt: number;
  expiresIn: number;
}

export interface FakePortal {
  url: string;
  domain: string;
  memberId: string;
  clientEndpoint: string;
  oauthUrl: string;
  serverEndpoint: string;
  calls: PortalCall[];
  typingCalls(): PortalCall[];
  refreshCalls: RefreshCall[];
  bots: ReadonlyMap<number, Readonly<PortalBot>>;
  addWebhook(opts?: { userId?: number; code?: string }): string;
  addBot(opts: { botId: number; code?: string; clientId?: string; appClientId?: string }): void;
  addApp(opts: { clientId: string; clientSecret: string; applicationToken?: string }): void;
  issueTokens(appClientId: string, opts?: { userId?: number; expiresInSeconds?: number }): IssuedTokens;
  expireAccessTokens(): void;
  /** The next N calls of `method` (or '*' for any REST method; '/oauth/token/' for the OAuth endpoint)
   * get these instead of normal handling, in order. */
  script(method: string, responses: ScriptedResponse[]): void;
  setLatency(ms: number): void;
  resetCalls(): void;
  close(): Promise<void>;
}

/** Path of the OAuth endpoint, also the key to script it. */
export const OAUTH_TOKEN_PATH = '/oauth/token/';

/**
 * Status for an unknown inbound-webhook code. The docs' error table says 403 `INVALID_CREDENTIALS`, but
 * the server throws every failed authorisation as `OAuthException`, whose status is 401 unless the auth
 * handler sets `error_status`, and the webhook handler does not [rest_server][apauth]. The server wins.
 */
export const INVALID_WEBHOOK_STATUS = 401;

/** At most this many v1 bots per application on a Bitrix24 cloud portal [im_rest] (`imbot_rest_register_limit`). */
const MAX_BOTS_PER_APP = 5;

const JSON_TYPE = 'application/json; charset=utf-8';
const KNOWN_DANGEROUS_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    description: string,
  ) {
    super(description);
  }
}

type Caller = { via: 'webhook'; userId: number } | { via: 'oauth'; userId: number; clientId: string };

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

type Outcome = Answer | { reset: true };

interface AccessTokenRecord {
  clientId: string;
  userId: number;
  expiresAtMs: number;
  forcedExpired: boolean;
}

interface RefreshTokenRecord {
  clientId: string;
  userId: number;
  accessToken: string;
}

interface AppRecord {
  id: number;
  clientId: string;
  clientSecret: string;
  applicationToken: string;
}

type MethodHandler = (caller: Caller, params: Record<string, unknown>) => unknown;

const randomHex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** Leaky bucket: each call adds 1, the level drains continuously; a call that would overflow is refused
 * and adds nothing [docs: 2 req/s drain, burst 50]. */
class LeakyBucket {
  private level = 0;
  private last = Date.now();

  constructor(
    private readonly capacity: number,
    private readonly drainPerSecond: number,
  ) {}

  tryAdd(now: number): boolean {
    this.level = Math.max(0, this.level - ((now - this.last) / 1000) * this.drainPerSecond);
    this.last = now;
    if (this.level + 1 > this.capacity) return false;
    this.level += 1;
    return true;
  }
}

/** Decodes `a[b][c]=v&list[]=x` the way PHP fills `$_REQUEST`, which is what Bitrix24 reads. */
export function decodePhpForm(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const match = /^([^[\]]+)((?:\[[^\]]*\])*)$/.exec(rawKey);
    const path = match
      ? [match[1] as string, ...[...(match[2] ?? '').matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] as string)]
      : [rawKey];
    if (path.some((key) => KNOWN_DANGEROUS_KEYS.has(key))) continue;
    assignPath(out, path, value);
  }
  return out;
}

function nextIndex(node: Record<string, unknown>): string {
  const numeric = Object.keys(node).filter((k) => /^\d+$/.test(k)).map(Number);
  return String(numeric.length === 0 ? 0 : Math.max(...numeric) + 1);
}

function assignPath(target: Record<string, unknown>, path: string[], value: string): void {
  let node = target;
  path.forEach((segment, index) => {
    const key = segment === '' ? nextIndex(node) : segment;
    if (index === path.length - 1) {
      node[key] = value;
      return;
    }
    const child = node[key];
    if (typeof child === 'object' && child !== null) {
      node = child as Record<string, unknown>;
    } else {
      const fresh: Record<string, unknown> = {};
      node[key] = fresh;
      node = fresh;
    }
  });
}

/** `date('c')` as PHP writes it: no milliseconds, numeric offset. */
function phpDateC(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', '+00:00');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `array_change_key_case($arParams, CASE_UPPER)`: every imbot method starts with it [im_rest]. */
function upperKeys(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) out[key.toUpperCase()] = value;
  return out;
}

/** PHP `!empty()`: missing, null, '', '0', 0, false and [] are empty. */
function isEmpty(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    value === '' ||
    value === '0' ||
    value === 0 ||
    value === false ||
    (Array.isArray(value) && value.length === 0)
  );
}

/** `Bitrix\Im\Common::isDialogId`: a truthy user id or chat/sg/crm id [common]. */
function isDialogId(value: unknown): boolean {
  if (typeof value !== 'string' && typeof value !== 'number') return false;
  const text = String(value);
  return !isEmpty(text) && /^([0-9]+|(chat|sg|crm)[0-9]+)$/i.test(text);
}

function errorCodeOf(body: unknown): string | undefined {
  return isPlainObject(body) && typeof body.error === 'string' ? body.error : undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(req: IncomingMessage, text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new RestError(400, 'INVALID_REQUEST', 'Invalid JSON body');
    }
    return isPlainObject(parsed) ? parsed : {};
  }
  return decodePhpForm(text);
}

export async function startPortal(opts: PortalOptions = {}): Promise<FakePortal> {
  const domain = opts.domain ?? 'sandbox.bitrix24.test';
  const memberId = opts.memberId ?? randomHex(16);
  const tokenTtlSeconds = opts.accessTokenTtlSeconds ?? 3600;
  const bucket = new LeakyBucket(opts.burst ?? 50, opts.drainPerSecond ?? 2);

  const calls: PortalCall[] = [];
  const refreshCalls: RefreshCall[] = [];
  const webhooks = new Map<string, number>(); // `${userId}/${code}` -> userId
  const apps = new Map<string, AppRecord>();
  const bots = new Map<number, PortalBot>();
  const accessTokens = new Map<string, AccessTokenRecord>();
  const refreshTokens = new Map<string, RefreshTokenRecord>();
  const scripts = new Map<string, ScriptedResponse[]>();
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let latencyMs = 0;
  let nextBotId = 1;
  let closed = false;

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': JSON_TYPE });
        res.end(JSON.stringify({ error: 'INTERNAL_SERVER_ERROR', error_description: String(error) }));
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const clientEndpoint = `${url}/rest/`;
  const oauthUrl = `${url}${OAUTH_TOKEN_PATH}`;

  // ---- tokens -------------------------------------------------------------------------------------

  function issue(clientId: string, userId: number, ttlSeconds: number): IssuedTokens {
    const accessToken = randomHex(24);
    const refreshToken = randomHex(24);
    const expiresAtMs = Date.now() + ttlSeconds * 1000;
    accessTokens.set(accessToken, { clientId, userId, expiresAtMs, forcedExpired: false });
    refreshTokens.set(refreshToken, { clientId, userId, accessToken });
    return { accessToken, refreshToken, expiresAt: Math.floor(expiresAtMs / 1000), expiresIn: ttlSeconds };
  }

  // ---- REST methods ---------------------------------------------------------------------------------

  /** `$server->getClientId()` for OAuth, else `'custom' . CLIENT_ID`; neither is `AccessException`
   * (403 `ACCESS_DENIED`, "Access denied! Client ID not specified") [im_rest][access_exc]. */
  function ownerKey(caller: Caller, p: Record<string, unknown>): string {
    if (caller.via === 'oauth') return caller.clientId;
    if (!isEmpty(p.CLIENT_ID)) return `custom${String(p.CLIENT_ID)}`;
    throw new RestError(403, 'ACCESS_DENIED', 'Access denied! Client ID not specified');
  }

  const sendTyping: MethodHandler = (caller, params) => {
    const p = upperKeys(params);
    const appId = ownerKey(caller, p);
    // The order of checks is the server's: client id, then bot, then dialog [im_rest botSendTyping].
    if (p.BOT_ID !== undefined && p.BOT_ID !== null) {
      const bot = /^\d+$/.test(String(p.BOT_ID)) ? bots.get(Number(p.BOT_ID)) : undefined;
      if (!bot) throw new RestError(400, 'BOT_ID_ERROR', 'Bot not found');
      if (bot.appId !== appId) {
        throw new RestError(400, 'APP_ID_ERROR', 'Bot was installed by another rest application');
      }
    } else if (![...bots.values()].some((bot) => bot.appId === appId)) {
      throw new RestError(400, 'BOT_ID_ERROR', 'Bot not found');
    }
    if (!isDialogId(p.DIALOG_ID)) throw new RestError(400, 'DIALOG_ID_EMPTY', "Dialog ID can't be empty");
    return true;
  };

  const register: MethodHandler = (caller, params) => {
    const p = upperKeys(params);
    const appId = ownerKey(caller, p);
    const webhookClientId = caller.via === 'webhook' ? String(p.CLIENT_ID) : undefined;
    const events = ['EVENT_MESSAGE_ADD', 'EVENT_MESSAGE_UPDATE', 'EVENT_MESSAGE_DELETE', 'EVENT_WELCOME_MESSAGE', 'EVENT_BOT_DELETE'];
    if (!isEmpty(p.EVENT_HANDLER)) for (const event of events) p[event] = p.EVENT_HANDLER;
    // Three handlers are required, checked before CODE [im_rest botRegister].
    const required: Record<string, string> = {
      EVENT_MESSAGE_ADD: 'Message add',
      EVENT_WELCOME_MESSAGE: 'Welcome message',
      EVENT_BOT_DELETE: 'Bot delete',
    };
    const handlers: Record<string, string> = {};
    for (const event of events) {
      const value = p[event];
      if (isEmpty(value)) {
        const label = required[event];
        if (label) throw new RestError(400, `${event}_ERROR`, `Handler for "${label}" event isn't specified`);
        continue;
      }
      const handler = String(value);
      if (!URL.canParse(handler)) throw new RestError(400, `${event}_ERROR`, 'Wrong handler URL');
      // Webhook bots get `?CLIENT_ID=<id>` appended to every handler URL [im_rest botRegister].
      handlers[event] =
        webhookClientId === undefined ? handler : `${handler}${handler.includes('?') ? '&' : '?'}CLIENT_ID=${webhookClientId}`;
    }
    if (isEmpty(p.CODE)) throw new RestError(400, 'CODE_ERROR', "Bot code isn't specified");
    const owned = [...bots.values()].filter((bot) => bot.appId === appId).length;
    if (owned >= MAX_BOTS_PER_APP) {
      throw new RestError(400, 'MAX_COUNT_ERROR', `Has reached the maximum number of bots for application (max: ${MAX_BOTS_PER_APP})`);
    }
    const properties = isPlainObject(p.PROPERTIES) ? p.PROPERTIES : {};
    if (properties.NAME == null && properties.LAST_NAME == null) {
      throw new RestError(400, 'NAME_ERROR', "Bot name isn't specified");
    }
    const type = ['O', 'B', 'H', 'S'].includes(String(p.TYPE)) ? String(p.TYPE) : 'B';
    const botId = nextBotId++;
    bots.set(botId, {
      botId,
      code: String(p.CODE),
      type,
      appId,
      ...(webhookClientId === undefined ? { appClientId: appId } : { clientId: webhookClientId }),
      handlers,
      properties,
    });
    return botId;
  };

  const appInfo: MethodHandler = (caller) => {
    // With a webhook there is no application: only SCOPE and LICENSE [docs].
    if (caller.via === 'webhook') return { SCOPE: ['im', 'imbot'], LICENSE: 'en_project' };
    const app = apps.get(caller.clientId);
    return {
      ID: app?.id ?? 0,
      CODE: caller.clientId,
      VERSION: 1,
      STATUS: 'L',
      INSTALLED: true,
      PAYMENT_EXPIRED: 'N',
      DAYS: null,
      LANGUAGE_ID: 'en',
      LICENSE: 'en_project',
    };
  };

  const profile: MethodHandler = (caller) => ({
    ID: String(caller.userId),
    ADMIN: true,
    NAME: 'Sandbox',
    LAST_NAME: 'User',
    PERSONAL_GENDER: '',
    TIME_ZONE: '',
  });

  const methods = new Map<string, { name: string; run: MethodHandler }>(
    [
      { name: 'imbot.chat.sendTyping', run: sendTyping },
      { name: 'imbot.register', run: register },
      { name: 'app.info', run: appInfo },
      { name: 'profile', run: profile },
    ].map((m) => [m.name.toLowerCase(), m]),
  );

  // ---- REST dispatch --------------------------------------------------------------------------------

  function authenticate(webhook: { userId: number; code: string } | undefined, params: Record<string, unknown>): Caller {
    if (webhook) {
      if (webhooks.get(`${webhook.userId}/${webhook.code}`) === undefined) {
        throw new RestError(INVALID_WEBHOOK_STATUS, 'INVALID_CREDENTIALS', 'Invalid request credentials');
      }
      return { via: 'webhook', userId: webhook.userId };
    }
    const auth = params.auth;
    if (isEmpty(auth)) throw new RestError(401, 'NO_AUTH_FOUND', 'Wrong authorization data');
    const token = accessTokens.get(String(auth));
    if (!token) throw new RestError(401, 'invalid_token', 'The access token provided is invalid.');
    if (token.forcedExpired || Date.now() >= token.expiresAtMs) {
      throw new RestError(401, 'expired_token', 'The access token provided has expired.');
    }
    return { via: 'oauth', userId: token.userId, clientId: token.clientId };
  }

  function envelope(result: unknown, startedMs: number): unknown {
    const finishedMs = Date.now();
    const start = startedMs / 1000;
    const finish = finishedMs / 1000;
    return {
      result,
      time: {
        start,
        finish,
        duration: finish - start,
        processing: finish - start,
        date_start: phpDateC(startedMs),
        date_finish: phpDateC(finishedMs),
        operating_reset_at: Math.floor(start) + 600,
        operating: 0,
      },
    };
  }

  function failure(error: RestError): Answer {
    return { status: error.status, body: { error: error.code, error_description: error.message } };
  }

  /** Normal handling, in the server's order: rate limit, method exists (404 before auth), auth, method
   * [rest_server processExecution]. */
  function processRest(
    methodKey: string,
    webhook: { userId: number; code: string } | undefined,
    params: Record<string, unknown>,
    startedMs: number,
  ): { answer: Answer; caller?: Caller } {
    if (!bucket.tryAdd(startedMs)) {
      return { answer: failure(new RestError(503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests')) };
    }
    const method = methods.get(methodKey);
    if (!method) return { answer: failure(new RestError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!')) };
    let caller: Caller | undefined;
    try {
      caller = authenticate(webhook, params);
      const result = method.run(caller, params);
      return { answer: { status: 200, body: envelope(result, startedMs) }, caller };
    } catch (error) {
      if (error instanceof RestError) return { answer: failure(error), ...(caller ? { caller } : {}) };
      throw error;
    }
  }

  // ---- scripting, latency, delivery ----------------------------------------------------------------

  function takeScript(key: string): ScriptedResponse | undefined {
    const queue = scripts.get(key);
    const next = queue?.shift();
    if (queue && queue.length === 0) scripts.delete(key);
    return next;
  }

  /** Unwraps `{delayMs, then}`; `undefined` outcome means "normal handling, answered late". */
  function unwrap(scripted: ScriptedResponse, delayMs = 0): { outcome?: Outcome; delayMs: number } {
    if ('delayMs' in scripted) {
      return scripted.then ? unwrap(scripted.then, delayMs + scripted.delayMs) : { delayMs: delayMs + scripted.delayMs };
    }
    return { outcome: scripted, delayMs };
  }

  function later(ms: number, action: () => void): void {
    if (ms <= 0) {
      action();
      return;
    }
    // A timer per answer, never a blocking wait: other requests keep flowing while this one is slow.
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  }

  function deliver(req: IncomingMessage, res: ServerResponse, outcome: Outcome, extraDelayMs: number): void {
    later(latencyMs + extraDelayMs, () => {
      if (closed || res.writableEnded || req.socket.destroyed) return;
      if ('reset' in outcome) {
        req.socket.destroy();
        return;
      }
      const isText = typeof outcome.body === 'string';
      const headers: Record<string, string> = {
        'content-type': isText ? 'text/html; charset=utf-8' : JSON_TYPE,
        ...lowerHeaderNames(outcome.headers ?? {}),
      };
      res.writeHead(outcome.status, headers);
      res.end(isText ? (outcome.body as string) : JSON.stringify(outcome.body));
    });
  }

  function lowerHeaderNames(headers: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  }

  function record(call: PortalCall): void {
    calls.push(call);
    try {
      opts.onCall?.(call);
    } catch {
      // A failing printer must not take the portal down.
    }
  }

  // ---- HTTP entry -----------------------------------------------------------------------------------

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedMs = Date.now();
    const requestUrl = new URL(req.url ?? '/', url);
    const bodyText = await readBody(req);
    const path = requestUrl.pathname;

    if (path === OAUTH_TOKEN_PATH || path === OAUTH_TOKEN_PATH.slice(0, -1)) {
      handleOAuth(req, res, requestUrl, bodyText, startedMs);
      return;
    }

    const route = parseRestPath(path);
    if (!route) {
      deliver(req, res, { status: 404, body: { error: 'NOT_FOUND', error_description: 'Not found' } }, 0);
      return;
    }
    const via = route.webhook ? 'webhook' : 'oauth';
    const methodKey = route.method.toLowerCase();
    const methodName = methods.get(methodKey)?.name ?? route.method;

    let params: Record<string, unknown>;
    try {
      // PHP's $_REQUEST: query first, the body overrides.
      params = { ...decodePhpForm(requestUrl.search.slice(1)), ...parseBody(req, bodyText) };
    } catch (error) {
      const answer = failure(error instanceof RestError ? error : new RestError(400, 'INVALID_REQUEST', String(error)));
      record({ method: methodName, params: {}, via, at: startedMs, status: answer.status, error: errorCodeOf(answer.body) });
      deliver(req, res, answer, 0);
      return;
    }
    const visibleParams = { ...params };
    delete visibleParams.auth; // tokens stay out of the log
    const base = { method: methodName, params: visibleParams, via, at: startedMs } as const;
    const webhookUser = route.webhook ? { userId: route.webhook.userId } : {};

    // Scripted responses bypass the bucket and normal handling.
    const scripted = takeScript(methodKey) ?? takeScript('*');
    const unwrapped = scripted ? unwrap(scripted) : { delayMs: 0 };
    if (unwrapped.outcome) {
      const outcome = unwrapped.outcome;
      const status = 'reset' in outcome ? 0 : outcome.status;
      const error = 'reset' in outcome ? 'ECONNRESET' : errorCodeOf(outcome.body);
      record({ ...base, ...webhookUser, status, ...(error ? { error } : {}) });
      deliver(req, res, outcome, unwrapped.delayMs);
      return;
    }

    const { answer, caller } = processRest(methodKey, route.webhook, params, startedMs);
    const userId = caller?.userId ?? route.webhook?.userId;
    const error = errorCodeOf(answer.body);
    record({ ...base, ...(userId !== undefined ? { userId } : {}), status: answer.status, ...(error ? { error } : {}) });
    deliver(req, res, answer, unwrapped.delayMs);
  }

  function parseRestPath(path: string): { method: string; webhook?: { userId: number; code: string } } | undefined {
    const parts = path.replace(/^\/+/, '').replace(/\/$/, '').split('/');
    if (parts[0] !== 'rest') return undefined;
    const rest = parts.slice(1).map(decodeURIComponent);
    const strip = (method: string): string => method.replace(/\.json$/i, '');
    if (rest.length === 1 && rest[0]) return { method: strip(rest[0]) };
    if (rest.length === 3 && /^\d+$/.test(rest[0] ?? '') && rest[1] && rest[2]) {
      return { method: strip(rest[2]), webhook: { userId: Number(rest[0]), code: rest[1] } };
    }
    return undefined;
  }

  /** The OAuth server: refresh tokens rotate, the old pair dies with the refresh [platform facts]. */
  function handleOAuth(req: IncomingMessage, res: ServerResponse, requestUrl: URL, bodyText: string, startedMs: number): void {
    let params: Record<string, unknown>;
    try {
      params = { ...decodePhpForm(requestUrl.search.slice(1)), ...parseBody(req, bodyText) };
    } catch {
      params = {};
    }
    const clientId = typeof params.client_id === 'string' ? params.client_id : '';
    const note = (ok: boolean, error?: string): void => {
      refreshCalls.push({ at: startedMs, clientId, ok, ...(error ? { error } : {}) });
    };

    const scripted = takeScript(OAUTH_TOKEN_PATH);
    const unwrapped = scripted ? unwrap(scripted) : { delayMs: 0 };
    if (unwrapped.outcome) {
      const outcome = unwrapped.outcome;
      const ok = !('reset' in outcome) && outcome.status === 200;
      note(ok, 'reset' in outcome ? 'ECONNRESET' : errorCodeOf(outcome.body) ?? (ok ? undefined : `HTTP ${outcome.status}`));
      deliver(req, res, outcome, unwrapped.delayMs);
      return;
    }

    const fail = (status: number, error: string): void => {
      note(false, error);
      deliver(req, res, { status, body: { error } }, unwrapped.delayMs);
    };
    if (params.grant_type !== 'refresh_token') return fail(400, 'invalid_request');
    const app = apps.get(clientId);
    if (!app || app.clientSecret !== params.client_secret) return fail(401, 'invalid_client');
    const old = refreshTokens.get(String(params.refresh_token ?? ''));
    if (!old || old.clientId !== clientId) return fail(400, 'invalid_grant');

    refreshTokens.delete(String(params.refresh_token));
    accessTokens.delete(old.accessToken); // the old access token now answers invalid_token
    const fresh = issue(clientId, old.userId, tokenTtlSeconds);
    note(true);
    deliver(
      req,
      res,
      {
        status: 200,
        body: {
          access_token: fresh.accessToken,
          refresh_token: fresh.refreshToken,
          expires: fresh.expiresAt,
          expires_in: fresh.expiresIn,
          client_endpoint: clientEndpoint,
          server_endpoint: clientEndpoint,
          member_id: memberId,
          scope: 'im,imbot',
          status: 'L',
          user_id: old.userId,
          domain: new URL(oauthUrl).host, // here `domain` is the OAuth host [platform facts]
        },
      },
      unwrapped.delayMs,
    );
  }

  // ---- the handle tests hold ------------------------------------------------------------------------

  return {
    url,
    domain,
    memberId,
    clientEndpoint,
    oauthUrl,
    serverEndpoint: clientEndpoint,
    calls,
    refreshCalls,
    bots,
    typingCalls: () => calls.filter((call) => call.method === 'imbot.chat.sendTyping' && call.status === 200),
    addWebhook({ userId = 1, code = randomHex(8) } = {}) {
      webhooks.set(`${userId}/${code}`, userId);
      return `${url}/rest/${userId}/${code}/`;
    },
    addBot({ botId, code, clientId, appClientId }) {
      if (clientId === undefined && appClientId === undefined) {
        throw new Error('addBot needs clientId (webhook bot) or appClientId (OAuth app bot)');
      }
      const appId = appClientId ?? `custom${clientId}`;
      bots.set(botId, {
        botId,
        code: code ?? `bot${botId}`,
        type: 'B',
        appId,
        ...(clientId !== undefined ? { clientId } : {}),
        ...(appClientId !== undefined ? { appClientId } : {}),
        handlers: {},
        properties: { NAME: code ?? `bot${botId}` },
      });
      nextBotId = Math.max(nextBotId, botId + 1);
    },
    addApp({ clientId, clientSecret, applicationToken = randomHex(16) }) {
      apps.set(clientId, { id: apps.size + 1, clientId, clientSecret, applicationToken });
    },
    issueTokens(appClientId, { userId = 1, expiresInSeconds = tokenTtlSeconds } = {}) {
      if (!apps.has(appClientId)) throw new Error(`unknown app ${appClientId}: call addApp first`);
      return issue(appClientId, userId, expiresInSeconds);
    },
    expireAccessTokens() {
      for (const token of accessTokens.values()) token.forcedExpired = true;
    },
    script(method, responses) {
      const key = method === '*' || method === OAUTH_TOKEN_PATH ? method : method.toLowerCase().replace(/\.json$/, '');
      scripts.set(key, [...(scripts.get(key) ?? []), ...responses]);
    },
    setLatency(ms) {
      latencyMs = Math.max(0, ms);
    },
    resetCalls() {
      calls.length = 0;
      refreshCalls.length = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive and half-answered sockets would hold close() open; end them so tests never hang.
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await done;
    },
  };
}
