/**
 * Reliability: an expired OAuth access token met by several `/typing` containers at once. Each container is
 * an OS process of its own (harness.ts), so nothing is shared but Secrets Manager (moto) and the loopback
 * portal: the cross-container claim described in README "OAuth token refresh" is what has to keep the
 * rotating refresh token alive.
 */
import { describe, expect, it } from 'vitest';
import type { ScriptedResponse } from '../../../sandbox/portal/index.js';
import { percentile, recordScenario } from '../../support/report.js';
import { readSecret } from '../../support/secrets.js';
import {
  codes,
  figuresOf,
  oauthScene,
  race,
  refreshDirectly,
  SHORT_REMAINING_MS,
  statusCounts,
  useContainers,
  type OAuthSecret,
} from './harness.js';

const FILE = 'test/reliability/refresh/refresh-race.test.ts';
const command = (name: string) => `node scripts/test.mjs ${FILE} -t "${name}"`;

useContainers();

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
    recordScenario({
      id: 'faults/refresh-race-two-containers',
      section: 'Faults',
      scenario: 'Expired access token, two containers (two processes) refreshing at once',
      sent: 'one signed /typing from each of two fresh container processes, fired at the same instant, stored pair expired',
      got: `statuses ${seen.statuses}, ${seen.refreshCalls} refresh at the OAuth endpoint, ${seen.typingCalls} typing calls; stored refresh token then refreshed by a third container: ${third!.status}`,
      figures,
      command: command('two containers with an expired token'),
      observations: results.length,
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
    recordScenario({
      id: 'faults/refresh-race-slow-oauth',
      section: 'Faults',
      scenario: 'Expired access token, two containers refreshing at once, OAuth endpoint slow (300 ms)',
      sent: 'two container processes fired together; every portal and OAuth answer delayed 300 ms',
      got: `statuses ${seen.statuses}, ${seen.refreshCalls} refresh, ${seen.typingCalls} typing calls; stored refresh token refreshes directly: ${proof.status}`,
      figures,
      command: command('slow OAuth endpoint'),
      observations: results.length,
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
    recordScenario({
      id: 'faults/refresh-race-five-containers',
      section: 'Faults',
      scenario: 'Expired access token, five containers (five processes) refreshing at once',
      sent: 'one signed /typing from each of five container processes, fired at the same instant',
      got: `statuses ${seen.statuses}, ${seen.refreshCalls} refresh, ${seen.typingCalls} typing calls; stored refresh token refreshes directly: ${proof.status}`,
      figures,
      command: command('five containers'),
      observations: results.length,
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
      observations: rounds.length,
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
    recordScenario({
      id: 'faults/refresh-claimant-oauth-500',
      section: 'Faults',
      scenario: 'Expired access token, two containers, the claimant’s refresh answered with HTTP 500',
      sent: `two container processes fired together (deadline ${SHORT_REMAINING_MS} ms); OAuth endpoint scripted to answer one 500 HTML page`,
      got: `statuses ${figures.statuses} (${figures.codes}), slowest ${figures.maxMs} ms; ${refreshCalls} refresh calls (${refreshesOk} ok); stored pair live: ${proof.status}`,
      figures,
      command: command('refresh gets a 500'),
      observations: results.length,
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
    recordScenario({
      id: 'faults/refresh-after-failed-claim',
      section: 'Faults',
      scenario: 'A later request after the claimant’s refresh failed with HTTP 500',
      sent: 'two containers fail on a scripted OAuth 500; then one new container sends /typing with the OAuth endpoint healthy',
      got: `later request: ${later!.status} (${figures.laterCode}) after ${later!.elapsedMs} ms; ${figures.refreshCalls} refresh calls, ${figures.refreshesOk} ok`,
      figures,
      command: command('a later request from another container'),
      observations: failed.length + 1,
    });
    expect(failed.every((r) => r.status >= 500)).toBe(true);
    expect(later!.status).toBe(200);
    expect(figures.refreshesOk).toBe(1);
  }, 45_000);
});
