/** The portal's HTTP server: it listens on loopback, routes each request to the OAuth or the REST endpoint and
 * hands back the handle tests and the simulator hold. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PortalAuth, randomHex } from './auth.js';
import { Delivery } from './delivery.js';
import { ScriptedFaults } from './faults.js';
import { readBody } from './form-body.js';
import { PortalBots } from './imbot-methods.js';
import { LeakyBucket } from './leaky-bucket.js';
import { OperatingTime } from './operating-time.js';
import { OAuthPolicy, oauthServer } from './oauth-server.js';
import { restEndpoint } from './rest-endpoint.js';
import { restMethods } from './rest-methods.js';
import { JSON_TYPE, type InboundRequest } from './rest-protocol.js';
import { OAUTH_TOKEN_PATH, type FakePortal, type PortalCall, type PortalOptions, type RefreshCall } from './types.js';

const TYPING_METHODS = new Set(['imbot.chat.sendTyping', 'imbot.v2.Chat.InputAction.notify']);

interface Listener {
  server: Server;
  url: string;
  close(): Promise<void>;
}

interface Endpoints {
  rest: (request: InboundRequest) => void;
  oauth: (request: InboundRequest) => void;
}

/** What the handle reads and changes: the portal's name and addresses, its state and its records. */
interface PortalParts {
  listener: Listener;
  oauthListener: Listener;
  policy: OAuthPolicy;
  domain: string;
  memberId: string;
  clientEndpoint: string;
  oauthUrl: string;
  tokenTtlSeconds: number;
  auth: PortalAuth;
  bots: PortalBots;
  operating: OperatingTime;
  faults: ScriptedFaults;
  delivery: Delivery;
  calls: PortalCall[];
  refreshCalls: RefreshCall[];
}

async function listenOnLoopback(port: number): Promise<Listener> {
  const server = createServer();
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const close = async (): Promise<void> => {
    const done = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive and half-answered sockets would hold close() open; end them so tests never hang.
    server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
    await done;
  };
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close };
}

async function route(endpoints: Endpoints, baseUrl: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const startedMs = Date.now();
  const url = new URL(req.url ?? '/', baseUrl);
  const bodyText = await readBody(req);
  const path = url.pathname;
  const request = { req, res, url, bodyText, startedMs };
  if (path === OAUTH_TOKEN_PATH || path === OAUTH_TOKEN_PATH.slice(0, -1)) endpoints.oauth(request);
  else endpoints.rest(request);
}

function serve(listener: Listener, endpoints: Endpoints): void {
  listener.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    route(endpoints, listener.url, req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': JSON_TYPE });
        res.end(JSON.stringify({ error: 'INTERNAL_SERVER_ERROR', error_description: String(error) }));
      }
    });
  });
}

