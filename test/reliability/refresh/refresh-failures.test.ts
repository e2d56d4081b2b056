/**
 * Reliability: the failure paths of OAuth token rotation, each container an OS process of its own
 * (harness.ts). These are the paths where a bug kills the one live refresh token of a portal for every
 * container: a claimant that dies, a Secrets Manager write that fails, a refresh token a peer already spent,
 * a peer that stored its pair first. Secrets Manager faults are injected per operation by a fault proxy in
 * front of moto, so a claim can pass while the write of the refreshed pair fails, or the other way round.
 */
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { versionKey } from '../../../lib/portal/credentials.js';
import { sleep } from '../../../lib/deadline/index.js';
import {
  startFaultProxy,
  type FaultMode,
  type FaultProxy,
  type ProxiedRequest,
} from '../../../devtools/fault-proxy.js';
import { recordScenario } from '../../support/report.js';
import { readSecret, secretsClient } from '../../support/secrets.js';
import {
  containerEnv,
  fireAll,
  oauthScene,
  refreshDirectly,
  startContainer,
  type Container,
  type ContainerResult,
  type OAuthSecret,
  type Scene,
  useContainers,
} from './harness.js';

const FILE = 'test/reliability/refresh/refresh-failures.test.ts';
const command = (name: string) => `node scripts/test.mjs ${FILE} -t "${name}"`;
// A 1 s portal timeout makes a claim's lease 3 s (timeout + 2 s), so a dead claimant costs seconds, not minutes.
const BITRIX24_TIMEOUT_MS = 1_000;
const LEASE_MS = BITRIX24_TIMEOUT_MS + 2_000;
const REMAINING_MS = 8_000;
const PUT = 'secretsmanager.PutSecretValue';

useContainers();

const proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

const isClaim = (r: ProxiedRequest) => r.target === PUT && (r.versionStages ?? []).includes('REFRESH_CLAIM');
const isPairWrite = (r: ProxiedRequest) => r.target === PUT && r.versionStages === undefined;

/** A Secrets Manager endpoint in front of moto where the requests `match` accepts get `mode`. */
async function faultyEndpoint(match: (r: ProxiedRequest) => boolean, mode: FaultMode): Promise<FaultProxy> {
  const proxy = await startFaultProxy(process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER as string);
  proxies.push(proxy);
  proxy.addRule(match, mode);
  return proxy;
}

/** A warm container (it served one request while the pair was live), optionally behind a faulty endpoint. */
async function warmContainer(scene: Scene, proxy?: FaultProxy): Promise<Container> {
  const env = containerEnv(scene, REMAINING_MS, {
    BITRIX24_TIMEOUT_MS: String(BITRIX24_TIMEOUT_MS),
    ...(proxy ? { AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.url } : {}),
  });
  const container = await startContainer(env);
  const [warmUp] = await fireAll([container]);
  if (warmUp?.status !== 200) throw new Error(`warm-up failed: ${warmUp?.body}`);
  return container;
}

async function until(condition: () => boolean, what: string, limitMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > limitMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const problemCode = (result: ContainerResult) => (JSON.parse(result.body) as { code?: string }).code ?? 'ok';
const logged = (result: ContainerResult, message: string) => result.logs.some((line) => line.message === message);
/** What the OAuth endpoint answered so far, in order: `ok invalid_grant`. */
const refreshOutcomes = (scene: Scene) => scene.portal.refreshCalls.map((call) => call.error ?? 'ok').join(' ');

/** The pair a peer container would store: redeemed at the OAuth endpoint by the test itself. */
async function spendAsPeer(scene: Scene): Promise<OAuthSecret> {
  const { oauth } = scene.secret;
  const url = new URL(scene.portal.oauthUrl);
  url.search = new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: oauth.clientId,
    client_secret: oauth.clientSecret,
    refresh_token: oauth.refreshToken,
  }).toString();
  const body = (await (await fetch(url)).json()) as { access_token: string; refresh_token: string; expires: number };
  return {
    ...scene.secret,
    oauth: { ...oauth, accessToken: body.access_token, refreshToken: body.refresh_token, expiresAt: body.expires },
  };
}

/** Stores `pair` as the peer that refreshed `scene`'s original token would: under that token's version key. */
async function storeAsPeer(scene: Scene, pair: OAuthSecret): Promise<void> {
  await secretsClient().send(
    new PutSecretValueCommand({
      SecretId: scene.secretName,
      SecretString: JSON.stringify(pair),
      ClientRequestToken: versionKey('refresh-pair', scene.secret.oauth.refreshToken),
    }),
  );
}

