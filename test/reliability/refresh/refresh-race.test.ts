/**
 * Reliability: an expired OAuth access token met by several `/typing` containers at once. Each container is
 * an OS process of its own (container.ts, bundled here), so nothing is shared but Secrets Manager (moto) and
 * the loopback portal: the cross-container claim described in README "OAuth token refresh" is what has to
 * keep the rotating refresh token alive.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PortalCredentials } from '../../../lib/portal/index.js';
import { startPortal, type FakePortal, type ScriptedResponse } from '../../../sandbox/portal/index.js';
import { oauthBotOn } from '../../../devtools/fixtures.js';
import { countBy, percentile, recordScenario } from '../../support/report.js';
import { putSecret, readSecret, seedTypingKeys, uniquePrefix } from '../../support/secrets.js';

type OAuthSecret = PortalCredentials & { oauth: NonNullable<PortalCredentials['oauth']> };

const here = dirname(fileURLToPath(import.meta.url));
const bundle = join(process.cwd(), '.cache', 'refresh-race', 'container.mjs');
const FILE = 'test/reliability/refresh/refresh-race.test.ts';
const command = (name: string) => `node scripts/test.mjs ${FILE} -t "${name}"`;
// The typing function's Lambda timeout is 10 s (serverless.yml); the failure scenarios use a shorter budget so
// that a waiter running out its deadline costs the suite less. Every bound below scales with it.
const REMAINING_MS = 10_000;
const SHORT_REMAINING_MS = 4_000;

beforeAll(async () => {
  mkdirSync(dirname(bundle), { recursive: true });
  await build({
    entryPoints: [join(here, 'container.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    logLevel: 'error',
    // As in the deployed bundle (serverless.yml): the AWS SDK still calls require() for Node built-ins.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
});

const portals: FakePortal[] = [];
const children = new Set<ChildProcessWithoutNullStreams>();
afterEach(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
  children.clear();
  await Promise.all(portals.splice(0).map((portal) => portal.close()));
});

// ---- containers -----------------------------------------------------------------------------------------

interface ContainerResult {
  status: number;
  body: string;
  firedAt: number;
  elapsedMs: number;
  pid: number;
  /** The service's own JSON log lines written during this invocation. */
  logs: Array<Record<string, unknown>>;
}

interface Container {
  fire(fireAt: number): Promise<ContainerResult>;
  /** Ends stdin: the process exits once its invocations have answered. */
  close(): void;
}

interface Scene {
  portal: FakePortal;
  prefix: string;
  key: string;
  secret: OAuthSecret;
  secretName: string;
}

/** A portal with an OAuth bot, its pair stored under a prefix of its own, and a signing key for `/typing`. */
async function oauthScene(): Promise<Scene> {
  const portal = await startPortal();
  portals.push(portal);
  const prefix = uniquePrefix();
  const [key] = await seedTypingKeys(prefix);
  const { secret } = oauthBotOn(portal, 41);
  const secretName = `${prefix}/portals/${portal.domain}`;
  await putSecret(secretName, secret);
  return { portal, prefix, key: key!, secret, secretName };
}

/** Only what a container needs, passed explicitly: the moto endpoint lives in this process's env, set by setup. */
function containerEnv(scene: Scene, remainingMs: number): NodeJS.ProcessEnv {
  const pass = (name: string) => (process.env[name] === undefined ? {} : { [name]: process.env[name] });
  return {
    ...pass('PATH'),
    ...pass('AWS_ENDPOINT_URL'),
    ...pass('AWS_ENDPOINT_URL_SECRETS_MANAGER'),
    ...pass('AWS_REGION'),
    ...pass('AWS_ACCESS_KEY_ID'),
    ...pass('AWS_SECRET_ACCESS_KEY'),
    ...pass('AWS_SESSION_TOKEN'),
    CREDENTIALS_SOURCE: 'secrets-manager',
    TYPING_COALESCE_MS: '0',
    SECRETS_PREFIX: scene.prefix,
    STAGE: 'test',
    LOG_LEVEL: 'info',
    TYPING_KEY: scene.key,
    TYPING_BODY: JSON.stringify({ portal: scene.portal.domain, dialogId: 'chat12', botId: 41 }),
    REMAINING_MS: String(remainingMs),
  };
}

