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
