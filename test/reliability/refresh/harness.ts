/**
 * The multi-process harness of the refresh suites: each Lambda container is an OS process of its own
 * (container.ts, bundled once per file), so nothing is shared but Secrets Manager (moto) and the loopback
 * portal, exactly like warm containers of the `/typing` function. A file calls `useContainers()` once.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import type { PortalCredentials } from '../../../lib/portal/index.js';
import { startPortal, type FakePortal } from '../../../sandbox/portal/index.js';
import { oauthBotOn } from '../../../devtools/fixtures.js';
import { countBy, percentile } from '../../support/report.js';
import { startProcessContainer, useContainerBundle, type InvocationResult } from '../../support/process-container.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../../support/secrets.js';

export type OAuthSecret = PortalCredentials & { oauth: NonNullable<PortalCredentials['oauth']> };

const here = dirname(fileURLToPath(import.meta.url));
let bundle = '';
// The typing function's Lambda timeout is 10 s (serverless.yml); the failure scenarios use a shorter budget so
// that a waiter running out its deadline costs the suite less. Every bound below scales with it.
export const REMAINING_MS = 10_000;
export const SHORT_REMAINING_MS = 4_000;

const portals: FakePortal[] = [];

/** Bundles the container once for the file, and ends every container and portal a test started. */
export function useContainers(): void {
  bundle = useContainerBundle(join(here, 'container.ts'), 'refresh-race');
  afterEach(async () => {
    await Promise.all(portals.splice(0).map((portal) => portal.close()));
  });
}

// ---- containers -----------------------------------------------------------------------------------------

export interface ContainerResult extends InvocationResult {
  headers?: Record<string, string>;
}

export interface Container {
  pid: number;
  fire(fireAt: number): Promise<ContainerResult>;
  /** Ends stdin: the process exits once its invocations have answered. */
  close(): void;
  /** SIGKILL, as when Lambda freezes or recycles a container mid-invocation; resolves once it has exited. */
  kill(): Promise<void>;
}

export interface Scene {
  portal: FakePortal;
  prefix: string;
  key: string;
  secret: OAuthSecret;
  secretName: string;
}

/** A portal with an OAuth bot, its pair stored under a prefix of its own, and a signing key for `/typing`. */
export async function oauthScene(): Promise<Scene> {
  const portal = await startPortal();
  portals.push(portal);
  const prefix = uniquePrefix();
  const [key] = await seedTypingKeys(prefix);
  const { secret } = oauthBotOn(portal, 41);
  const secretName = `${prefix}/portals/${portal.domain}`;
  await putSecret(secretName, secret);
  return { portal, prefix, key: key!, secret, secretName };
}

/**
 * Only what a container needs, passed explicitly: the moto endpoint lives in this process's env, set by setup.
 * `overrides` replace any of it (another Secrets Manager endpoint, a shorter BITRIX24_TIMEOUT_MS, ...).
 */
export function containerEnv(scene: Scene, remainingMs: number, overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
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
    // Pairs are refreshed at the configured OAuth server: here, the loopback portal's.
    OAUTH_SERVER: scene.portal.url,
    TYPING_COALESCE_MS: '0',
    SECRETS_PREFIX: scene.prefix,
    STAGE: 'test',
    LOG_LEVEL: 'info',
    TYPING_KEY: scene.key,
    TYPING_BODY: JSON.stringify({ portal: scene.portal.domain, dialogId: 'chat12', botId: 41 }),
    REMAINING_MS: String(remainingMs),
    ...overrides,
  };
}

export async function startContainer(env: NodeJS.ProcessEnv): Promise<Container> {
  const spawned = await startProcessContainer<{ fireAt: number }, ContainerResult>(bundle, env, 15_000);
  return { ...spawned, fire: (fireAt) => spawned.send({ fireAt }) };
}

export const fireAll = (containers: Container[]) => {
  const fireAt = Date.now() + 100;
  return Promise.all(containers.map((container) => container.fire(fireAt)));
};

/**
 * Starts `count` containers and fires them at one instant with the stored pair expired. Warm (the default):
 * each container first serves one request while the pair is live, so its SDK client and secret cache are warm
 * and it meets the expired token on its very first portal call, the tightest race; the warm-up's calls are
 * then cleared from the portal's record. Cold: fresh processes, each reading its secrets on the way.
 */
export async function race(
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
export async function refreshDirectly(
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

export function figuresOf(scene: Scene, results: ContainerResult[]) {
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
export const statusCounts = (results: ContainerResult[]) =>
  Object.entries(countBy(results.map((r) => r.status)))
    .map(([status, n]) => `${status}:${n}`)
    .join(' ');
const spread = (values: number[]) => (values.length === 0 ? NaN : Math.max(...values) - Math.min(...values));
export const codes = (results: ContainerResult[]) =>
  results.map((r) => (JSON.parse(r.body) as { code?: string }).code ?? 'ok').join(', ');