async function startContainer(env: NodeJS.ProcessEnv): Promise<Container> {
  const child = spawn(process.execPath, [bundle], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const waiting: Array<{ resolve: (result: ContainerResult) => void; reject: (error: Error) => void }> = [];
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  createInterface({ input: child.stdout }).on('line', (line) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      logs.push({ raw: line });
      return;
    }
    if (record.container === 'ready') onReady();
    else if (record.container === 'result') {
      waiting.shift()?.resolve({ ...(record as unknown as ContainerResult), logs });
      logs = [];
    } else logs.push(record);
  });
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) => {
      const error = new Error(`container ${child.pid} exited (${code}): ${stderr}`);
      for (const waiter of waiting.splice(0)) waiter.reject(error);
      reject(error);
    }),
  );
  exited.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    ready,
    exited,
    new Promise(
      (_, reject) =>
        (timer = setTimeout(() => reject(new Error(`container ${child.pid} not ready: ${stderr}`)), 15_000)),
    ),
  ]).finally(() => clearTimeout(timer));
  return {
    fire(fireAt) {
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin.write(JSON.stringify({ fireAt }) + '\n');
      });
    },
    close: () => child.stdin.end(),
  };
}

const fireAll = (containers: Container[]) => {
  const fireAt = Date.now() + 100;
  return Promise.all(containers.map((container) => container.fire(fireAt)));
};

/**
 * Starts `count` containers and fires them at one instant with the stored pair expired. Warm (the default):
 * each container first serves one request while the pair is live, so its SDK client and secret cache are warm
 * and it meets the expired token on its very first portal call, the tightest race; the warm-up's calls are
 * then cleared from the portal's record. Cold: fresh processes, each reading its secrets on the way.
 */
async function race(
  scene: Scene,
  count: number,
  { warm = true, remainingMs = REMAINING_MS } = {},
): Promise<ContainerResult[]> {
  const containers = await Promise.all(
    Array.from({ length: count }, () => startContainer(containerEnv(scene, remainingMs))),
  );
  try {
    if (warm) {
      const warmUp = await fireAll(containers);
      if (!warmUp.every((r) => r.status === 200))
        throw new Error(`warm-up failed: ${warmUp.map((r) => r.body).join(' | ')}`);
      scene.portal.resetCalls();
    }
    scene.portal.expireAccessTokens();
    return await fireAll(containers);
  } finally {
    for (const container of containers) container.close();
  }
}

// ---- evidence -------------------------------------------------------------------------------------------

/** Refreshes straight at the portal's OAuth endpoint: succeeds only if `refreshToken` is the live one. */
async function refreshDirectly(
  portal: FakePortal,
  oauth: OAuthSecret['oauth'],
): Promise<{ status: number; live: boolean }> {
  const url = new URL(portal.oauthUrl);
  url.search = new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: oauth.clientId,
    client_secret: oauth.clientSecret,
    refresh_token: oauth.refreshToken,
  }).toString();
  const response = await fetch(url);
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, live: response.status === 200 && typeof body.access_token === 'string' };
}

function figuresOf(scene: Scene, results: ContainerResult[]) {
  const fired = results.map((r) => r.firedAt);
  const elapsed = results.map((r) => r.elapsedMs);
  return {
    containers: results.length,
    statuses: statusCounts(results),
    refreshCalls: scene.portal.refreshCalls.length,
    refreshesOk: scene.portal.refreshCalls.filter((call) => call.ok).length,
    typingCalls: scene.portal.typingCalls().length,
    // Which containers stored a pair they refreshed themselves (the claimant, and only it).
    storedByContainers: results.filter((r) =>
      r.logs.some((line) => line.message === 'access token refreshed and stored'),
    ).length,
    fireSkewMs: Math.max(...fired) - Math.min(...fired),
    // How close together the containers met the expired token at the portal: the width of the race.
    expiredHitSpreadMs: spread(
      scene.portal.calls.filter((call) => call.error === 'expired_token').map((call) => call.at),
    ),
    p50Ms: percentile(elapsed, 50),
    maxMs: percentile(elapsed, 100),
  };
}

