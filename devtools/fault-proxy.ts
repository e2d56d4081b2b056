import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { forwardedHeaders, onWholeBody, relay } from './loopback-proxy.js';

/**
 * How the proxy treats each request it receives:
 * - `pass`: forwarded to the target (moto) and its answer relayed;
 * - `down`: the socket is destroyed without an answer (the SDK sees a reset, as when the endpoint is gone);
 * - `hang`: never answered, until the mode changes (then handled by the new mode) or the proxy closes;
 * - `throttle`: the AWS JSON-protocol throttling answer (400, `x-amzn-errortype: ThrottlingException`);
 * - `error500`: the AWS JSON-protocol `InternalServiceError` answer (500);
 * - `swallow`: forwarded, so the emulator acts on it, but its answer is never relayed: the caller is left
 *   waiting, as a container is when it dies between a write and the write's answer.
 */
export type FaultMode = 'pass' | 'down' | 'hang' | 'throttle' | 'error500' | 'swallow';

export interface ProxiedRequest {
  /** The `x-amz-target` header, e.g. `secretsmanager.GetSecretValue`; `''` when absent. */
  target: string;
  /** `amz-sdk-invocation-id`: the same for every SDK retry of one operation. */
  invocationId?: string;
  /** From `amz-sdk-request: attempt=N; max=M`. */
  attempt?: number;
  /** `SecretId` (or `Name`) from a JSON-protocol body, when there is one. */
  secretId?: string;
  /** `VersionStages` of a `PutSecretValue`: a refresh claim carries its own stage, a stored pair none. */
  versionStages?: string[];
  /** The mode this request was answered under (the proxy's, or a rule's). */
  mode: FaultMode;
  at: number;
}

export interface FaultProxy {
  url: string;
  readonly mode: FaultMode;
  setMode(mode: FaultMode): void;
  /**
   * Requests `match` accepts get `mode` whatever the proxy's own mode: one operation can fail (say, the
   * PutSecretValue that stores a refreshed pair) while the rest pass. The first matching rule wins.
   */
  addRule(match: (request: ProxiedRequest) => boolean, mode: FaultMode): void;
  clearRules(): void;
  /** Every request received, in order (whatever the mode). */
  readonly requests: readonly ProxiedRequest[];
  /** HTTP requests received per `x-amz-target` (SDK retries count separately). */
  counts(): Record<string, number>;
  /** HTTP requests for one target, optionally for one secret and since a time. */
  count(target: string, filter?: { secretId?: string; since?: number }): number;
  /** Distinct SDK operations (retries of one operation count once) for one target. */
  invocations(target: string, filter?: { secretId?: string; since?: number }): number;
  /** Forgets the requests seen so far (the mode is kept). */
  reset(): void;
  /** Ends every socket, answered or not, and stops listening. */
  close(): Promise<void>;
}

const THROTTLING_BODY = JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' });
const INTERNAL_BODY = JSON.stringify({
  __type: 'InternalServiceError',
  message: 'We encountered an internal error. Please try again.',
});
const AWS_JSON = 'application/x-amz-json-1.1';
// Hop-by-hop headers are the proxy's own business (RFC 9110 §7.6.1); everything else, `host` included, is
// relayed as signed.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
]);

interface Held {
  req: IncomingMessage;
  res: ServerResponse;
  body: Buffer;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function fieldsOf(body: Buffer): Pick<ProxiedRequest, 'secretId' | 'versionStages'> {
  if (body.length === 0 || body.length > 64 * 1024) return {};
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { SecretId?: unknown; Name?: unknown; VersionStages?: unknown };
    const id = parsed.SecretId ?? parsed.Name;
    const stages = parsed.VersionStages;
    return {
      ...(typeof id === 'string' ? { secretId: id } : {}),
      ...(Array.isArray(stages) ? { versionStages: stages.map(String) } : {}),
    };
  } catch {
    return {};
  }
}

