/** The OAuth server's token endpoint: refresh tokens rotate, the old pair dies with the refresh [docs].
 * It has a host of its own, as oauth.bitrix.info is not the portal: `server_endpoint` names it. Every refusal
 * carries `error` and `error_description` [docs: oauth/error-codes]. Every attempt is noted as a `RefreshCall`.
 * Source tags are listed in index.ts. */
import type { PortalAuth } from './auth.js';
import type { Delivery } from './delivery.js';
import type { ScriptedFaults } from './faults.js';
import { requestParams } from './form-body.js';
import { errorCodeOf, type Answer, type InboundRequest } from './rest-protocol.js';
import { OAUTH_TOKEN_PATH, type RefreshCall } from './types.js';

/** Per-application conditions of the OAuth server: an expired payment, the scopes on the application card. */
export class OAuthPolicy {
  readonly expiredPayments = new Set<string>();
  readonly scopes = new Map<string, string[]>();

  scopeOf(clientId: string): string[] {
    return this.scopes.get(clientId) ?? ['im', 'imbot'];
  }
}

// The docs give the wording of PAYMENT_REQUIRED only; the others are the codes' plain meaning.
const DESCRIPTIONS: Record<string, string> = {
  invalid_request: 'Invalid request',
  invalid_client: 'Invalid client',
  invalid_grant: 'Invalid grant',
  invalid_scope: 'Invalid scope',
  PAYMENT_REQUIRED: 'Payment required',
};

export interface OAuthServerDeps {
  auth: PortalAuth;
  policy: OAuthPolicy;
  /** Which listener answered: the OAuth server's own host, or the portal's (kept for tests that point there). */
  host: RefreshCall['host'];
  faults: ScriptedFaults;
  delivery: Delivery;
  refreshCalls: RefreshCall[];
  tokenTtlSeconds: number;
  clientEndpoint: string;
  memberId: string;
  oauthUrl: string;
}

/** The answer to a refresh grant, and the error code to note when it is a refusal. */
interface GrantOutcome {
  answer: Answer;
  error?: string;
}

function refreshGrant(deps: OAuthServerDeps, params: Record<string, unknown>, clientId: string): GrantOutcome {
  const fail = (status: number, error: string): GrantOutcome => ({
    answer: { status, body: { error, error_description: DESCRIPTIONS[error] ?? error } },
    error,
  });
  if (params.grant_type !== 'refresh_token') return fail(400, 'invalid_request');
  const app = deps.auth.app(clientId);
  if (!app || app.clientSecret !== params.client_secret) return fail(401, 'invalid_client');
  // The trial or paid period is over: no tokens until it is renewed [docs]. The status is not documented.
  if (deps.policy.expiredPayments.has(clientId)) return fail(402, 'PAYMENT_REQUIRED');
  // Permissions beyond those on the application card [docs].
  const granted = deps.policy.scopeOf(clientId);
  const asked = typeof params.scope === 'string' && params.scope !== '' ? params.scope.split(',') : [];
  if (asked.some((scope) => !granted.includes(scope.trim()))) return fail(400, 'invalid_scope');
  const redeemed = deps.auth.redeemRefreshToken(String(params.refresh_token ?? ''), clientId);
  if (!redeemed) return fail(400, 'invalid_grant');

  const fresh = deps.auth.issue(clientId, redeemed.userId, deps.tokenTtlSeconds);
  const body = {
    access_token: fresh.accessToken,
    refresh_token: fresh.refreshToken,
    expires: fresh.expiresAt,
    expires_in: fresh.expiresIn,
    client_endpoint: deps.clientEndpoint,
    server_endpoint: `${new URL(deps.oauthUrl).origin}/rest/`,
    member_id: deps.memberId,
    scope: deps.policy.scopeOf(clientId).join(','),
    status: 'L',
    user_id: redeemed.userId,
    domain: new URL(deps.oauthUrl).host, // here `domain` is the OAuth host [docs]
  };
  return { answer: { status: 200, body } };
}

export function oauthServer(deps: OAuthServerDeps): (request: InboundRequest) => void {
  return ({ req, res, url, bodyText, startedMs }) => {
    let params: Record<string, unknown>;
    try {
      params = requestParams(req, url, bodyText);
    } catch {
      params = {};
    }
    const clientId = typeof params.client_id === 'string' ? params.client_id : '';
    const note = (ok: boolean, error?: string): void => {
      deps.refreshCalls.push({ at: startedMs, clientId, ok, host: deps.host, ...(error ? { error } : {}) });
    };

    const turn = deps.faults.next(OAUTH_TOKEN_PATH);
    if (turn.outcome) {
      const outcome = turn.outcome;
      const ok = !('reset' in outcome) && outcome.status === 200;
      const error =
        'reset' in outcome ? 'ECONNRESET' : (errorCodeOf(outcome.body) ?? (ok ? undefined : `HTTP ${outcome.status}`));
      note(ok, error);
      deps.delivery.deliver(req, res, outcome, turn.delayMs);
      return;
    }

    const { answer, error } = refreshGrant(deps, params, clientId);
    note(error === undefined, error);
    deps.delivery.deliver(req, res, answer, turn.delayMs);
  };
}