/** Status counts as one figure: `200:2` or `502:1 504:1`. */
const statusCounts = (results: ContainerResult[]) =>
  Object.entries(countBy(results.map((r) => r.status)))
    .map(([status, n]) => `${status}:${n}`)
    .join(' ');
const spread = (values: number[]) => (values.length === 0 ? NaN : Math.max(...values) - Math.min(...values));
const codes = (results: ContainerResult[]) =>
  results.map((r) => (JSON.parse(r.body) as { code?: string }).code ?? 'ok').join(', ');

// ---- scenarios ------------------------------------------------------------------------------------------

describe('OAuth refresh race across container processes', () => {
  it('two containers with an expired token make one refresh, both answer 200 and the stored pair is live', async () => {
    // Prepare
    const scene = await oauthScene();
    // Act
    const results = await race(scene, 2);
    const stored = await readSecret<OAuthSecret>(scene.secretName);
    const seen = figuresOf(scene, results);
    // The stored refresh token is the live one: a third container, after the new pair expires too, refreshes with it.
    const [third] = await race(scene, 1, { warm: false });
    // Assess
    const figures = {
      ...seen,
      rotated: stored.oauth.refreshToken !== scene.secret.oauth.refreshToken ? 'yes' : 'no',
      thirdContainerStatus: third!.status,
      refreshesOkAfterThird: scene.portal.refreshCalls.filter((call) => call.ok).length,
    };
    const ok =
      seen.refreshCalls === 1 &&
      seen.refreshesOk === 1 &&
      seen.typingCalls === 2 &&
      results.every((r) => r.status === 200) &&
      figures.rotated === 'yes' &&
      third!.status === 200 &&
      figures.refreshesOkAfterThird === 2;
    recordScenario({
      id: 'faults/refresh-race-two-containers',
      section: 'Faults',
      scenario: 'Expired access token, two containers (two processes) refreshing at once',
      sent: 'one signed /typing from each of two fresh container processes, fired at the same instant, stored pair expired',
      got: `statuses ${seen.statuses}, ${seen.refreshCalls} refresh at the OAuth endpoint, ${seen.typingCalls} typing calls; stored refresh token then refreshed by a third container: ${third!.status}`,
      figures,
      command: command('two containers with an expired token'),
      ok,
    });
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(seen.refreshCalls).toBe(1);
    expect(seen.refreshesOk).toBe(1);
    expect(seen.storedByContainers).toBe(1);
    expect(seen.typingCalls).toBe(2);
    expect(stored.oauth.refreshToken).not.toBe(scene.secret.oauth.refreshToken);
    expect(third!.status).toBe(200);
    expect(figures.refreshesOkAfterThird).toBe(2);
  }, 30_000);

  it('with a slow OAuth endpoint (300 ms) two containers still make exactly one refresh', async () => {
    // Prepare: every portal answer, the refresh included, takes 300 ms, so the second container arrives mid-refresh
    const scene = await oauthScene();
    scene.portal.setLatency(300);
    // Act
    const results = await race(scene, 2);
    const stored = await readSecret<OAuthSecret>(scene.secretName);
    const seen = figuresOf(scene, results);
    const proof = await refreshDirectly(scene.portal, stored.oauth);
    // Assess
    const figures = { ...seen, latencyMs: 300, storedTokenRefreshStatus: proof.status };
    const ok =
      seen.refreshCalls === 1 && seen.typingCalls === 2 && results.every((r) => r.status === 200) && proof.live;
    recordScenario({
      id: 'faults/refresh-race-slow-oauth',
      section: 'Faults',
      scenario: 'Expired access token, two containers refreshing at once, OAuth endpoint slow (300 ms)',
      sent: 'two container processes fired together; every portal and OAuth answer delayed 300 ms',
      got: `statuses ${seen.statuses}, ${seen.refreshCalls} refresh, ${seen.typingCalls} typing calls; stored refresh token refreshes directly: ${proof.status}`,
      figures,
      command: command('slow OAuth endpoint'),
      ok,
    });
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(seen.refreshCalls).toBe(1);
    expect(seen.typingCalls).toBe(2);
    expect(proof.live).toBe(true);
  }, 30_000);

  it('five containers with an expired token make exactly one refresh and all answer 200', async () => {
    // Prepare
    const scene = await oauthScene();
    // Act
    const results = await race(scene, 5);
    const stored = await readSecret<OAuthSecret>(scene.secretName);
    const seen = figuresOf(scene, results);
    const proof = await refreshDirectly(scene.portal, stored.oauth);
    // Assess
    const figures = { ...seen, storedTokenRefreshStatus: proof.status };
    const ok =
      seen.refreshCalls === 1 && seen.typingCalls === 5 && results.every((r) => r.status === 200) && proof.live;
    recordScenario({
      id: 'faults/refresh-race-five-containers',
      section: 'Faults',
      scenario: 'Expired access token, five containers (five processes) refreshing at once',
      sent: 'one signed /typing from each of five container processes, fired at the same instant',
      got: `statuses ${seen.statuses}, ${seen.refreshCalls} refresh, ${seen.typingCalls} typing calls; stored refresh token refreshes directly: ${proof.status}`,
      figures,
      command: command('five containers'),
      ok,
    });
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(seen.refreshCalls).toBe(1);
    expect(seen.storedByContainers).toBe(1);
    expect(seen.typingCalls).toBe(5);
    expect(proof.live).toBe(true);
  }, 30_000);

  it('repeated over five rounds, two racing containers make exactly one refresh every round', async () => {
    const rounds: Array<{
      warm: boolean;
      refreshCalls: number;
      statuses: number[];
      typingCalls: number;
      live: boolean;
      hitSpreadMs: number;
    }> = [];
    for (let round = 0; round < 5; round += 1) {
      // Prepare: warm and cold containers alternate (cold ones read their secrets on the way, widening the spread)
      const warm = round % 2 === 0;
      const scene = await oauthScene();
      // Act
      const results = await race(scene, 2, { warm });
      const stored = await readSecret<OAuthSecret>(scene.secretName);
      const seen = figuresOf(scene, results);
      const proof = await refreshDirectly(scene.portal, stored.oauth);
      rounds.push({
        warm,
        refreshCalls: seen.refreshCalls,
        statuses: results.map((r) => r.status),
        typingCalls: seen.typingCalls,
        live: proof.live,
        hitSpreadMs: seen.expiredHitSpreadMs,
      });
    }
    // Assess
    const good = rounds.filter(
      (r) => r.refreshCalls === 1 && r.statuses.every((s) => s === 200) && r.typingCalls === 2 && r.live,
    );
    const figures = {
      rounds: rounds.length,
      roundsWithOneRefresh: rounds.filter((r) => r.refreshCalls === 1).length,
      roundsAllGood: good.length,
      containersPerRound: 2,
      modes: rounds.map((r) => (r.warm ? 'warm' : 'cold')).join(' '),
      refreshCallsPerRound: rounds.map((r) => r.refreshCalls).join(' '),
      expiredHitSpreadMsPerRound: rounds.map((r) => r.hitSpreadMs).join(' '),
    };
    recordScenario({
      id: 'faults/refresh-race-rounds',
      section: 'Faults',
      scenario: 'Expired access token, two racing containers, repeated five times',
      sent: 'five rounds (warm, cold, warm, cold, warm containers), each with a fresh portal pair and two container processes fired together',
      got: `${figures.roundsWithOneRefresh}/${rounds.length} rounds with exactly one refresh; ${good.length}/${rounds.length} with both 200, two typing calls and a live stored token`,
      figures,
      command: command('over five rounds'),
      ok: good.length === rounds.length,
    });
    expect(rounds.map((r) => r.refreshCalls)).toEqual([1, 1, 1, 1, 1]);
    expect(good).toHaveLength(rounds.length);
  }, 60_000);

  const oauth500: ScriptedResponse = {
    status: 500,
    body: '<html><body><h1>500 Internal Server Error</h1></body></html>',
  };

  it('when the claimant’s refresh gets a 500, it releases the claim and the other container takes over within the deadline', async () => {
    // Prepare
    const scene = await oauthScene();
    scene.portal.script('/oauth/token/', [oauth500]);
    // Act
    const results = await race(scene, 2, { remainingMs: SHORT_REMAINING_MS });
    const stored = await readSecret<OAuthSecret>(scene.secretName);
    const refreshCalls = scene.portal.refreshCalls.length;
    const refreshesOk = scene.portal.refreshCalls.filter((call) => call.ok).length;
    const proof = await refreshDirectly(scene.portal, stored.oauth);
    // Assess
    const statuses = results.map((r) => r.status).sort();
    const figures = {
      containers: results.length,
      statuses: statusCounts(results),
      codes: codes(results),
      refreshCalls,
      refreshesOk,
      deadlineMs: SHORT_REMAINING_MS,
      maxMs: percentile(
        results.map((r) => r.elapsedMs),
        100,
      ),
      storedPairRotated: stored.oauth.refreshToken !== scene.secret.oauth.refreshToken ? 'yes' : 'no',
      storedTokenRefreshStatus: proof.status,
    };
    const ok =
      statuses[0] === 200 &&
      statuses[1] === 502 &&
      results.every((r) => r.elapsedMs < SHORT_REMAINING_MS) &&
      refreshCalls === 2 &&
      refreshesOk === 1 &&
      proof.live;
    recordScenario({
      id: 'faults/refresh-claimant-oauth-500',
      section: 'Faults',
      scenario: 'Expired access token, two containers, the claimant’s refresh answered with HTTP 500',
      sent: `two container processes fired together (deadline ${SHORT_REMAINING_MS} ms); OAuth endpoint scripted to answer one 500 HTML page`,
      got: `statuses ${figures.statuses} (${figures.codes}), slowest ${figures.maxMs} ms; ${refreshCalls} refresh calls (${refreshesOk} ok); stored pair live: ${proof.status}`,
      figures,
      command: command('refresh gets a 500'),
      ok,
    });
    expect(statuses).toEqual([200, 502]);
    for (const r of results) expect(r.elapsedMs).toBeLessThan(SHORT_REMAINING_MS);
    expect(refreshCalls).toBe(2);
    expect(refreshesOk).toBe(1);
    expect(proof.live).toBe(true);
  }, 30_000);

  it('after the claimant’s refresh got a 500, a later request from another container refreshes and answers 200', async () => {
    // Prepare: every refresh in the first round fails, so the claims it took are released, not lapsed.
    const scene = await oauthScene();
    scene.portal.script('/oauth/token/', [oauth500, oauth500]);
    const failed = await race(scene, 2, { remainingMs: SHORT_REMAINING_MS });
    // Act: the OAuth endpoint is healthy again
    const [later] = await race(scene, 1, { warm: false, remainingMs: SHORT_REMAINING_MS });
    const sinceFailureMs = later!.firedAt - Math.min(...failed.map((r) => r.firedAt));
    const stored = await readSecret<OAuthSecret>(scene.secretName);
    // Assess
    const figures = {
      firstStatuses: statusCounts(failed),
      laterStatus: later!.status,
      laterCode: codes([later!]),
      laterMs: later!.elapsedMs,
      refreshCalls: scene.portal.refreshCalls.length,
      refreshesOk: scene.portal.refreshCalls.filter((call) => call.ok).length,
      firstRoundFailed: failed.every((r) => r.status >= 500) ? 'yes' : 'no',
      sinceFailureMs,
      storedPairRotated: stored.oauth.refreshToken !== scene.secret.oauth.refreshToken ? 'yes' : 'no',
    };
    const ok = later!.status === 200 && figures.refreshesOk === 1 && figures.firstRoundFailed === 'yes';
    recordScenario({
      id: 'faults/refresh-after-failed-claim',
      section: 'Faults',
      scenario: 'A later request after the claimant’s refresh failed with HTTP 500',
      sent: 'two containers fail on a scripted OAuth 500; then one new container sends /typing with the OAuth endpoint healthy',
      got: `later request: ${later!.status} (${figures.laterCode}) after ${later!.elapsedMs} ms; ${figures.refreshCalls} refresh calls, ${figures.refreshesOk} ok`,
      figures,
      command: command('a later request from another container'),
      ok,
    });
    expect(failed.every((r) => r.status >= 500)).toBe(true);
    expect(later!.status).toBe(200);
    expect(figures.refreshesOk).toBe(1);
  }, 45_000);
});
