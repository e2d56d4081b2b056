/** The shapes a caller of the loopback portal sees: its options, the records it keeps and the handle it returns. */

export interface PortalOptions {
  /** The portal's name; the server itself listens on loopback. */
  domain?: string;
  /** Default: a random 32-hex string. */
  memberId?: string;
  /** Leaky bucket capacity. */
  burst?: number;
  drainPerSecond?: number;
  accessTokenTtlSeconds?: number;
  /** A method's execution-time budget per application or webhook over ten minutes (default 480 s). */
  operatingLimitSeconds?: number;
  /** Port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /** Port on 127.0.0.1 of the OAuth server, a host of its own as on the platform; default 0 (any free port). */
  oauthPort?: number;
  /** Called for every REST call received (for a simulator to print). */
  onCall?: (call: PortalCall) => void;
  /**
   * The portal's public REST address (`https://<domain>/rest/`), named as `client_endpoint` in the OAuth
   * server's answers instead of the loopback one: a portal known by its real name, reached by a test through a
   * `fetch` that maps that name to loopback. Default: the loopback address.
   */
  publicEndpoint?: string;
}

export interface PortalCall {
  method: string;
  params: Record<string, unknown>;
  via: 'webhook' | 'oauth';
  userId?: number;
  at: number;
  status: number;
  error?: string;
  /**
   * What the real portal would accept but a careful client never does, e.g. `auth in query string` (the token
   * then lands in every access log on the way). Tests assert there are none.
   */
  defects?: string[];
}

export interface RefreshCall {
  at: number;
  clientId: string;
  ok: boolean;
  error?: string;
  /** `oauth`: the OAuth server's own host, as on the platform; `portal`: the portal's host, which a real portal
   * never answers on (kept so tests that point OAUTH_SERVER at the portal still run). */
  host: 'oauth' | 'portal';
}

/**
 * One scripted answer. A `body` of a few MiB is an oversized answer with its length declared; `stream` sends it
 * without a length, in `chunks` pieces `everyMs` apart after the headers (slow, or oversized and undeclared).
 * `redirect` answers 302 (or `status`) with that Location, as a renamed portal's old address does.
 */
export type ScriptedResponse =
  | { status: number; body: unknown; headers?: Record<string, string>; stream?: BodyStream }
  | { reset: true }
  | { redirect: string; status?: 301 | 302 | 303 | 307 | 308 }
  | { delayMs: number; then?: ScriptedResponse };

export interface BodyStream {
  chunks: number;
  everyMs: number;
}

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
  /** The API the bot was registered with (v1 when absent); it decides the format of the bot's events. */
  api?: 'v1' | 'v2';
  /** A v2 bot registered through an inbound webhook: the `botToken` that owns it in every later webhook call. */
  botToken?: string;
  /** v2: `fetch` (the bot polls) or `webhook` (events posted to `webhookUrl`). */
  eventMode?: 'fetch' | 'webhook';
  webhookUrl?: string;
  /** The group chats (dialog ids, lower case) the bot is in; absent: every chat. Personal dialogs always work. */
  chats?: ReadonlySet<string>;
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
  /** The OAuth server's token URL, on its own host. */
  oauthUrl: string;
  /** The OAuth server's origin (what OAUTH_SERVER names), not the portal's. */
  oauthServer: string;
  /** `server_endpoint` as the platform reports it: the OAuth server's `/rest/`, not the portal's. */
  serverEndpoint: string;
  calls: PortalCall[];
  /** Accepted typing calls of either API: `imbot.chat.sendTyping` and `imbot.v2.Chat.InputAction.notify`. */
  typingCalls(): PortalCall[];
  refreshCalls: RefreshCall[];
  bots: ReadonlyMap<number, Readonly<PortalBot>>;
  addWebhook(opts?: { userId?: number; code?: string }): string;
  addBot(opts: { botId: number; code?: string; clientId?: string; appClientId?: string }): void;
  /**
   * Seeds a v2 bot: owned through an inbound webhook by `botToken`, or by an OAuth application (`appClientId`).
   * `chats` limits the group chats it is in (default: every chat).
   */
  addBotV2(opts: {
    botId: number;
    code?: string;
    botToken?: string;
    appClientId?: string;
    type?: string;
    chats?: string[];
  }): void;
  addApp(opts: { clientId: string; clientSecret: string; applicationToken?: string }): void;
  /** `accessToken` / `refreshToken` fix the token values, e.g. to those of a documented example event. */
  issueTokens(
    appClientId: string,
    opts?: { userId?: number; expiresInSeconds?: number; accessToken?: string; refreshToken?: string },
  ): IssuedTokens;
  /** Whether an application with this client id is installed here. */
  hasApp(clientId: string): boolean;
  /** Makes a user a portal administrator or not (user 1 is one from the start). */
  setAdmin(userId: number, admin: boolean): void;
  expireAccessTokens(): void;
  /** The application's trial or paid period ends: its refreshes answer PAYMENT_REQUIRED. */
  expireAppPayment(clientId: string): void;
  /** The scopes on the application card (default im, imbot); a refresh asking for more answers invalid_scope. */
  setAppScope(clientId: string, scopes: string[]): void;
  /** Every later call of `method` counts as taking `seconds` against its time budget (`OPERATION_TIME_LIMIT`). */
  setOperatingCost(method: string, seconds: number): void;
  /** The next N calls of `method` (or '*' for any REST method; '/oauth/token/' for the OAuth endpoint)
   * get these instead of normal handling, in order. */
  script(method: string, responses: ScriptedResponse[]): void;
  setLatency(ms: number): void;
  resetCalls(): void;
  close(): Promise<void>;
}

/** Path of the OAuth endpoint, also the key to script it. */
export const OAUTH_TOKEN_PATH = '/oauth/token/';