function recordOf(req: IncomingMessage, body: Buffer, mode: FaultMode): ProxiedRequest {
  const attempt = /attempt=(\d+)/.exec(header(req, 'amz-sdk-request') ?? '')?.[1];
  return {
    target: header(req, 'x-amz-target') ?? '',
    invocationId: header(req, 'amz-sdk-invocation-id'),
    attempt: attempt === undefined ? undefined : Number(attempt),
    ...fieldsOf(body),
    mode,
    at: Date.now(),
  };
}

/** Answers one request as `mode` says; `hang` parks it in `held` until the mode changes or the proxy closes. */
function answerAs(mode: FaultMode, waiting: Held, upstream: URL, held: Set<Held>): void {
  const { req, res, body } = waiting;
  switch (mode) {
    case 'down':
      req.socket.destroy();
      return;
    case 'hang':
      held.add(waiting);
      res.once('close', () => held.delete(waiting));
      return;
    case 'throttle':
      res.writeHead(400, {
        'content-type': AWS_JSON,
        'x-amzn-errortype': 'ThrottlingException',
        'x-amzn-requestid': randomUUID(),
      });
      res.end(THROTTLING_BODY);
      return;
    case 'error500':
      res.writeHead(500, {
        'content-type': AWS_JSON,
        'x-amzn-errortype': 'InternalServiceError',
        'x-amzn-requestid': randomUUID(),
      });
      res.end(INTERNAL_BODY);
      return;
    case 'swallow': {
      const forward = request(
        { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => answer.resume(),
      );
      forward.on('error', () => undefined);
      forward.end(body);
      return;
    }
    case 'pass': {
      const forward = relay(upstream, req, res, { headers: forwardedHeaders(req.headers, HOP_BY_HOP, body), body });
      // The emulator itself failing is not a mode under test: drop the socket like `down` does.
      forward.on('error', () => req.socket.destroy());
      res.once('close', () => forward.destroy());
      return;
    }
  }
}

/** Counts over the requests received; they read the live list, so they follow `reset()`. */
function requestCounts(requests: readonly ProxiedRequest[]): Pick<FaultProxy, 'counts' | 'count' | 'invocations'> {
  const matching = (target: string, filter: { secretId?: string; since?: number } = {}) =>
    requests.filter(
      (r) =>
        r.target === target &&
        (filter.secretId === undefined || r.secretId === filter.secretId) &&
        (filter.since === undefined || r.at >= filter.since),
    );
  return {
    counts() {
      const out: Record<string, number> = {};
      for (const r of requests) out[r.target] = (out[r.target] ?? 0) + 1;
      return out;
    },
    count(target, filter) {
      return matching(target, filter).length;
    },
    invocations(target, filter) {
      return new Set(matching(target, filter).map((r, index) => r.invocationId ?? `anonymous-${index}`)).size;
    },
  };
}

/** A loopback HTTP proxy in front of an AWS emulator whose failure mode a test switches at will. */
export async function startFaultProxy(target: string, initialMode: FaultMode = 'pass'): Promise<FaultProxy> {
  const upstream = new URL(target);
  let mode: FaultMode = initialMode;
  const rules: Array<{ match: (request: ProxiedRequest) => boolean; mode: FaultMode }> = [];
  let closed = false;
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const held = new Set<Held>();

  const answer = (waiting: Held, as: FaultMode): void => {
    const { req, res } = waiting;
    if (closed || res.writableEnded || req.socket.destroyed) return;
    answerAs(as, waiting, upstream, held);
  };

  const server: Server = createServer((req, res) => {
    onWholeBody(req, (body) => {
      const record = recordOf(req, body, mode);
      const as = rules.find((rule) => rule.match(record))?.mode ?? mode;
      record.mode = as;
      requests.push(record);
      answer({ req, res, body }, as);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    setMode(next) {
      mode = next;
      if (next === 'hang') return;
      // Requests held by `hang` are released into the new mode; a client that gave up has closed them already.
      const waiting = [...held];
      held.clear();
      for (const h of waiting) answer(h, next);
    },
    addRule(match, ruleMode) {
      rules.push({ match, mode: ruleMode });
    },
    clearRules() {
      rules.length = 0;
    },
    requests,
    ...requestCounts(requests),
    reset() {
      requests.length = 0;
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      held.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      return done;
    },
  };
}
