/**
 * The REST endpoint: `/rest/<method>` with an OAuth access token, `/rest/<userId>/<code>/<method>` through an
 * inbound webhook. Every call is recorded as a `PortalCall`. Source tags are listed in index.ts.
 */
import type { PortalAuth, WebhookPath } from './auth.js';
import type { Delivery } from './delivery.js';
import type { ScriptedFaults } from './faults.js';
import { requestParams } from './form-body.js';
import type { LeakyBucket } from './leaky-bucket.js';
import type { OperatingTime } from './operating-time.js';
import type { RestMethods } from './rest-methods.js';
import {
  envelope,
  errorCodeOf,
  failure,
  NotedResult,
  RestError,
  type Answer,
  type Caller,
  type InboundRequest,
} from './rest-protocol.js';
import type { PortalCall } from './types.js';

export interface RestEndpointDeps {
  auth: PortalAuth;
  methods: RestMethods;
  bucket: LeakyBucket;
  operating: OperatingTime;
  faults: ScriptedFaults;
  delivery: Delivery;
  record: (call: PortalCall) => void;
}

interface RestRoute {
  method: string;
  webhook?: WebhookPath;
}

/** The method and, for a webhook URL, its user and code; `.json` after the method is optional. */
function parseRestPath(path: string): RestRoute | undefined {
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

/** Normal handling, in the server's order: rate limit, method exists (404 before auth), auth, the method's time
 * budget, method [rest_server processExecution][docs]. */
function processRest(
  deps: RestEndpointDeps,
  methodKey: string,
  webhook: WebhookPath | undefined,
  params: Record<string, unknown>,
  startedMs: number,
): { answer: Answer; caller?: Caller; defects?: string[] } {
  if (!deps.bucket.tryAdd(startedMs)) {
    return { answer: failure(new RestError(503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests')) };
  }
  const method = deps.methods.get(methodKey);
  if (!method) return { answer: failure(new RestError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!')) };
  let caller: Caller | undefined;
  try {
    caller = deps.auth.authenticate(webhook, params);
    deps.operating.check(caller, methodKey, startedMs);
    const ran = method.run(caller, params);
    const operating = deps.operating.charge(caller, methodKey, startedMs);
    const [result, defects] = ran instanceof NotedResult ? [ran.result, ran.defects] : [ran, []];
    const answer = { status: 200, body: envelope(result, startedMs, operating) };
    return { answer, caller, ...(defects.length > 0 ? { defects } : {}) };
  } catch (error) {
    if (error instanceof RestError) return { answer: failure(error), ...(caller ? { caller } : {}) };
    throw error;
  }
}

export function restEndpoint(deps: RestEndpointDeps): (request: InboundRequest) => void {
  return ({ req, res, url, bodyText, startedMs }) => {
    const route = parseRestPath(url.pathname);
    if (!route) {
      deps.delivery.deliver(req, res, { status: 404, body: { error: 'NOT_FOUND', error_description: 'Not found' } }, 0);
      return;
    }
    const via = route.webhook ? 'webhook' : 'oauth';
    const methodKey = route.method.toLowerCase();
    const methodName = deps.methods.get(methodKey)?.name ?? route.method;

    let params: Record<string, unknown>;
    try {
      params = requestParams(req, url, bodyText);
    } catch (error) {
      const answer = failure(error instanceof RestError ? error : new RestError(400, 'INVALID_REQUEST', String(error)));
      const status = answer.status;
      deps.record({ method: methodName, params: {}, via, at: startedMs, status, error: errorCodeOf(answer.body) });
      deps.delivery.deliver(req, res, answer, 0);
      return;
    }
    const visibleParams = { ...params };
    delete visibleParams.auth; // tokens stay out of the log
    // The portal reads `auth` from the query as readily as from the body, but a token in a URL is written to
    // every access log on its way: noted, so tests can insist on its absence.
    const defects = url.searchParams.has('auth') ? { defects: ['auth in query string'] } : {};
    const base = { method: methodName, params: visibleParams, via, at: startedMs, ...defects } as const;
    const webhookUser = route.webhook ? { userId: route.webhook.userId } : {};

    // Scripted responses bypass the bucket and normal handling.
    const turn = deps.faults.next(methodKey, '*');
    if (turn.outcome) {
      const outcome = turn.outcome;
      const status = 'reset' in outcome ? 0 : outcome.status;
      const error = 'reset' in outcome ? 'ECONNRESET' : errorCodeOf(outcome.body);
      deps.record({ ...base, ...webhookUser, status, ...(error ? { error } : {}) });
      deps.delivery.deliver(req, res, outcome, turn.delayMs);
      return;
    }

    const { answer, caller, defects: noted = [] } = processRest(deps, methodKey, route.webhook, params, startedMs);
    const userId = caller?.userId ?? route.webhook?.userId;
    const error = errorCodeOf(answer.body);
    const answered = { status: answer.status, ...(error ? { error } : {}) };
    const allDefects = [...(base.defects ?? []), ...noted];
    deps.record({
      ...base,
      ...(userId !== undefined ? { userId } : {}),
      ...answered,
      ...(allDefects.length > 0 ? { defects: allDefects } : {}),
    });
    deps.delivery.deliver(req, res, answer, turn.delayMs);
  };
}