function portalHandle(parts: PortalParts): FakePortal {
  const { listener, auth, bots, operating, faults, delivery, calls, refreshCalls } = parts;
  let closed = false;
  return {
    url: listener.url,
    domain: parts.domain,
    memberId: parts.memberId,
    clientEndpoint: parts.clientEndpoint,
    oauthUrl: parts.oauthUrl,
    oauthServer: parts.oauthListener.url,
    serverEndpoint: `${parts.oauthListener.url}/rest/`,
    calls,
    refreshCalls,
    bots: bots.byId,
    typingCalls: () => calls.filter((call) => TYPING_METHODS.has(call.method) && call.status === 200),
    addWebhook({ userId = 1, code = randomHex(8) } = {}) {
      auth.addWebhook(userId, code);
      return `${listener.url}/rest/${userId}/${code}/`;
    },
    addBot: (bot) => bots.add(bot),
    addBotV2({ botId, code = `bot${botId}`, botToken, appClientId, type = 'bot', chats }) {
      if ((botToken === undefined) === (appClientId === undefined)) {
        throw new Error('addBotV2 needs botToken (webhook bot) or appClientId (OAuth app bot), not both');
      }
      bots.addV2({
        botId,
        code,
        type,
        appId: appClientId ?? `bot-token:${botToken}`,
        ...(appClientId !== undefined ? { appClientId } : { botToken }),
        ...(chats !== undefined ? { chats: new Set(chats.map((chat) => chat.toLowerCase())) } : {}),
      });
    },
    addApp({ clientId, clientSecret, applicationToken = randomHex(16) }) {
      auth.addApp(clientId, clientSecret, applicationToken);
    },
    issueTokens(appClientId, { userId = 1, expiresInSeconds = parts.tokenTtlSeconds, ...given } = {}) {
      if (!auth.app(appClientId)) throw new Error(`unknown app ${appClientId}: call addApp first`);
      return auth.issue(appClientId, userId, expiresInSeconds, given);
    },
    expireAccessTokens: () => auth.expireAccessTokens(),
    expireAppPayment: (clientId) => parts.policy.expiredPayments.add(clientId),
    setAppScope: (clientId, scopes) => parts.policy.scopes.set(clientId, scopes),
    setOperatingCost: (method, seconds) => operating.setCost(method, seconds),
    setAdmin: (userId, admin) => auth.setAdmin(userId, admin),
    hasApp: (clientId) => auth.app(clientId) !== undefined,
    script: (method, responses) => faults.script(method, responses),
    setLatency: (ms) => delivery.setLatency(ms),
    resetCalls() {
      calls.length = 0;
      refreshCalls.length = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      delivery.stop();
      await Promise.all([listener.close(), parts.oauthListener.close()]);
    },
  };
}

export async function startPortal(opts: PortalOptions = {}): Promise<FakePortal> {
  const memberId = opts.memberId ?? randomHex(16);
  const tokenTtlSeconds = opts.accessTokenTtlSeconds ?? 3600;
  const bucket = new LeakyBucket(opts.burst ?? 50, opts.drainPerSecond ?? 2);
  const auth = new PortalAuth();
  const bots = new PortalBots();
  const operating = new OperatingTime(opts.operatingLimitSeconds);
  const faults = new ScriptedFaults();
  const delivery = new Delivery();
  const calls: PortalCall[] = [];
  const refreshCalls: RefreshCall[] = [];
  const record = (call: PortalCall): void => {
    calls.push(call);
    try {
      opts.onCall?.(call);
    } catch {
      // A failing printer must not take the portal down.
    }
  };

  const listener = await listenOnLoopback(opts.port ?? 0);
  const oauthListener = await listenOnLoopback(opts.oauthPort ?? 0);
  const clientEndpoint = `${listener.url}/rest/`;
  const oauthUrl = `${oauthListener.url}${OAUTH_TOKEN_PATH}`;
  const policy = new OAuthPolicy();
  const oauthOn = (host: RefreshCall['host']) =>
    oauthServer({
      auth,
      policy,
      host,
      faults,
      delivery,
      refreshCalls,
      tokenTtlSeconds,
      clientEndpoint: opts.publicEndpoint ?? clientEndpoint,
      memberId,
      oauthUrl,
    });
  serve(listener, {
    rest: restEndpoint({ auth, methods: restMethods(auth, bots), bucket, operating, faults, delivery, record }),
    oauth: oauthOn('portal'),
  });
  // The OAuth server's own host answers only its token endpoint.
  serve(oauthListener, {
    rest: ({ res }) => {
      res.writeHead(404, { 'content-type': JSON_TYPE });
      res.end(JSON.stringify({ error: 'NOT_FOUND', error_description: 'Not found' }));
    },
    oauth: oauthOn('oauth'),
  });
  const domain = opts.domain ?? 'sandbox.bitrix24.test';
  const addresses = { listener, oauthListener, policy, domain, memberId, clientEndpoint, oauthUrl };
  return portalHandle({ ...addresses, tokenTtlSeconds, auth, bots, operating, faults, delivery, calls, refreshCalls });
}