describe('OAuth token rotation failure paths across container processes', () => {
  it('a claimant killed after the OAuth answer, before storing: the next container finds its token revoked and answers 502 at once, spending nothing', async () => {
    // Prepare: A's write of its refreshed pair never reaches Secrets Manager, so A dies holding the only live pair.
    const scene = await oauthScene();
    const proxy = await faultyEndpoint(isPairWrite, 'hang');
    const [a, b] = await Promise.all([warmContainer(scene, proxy), warmContainer(scene)]);
    scene.portal.resetCalls();
    scene.portal.expireAccessTokens();
    // Act
    const claimantAnswer = a!.fire(Date.now()).catch((error: Error) => error);
    await until(() => proxy.requests.some(isPairWrite), 'the claimant to try storing its pair');
    await a!.kill();
    const killedAt = Date.now();
    const [next] = await Promise.all([b!.fire(Date.now())]);
    await claimantAnswer;
    const refreshes = refreshOutcomes(scene);
    const stored = await readSecret<OAuthSecret>(scene.secretName);
    const proof = await refreshDirectly(scene.portal, stored.oauth);
    // Assess
    const waitedMs = next!.firedAt + next!.elapsedMs - killedAt;
    recordScenario({
      id: 'faults/refresh-claimant-killed-after-oauth',
      section: 'Faults',
      scenario: 'Expired access token; the claimant is killed after the OAuth answer, before it stored the new pair',
      sent: `container A refreshes (its pair write to Secrets Manager held), A is SIGKILLed; container B then sends /typing (deadline ${REMAINING_MS} ms)`,
      got: `B: ${next!.status} ${problemCode(next!)} after ${next!.elapsedMs} ms (${waitedMs} ms after the kill); refresh calls: ${refreshes}; stored pair refreshes: ${proof.status} (dead: the portal needs reinstalling)`,
      figures: {
        status: next!.status,
        code: problemCode(next!),
        elapsedMs: next!.elapsedMs,
        refreshCalls: refreshes,
        storedTokenRefreshStatus: proof.status,
        waitedAfterKillMs: waitedMs,
      },
      command: command('killed after the OAuth answer'),
      observations: refreshes.split(' ').length,
    });
    // A's refresh revoked the old access token: B meets invalid_token, not expired_token, so it knows a peer
    // rotated. Nobody stored the new pair, so B reports the failure at once: no wait for A's lease, no refresh.
    expect(next!.status).toBe(502);
    expect(JSON.parse(next!.body)).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamCode: 'invalid_token' });
    expect(refreshes).toBe('ok');
    expect(waitedMs).toBeLessThan(1_500);
    expect(stored.oauth.refreshToken).toBe(scene.secret.oauth.refreshToken);
    expect(proof.status).toBe(400);
  }, 40_000);

  it('a claimant killed after claiming, before refreshing: its lease lapses and another container refreshes, stores and answers 200', async () => {
    // Prepare: A's claim reaches Secrets Manager but A never hears back, and dies before calling the OAuth server.
    const scene = await oauthScene();
    const proxy = await faultyEndpoint(isClaim, 'swallow');
    const [a, b] = await Promise.all([warmContainer(scene, proxy), warmContainer(scene)]);
    scene.portal.resetCalls();
    scene.portal.expireAccessTokens();
    // Act
    const claimantAnswer = a!.fire(Date.now()).catch((error: Error) => error);
    await until(() => proxy.requests.some(isClaim), 'the claimant to claim');
    await sleep(200); // moto has stored the claim by now
    await a!.kill();
    const claimedAt = proxy.requests.find(isClaim)!.at;
    const [next] = await Promise.all([b!.fire(Date.now())]);
    await claimantAnswer;
    const refreshes = refreshOutcomes(scene);
    const stored = await readSecret<OAuthSecret>(scene.secretName);
    const proof = await refreshDirectly(scene.portal, stored.oauth);
    // Assess
    const answeredAfterClaimMs = next!.firedAt + next!.elapsedMs - claimedAt;
    recordScenario({
      id: 'faults/refresh-claimant-killed-before-oauth',
      section: 'Faults',
      scenario: 'Expired access token; the claimant is killed after claiming, before it called the OAuth server',
      sent: `container A claims the refresh (Secrets Manager's answer withheld), A is SIGKILLed; container B then sends /typing (lease ${LEASE_MS} ms)`,
      got: `B: ${next!.status} after ${next!.elapsedMs} ms (${answeredAfterClaimMs} ms after A's claim); refresh calls: ${refreshes}; stored pair refreshes: ${proof.status}`,
      figures: {
        status: next!.status,
        elapsedMs: next!.elapsedMs,
        answeredAfterClaimMs,
        leaseMs: LEASE_MS,
        refreshCalls: refreshes,
        typingCalls: scene.portal.typingCalls().length,
        storedTokenRefreshStatus: proof.status,
      },
      command: command('killed after claiming'),
      observations: scene.portal.typingCalls().length,
    });
    expect(next!.status).toBe(200);
    expect(refreshes).toBe('ok');
    expect(logged(next!, 'access token refreshed and stored')).toBe(true);
    // B waited for the lease, and not much longer: a lapsed lease is noticed within a poll or two.
    expect(answeredAfterClaimMs).toBeGreaterThanOrEqual(LEASE_MS);
    expect(answeredAfterClaimMs).toBeLessThan(LEASE_MS + 1_500);
    expect(proof.live).toBe(true);
  }, 40_000);

  it('a refreshed pair Secrets Manager refuses to store is kept in the container: 200 now, and 200 again without another refresh', async () => {
    // Prepare
    const scene = await oauthScene();
    const proxy = await faultyEndpoint(isPairWrite, 'error500');
    const container = await warmContainer(scene, proxy);
    scene.portal.resetCalls();
    scene.portal.expireAccessTokens();
    // Act
    const [first] = await fireAll([container]);
    const [second] = await fireAll([container]);
    const stored = await readSecret<OAuthSecret>(scene.secretName);
    // Assess
    recordScenario({
      id: 'faults/refresh-pair-not-stored',
      section: 'Faults',
      scenario: 'Expired access token; Secrets Manager refuses the write of the refreshed pair (500)',
      sent: 'one container, two signed /typing in a row; every PutSecretValue of a pair answered 500 InternalServiceError (claims pass)',
      got: `${first!.status}, then ${second!.status}; ${scene.portal.refreshCalls.length} refresh call; typing calls ${scene.portal.typingCalls().length}; error logged: ${logged(first!, 'access token refreshed but NOT stored; reinstall may be needed if this container ends')}`,
      figures: {
        statuses: `${first!.status} ${second!.status}`,
        refreshCalls: refreshOutcomes(scene),
        typingCalls: scene.portal.typingCalls().length,
        pairWritesRefused: proxy.requests.filter(isPairWrite).length,
      },
      command: command('refuses to store'),
      observations: scene.portal.typingCalls().length,
    });
    expect([first!.status, second!.status]).toEqual([200, 200]);
    expect(refreshOutcomes(scene)).toBe('ok');
    expect(scene.portal.typingCalls()).toHaveLength(2);
    expect(
      logged(first!, 'access token refreshed but NOT stored; reinstall may be needed if this container ends'),
    ).toBe(true);
    expect(stored.oauth.refreshToken).toBe(scene.secret.oauth.refreshToken);
  }, 30_000);

  it('a claim Secrets Manager refuses to write: 503 CREDENTIALS_UNAVAILABLE with Retry-After, and the refresh token is not spent', async () => {
    // Prepare
    const scene = await oauthScene();
    const proxy = await faultyEndpoint(isClaim, 'error500');
    const container = await warmContainer(scene, proxy);
    scene.portal.resetCalls();
    scene.portal.expireAccessTokens();
    // Act
    const [answer] = await fireAll([container]);
    const refreshCalls = scene.portal.refreshCalls.length;
    const proof = await refreshDirectly(scene.portal, scene.secret.oauth);
    // Assess
    const headers = answer!.headers ?? {};
    recordScenario({
      id: 'faults/refresh-claim-refused',
      section: 'Faults',
      scenario: 'Expired access token; Secrets Manager refuses the refresh claim (500)',
      sent: 'one container, one signed /typing; every PutSecretValue of a claim answered 500 InternalServiceError',
      got: `${answer!.status} ${problemCode(answer!)}, Retry-After ${headers['retry-after'] ?? '-'}; refresh calls: ${refreshCalls}; original refresh token still refreshes: ${proof.status}`,
      figures: {
        status: answer!.status,
        code: problemCode(answer!),
        retryAfter: headers['retry-after'] ?? '-',
        refreshCalls,
        claimsRefused: proxy.requests.filter(isClaim).length,
        storedTokenRefreshStatus: proof.status,
      },
      command: command('a claim Secrets Manager refuses'),
      observations: proxy.requests.filter(isClaim).length,
    });
    expect(answer!.status).toBe(503);
    expect(problemCode(answer!)).toBe('CREDENTIALS_UNAVAILABLE');
    expect(headers['retry-after']).toBe('5');
    expect(refreshCalls).toBe(0);
    expect(proof.live).toBe(true);
  }, 30_000);

  for (const peerStores of [true, false]) {
    const name = peerStores
      ? 'a refresh token a peer spent after this container claimed it: invalid_grant, then the pair the peer stored, and 200'
      : 'a refresh token a peer spent and never stored a pair for: invalid_grant, then 502 PORTAL_REAUTH_REQUIRED at once';
    it(
      name,
      async () => {
        // Prepare: the container's claim is held at the proxy; meanwhile the peer (this test) spends the token.
        const scene = await oauthScene();
        const proxy = await faultyEndpoint(isClaim, 'hang');
        const container = await warmContainer(scene, proxy);
        scene.portal.resetCalls();
        scene.portal.expireAccessTokens();
        // Act
        const answering = fireAll([container]);
        await until(() => proxy.requests.some(isClaim), 'the container to claim the refresh');
        const peerPair = await spendAsPeer(scene);
        if (peerStores) await storeAsPeer(scene, peerPair);
        proxy.clearRules();
        proxy.setMode('pass'); // the held claim goes through now
        const [answer] = await answering;
        // Assess
        const body = JSON.parse(answer!.body) as { code?: string; upstreamCode?: string };
        recordScenario({
          id: peerStores ? 'faults/refresh-token-spent-by-peer' : 'faults/refresh-token-spent-never-stored',
          section: 'Faults',
          scenario: peerStores
            ? 'Expired access token whose refresh token a peer spends (and stores a pair for) while this container claims it'
            : 'Expired access token whose refresh token a peer spends and never stores a pair for',
          sent: `one container sends /typing; its claim is held at the proxy while the test refreshes the stored token itself${peerStores ? ' and stores the new pair' : ''}`,
          got: `${answer!.status} ${body.code ?? ''} after ${answer!.elapsedMs} ms; refresh calls: ${refreshOutcomes(scene)}; typing calls ${scene.portal.typingCalls().length}`,
          figures: {
            status: answer!.status,
            code: body.code ?? 'ok',
            elapsedMs: answer!.elapsedMs,
            refreshCalls: refreshOutcomes(scene),
            typingCalls: scene.portal.typingCalls().length,
          },
          command: command(peerStores ? 'after this container claimed it' : 'never stored a pair for'),
          observations: scene.portal.refreshCalls.length,
        });
        // The peer's refresh first, then the container's: the OAuth server calls the token spent.
        expect(refreshOutcomes(scene)).toBe('ok invalid_grant');
        if (peerStores) {
          expect(answer!.status).toBe(200);
          expect(scene.portal.typingCalls()).toHaveLength(1);
        } else {
          expect(answer!.status).toBe(502);
          expect(body).toMatchObject({ code: 'PORTAL_REAUTH_REQUIRED', upstreamCode: 'invalid_grant' });
          expect(answer!.elapsedMs).toBeLessThan(1_500);
          expect(logged(answer!, 'stored refresh token refused (invalid_grant): the portal needs a reinstall')).toBe(
            true,
          );
        }
      },
      30_000,
    );
  }

  it('a peer stored a pair for the same refresh token first: the container adopts the stored pair instead of its own', async () => {
    // Prepare: the OAuth answer comes 800 ms late; meanwhile a peer stores a pair issued to user 77.
    const scene = await oauthScene();
    const container = await warmContainer(scene);
    scene.portal.resetCalls();
    scene.portal.expireAccessTokens();
    scene.portal.script('/oauth/token/', [{ delayMs: 800 }]);
    const issued = scene.portal.issueTokens(scene.secret.oauth.clientId, { userId: 77 });
    const peerPair: OAuthSecret = {
      ...scene.secret,
      oauth: {
        ...scene.secret.oauth,
        accessToken: issued.accessToken,
        refreshToken: issued.refreshToken,
        expiresAt: issued.expiresAt,
      },
    };
    // Act
    const answering = fireAll([container]);
    await until(() => scene.portal.refreshCalls.length === 1, 'the container to ask the OAuth server');
    await storeAsPeer(scene, peerPair);
    const [answer] = await answering;
    const stored = await readSecret<OAuthSecret>(scene.secretName);
    // Assess
    const typingUsers = scene.portal.typingCalls().map((call) => call.userId);
    recordScenario({
      id: 'faults/refresh-store-conflict',
      section: 'Faults',
      scenario: 'Expired access token; a peer stores a pair for the same refresh token while the claimant refreshes',
      sent: 'one container refreshes (OAuth answer 800 ms late); meanwhile the test stores another live pair under the same version key',
      got: `${answer!.status}; typing sent as user ${typingUsers.join(', ')} (the stored pair's); adopted: ${logged(answer!, 'another container stored a pair for this refresh token; adopting it')}`,
      figures: { status: answer!.status, typingAsUser: typingUsers.join(' '), refreshCalls: refreshOutcomes(scene) },
      command: command('stored a pair for the same refresh token first'),
      observations: typingUsers.length,
    });
    expect(answer!.status).toBe(200);
    expect(typingUsers).toEqual([77]);
    expect(logged(answer!, 'another container stored a pair for this refresh token; adopting it')).toBe(true);
    expect(stored.oauth.accessToken).toBe(issued.accessToken);
  }, 30_000);
});
