import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botEventsDependencies, createBotEventsHandler } from '../../../functions/bot-events.js';
import { DEFAULTS, loadConfig } from '../../../lib/config/index.js';
import { createLogger } from '../../../lib/logging/index.js';
import { Credentials } from '../../../lib/portal/index.js';
import { createSecretsManagerStore } from '../../../lib/secrets/secrets-manager-store.js';
import { startFaultProxy, type FaultProxy } from '../../../devtools/fault-proxy.js';
import { httpEvent, lambdaContext } from '../../../devtools/lambda.js';
import { MemoryStore } from '../../support/memory-store.js';
import { countBy, percentile, recordScenario } from '../../support/report.js';
import { uniquePrefix } from '../../support/secrets.js';

// What made-up portal names cost: every unauthenticated event names `auth[domain]` freely, and each name the
// container holds nothing for used to cost one GetSecretValue and one cache entry for ever.
const FILE = 'test/reliability/security/unauthenticated-cost.test.ts';
const GET_SECRET = 'secretsmanager.GetSecretValue';
// A full collection before each heap reading, so the figure is what the flood left behind, not its garbage.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await startFaultProxy(process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER as string);
});
afterAll(async () => {
  await proxy?.close();
});

function eventFor(domain: string, i: number) {
  const body = new URLSearchParams({
    event: 'ONIMBOTMESSAGEADD',
    'auth[domain]': domain,
    'auth[member_id]': 'bac1cd5c8940947a75e0d71b1a84e348',
    'auth[application_token]': 'made-up-token-000000000000000000',
    'data[BOT][39][BOT_ID]': '39',
    'data[PARAMS][DIALOG_ID]': '27',
    'data[PARAMS][MESSAGE_ID]': String(i),
  }).toString();
  return httpEvent({
    path: '/bitrix/events',
    body,
    base64: true,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
}

/** The events handler with its production defaults, over Secrets Manager on moto through a counting proxy. */
function handlerOverMoto(env: Record<string, string> = {}) {
  const config = loadConfig({ CREDENTIALS_SOURCE: 'secrets-manager', SECRETS_PREFIX: uniquePrefix(), ...env });
  const logger = createLogger({ sink: () => undefined });
  const store = createSecretsManagerStore({
    timeoutMs: config.secretsTimeoutMs,
    client: new SecretsManagerClient({ endpoint: proxy.url }),
  });
  const credentials = Credentials.fromConfig(config, logger, store);
  return createBotEventsHandler(botEventsDependencies({}, { config, logger, credentials }));
}

/** The same handler over an in-memory store, whose reads are counted, for runs too long for moto. */
function handlerOverMemory(env: Record<string, string> = {}) {
  const config = loadConfig({ SECRETS_PREFIX: 'cost/test', ...env });
  let lines = 0;
  let longest = 0;
  const logger = createLogger({
    sink: (line) => {
      lines += 1;
      longest = Math.max(longest, line.length);
    },
  });
  const store = new MemoryStore();
  const credentials = Credentials.fromConfig(config, logger, store);
  const handler = createBotEventsHandler(botEventsDependencies({}, { config, logger, credentials }));
  return { handler, store, credentials, logged: () => ({ lines, longest }) };
}

describe('unauthenticated events naming made-up portals', () => {
  it('unknown-domains-300: 300 unknown domains cost at most burst + rate × seconds GetSecretValue calls, every one 401', async () => {
    // Prepare
    const handler = handlerOverMoto();
    proxy.reset();
    const { unknownPortalLookupBurst: burst, unknownPortalLookupsPerSecond: perSecond } = DEFAULTS;

    // Act: all at once, as a flood would arrive
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const at = performance.now();
        const response = await handler(eventFor(`made-up-${i}.bitrix24.com`, i), lambdaContext(10_000));
        return { response, ms: performance.now() - at };
      }),
    );
    const seconds = (performance.now() - started) / 1000;

    // Assess
    const reads = proxy.count(GET_SECRET);
    const bound = burst + Math.ceil(seconds) * perSecond;
    const statuses = countBy(answers.map((a) => a.response.statusCode));
    recordScenario({
      id: 'hostile/unknown-domains-300',
      section: 'Hostile input',
      scenario: '300 unauthenticated events, each naming a different made-up *.bitrix24.com portal, all at once',
      sent: `300 × POST /bitrix/events to the handler (default settings: lookup burst ${burst}, ${perSecond}/s, refusal floor ${DEFAULTS.eventsRefusalFloorMs} ms), Secrets Manager on moto`,
      got: `statuses ${JSON.stringify(statuses)}; ${reads} GetSecretValue calls (bound ${bound})`,
      figures: {
        getSecretValueCalls: reads,
        bound,
        seconds: Math.round(seconds * 100) / 100,
        minMs: Math.round(Math.min(...answers.map((a) => a.ms))),
        p50Ms: percentile(
          answers.map((a) => a.ms),
          50,
        ),
      },
      command: `node scripts/test.mjs ${FILE} -t "unknown-domains-300:"`,
      observations: answers.length,
    });
    expect(statuses).toEqual({ 401: 300 });
    expect(answers.every((a) => JSON.parse(a.response.body as string).code === 'EVENT_UNVERIFIED')).toBe(true);
    expect(reads).toBeLessThanOrEqual(bound);
    expect(reads).toBeGreaterThanOrEqual(burst);
    expect(Math.min(...answers.map((a) => a.ms))).toBeGreaterThanOrEqual(DEFAULTS.eventsRefusalFloorMs - 2);
  }, 60_000);

  it('portal-domains-off-list: 300 domains off PORTAL_DOMAINS cost no GetSecretValue at all', async () => {
    // Prepare
    const handler = handlerOverMoto({ PORTAL_DOMAINS: '*.bitrix24.com,*.bitrix24.de', EVENTS_REFUSAL_FLOOR_MS: '0' });
    proxy.reset();

    // Act
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => handler(eventFor(`portal-${i}.attacker.example`, i), lambdaContext())),
    );

    // Assess
    const statuses = countBy(answers.map((a) => a.statusCode));
    recordScenario({
      id: 'hostile/portal-domains-off-list',
      section: 'Hostile input',
      scenario: '300 unauthenticated events naming domains off the PORTAL_DOMAINS allow-list',
      sent: '300 × POST /bitrix/events with PORTAL_DOMAINS=*.bitrix24.com,*.bitrix24.de, Secrets Manager on moto',
      got: `statuses ${JSON.stringify(statuses)}; ${proxy.count(GET_SECRET)} GetSecretValue calls`,
      figures: { getSecretValueCalls: proxy.count(GET_SECRET) },
      command: `node scripts/test.mjs ${FILE} -t "portal-domains-off-list"`,
      observations: answers.length,
    });
    expect(statuses).toEqual({ 401: 300 });
    expect(proxy.count(GET_SECRET)).toBe(0);
  }, 60_000);

  it('unknown-domains-100k: 100,000 unknown domains leave the cache and the store reads within their bounds', async () => {
    // Prepare: the floor only spaces answers out; without it the run takes seconds instead of minutes
    const { handler, store, credentials, logged } = handlerOverMemory({ EVENTS_REFUSAL_FLOOR_MS: '0' });
    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;

    // Act: in rounds of 1,000 concurrent events
    const started = performance.now();
    const statuses: number[] = [];
    for (let round = 0; round < 100; round += 1) {
      const batch = await Promise.all(
        Array.from({ length: 1_000 }, (_, i) => handler(eventFor(`p${round}-${i}.bitrix24.com`, i), lambdaContext())),
      );
      for (const answer of batch) statuses.push(answer.statusCode);
    }
    const seconds = (performance.now() - started) / 1000;
    collectGarbage();
    const heapGrowthMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;

    // Assess
    const bound = DEFAULTS.unknownPortalLookupBurst + Math.ceil(seconds) * DEFAULTS.unknownPortalLookupsPerSecond;
    recordScenario({
      id: 'hostile/unknown-domains-100k',
      section: 'Hostile input',
      scenario: '100,000 unauthenticated events naming 100,000 made-up portals, one container',
      sent: '100,000 × POST /bitrix/events to one handler (default lookup budget, in-memory store), 1,000 at a time',
      got: `statuses ${JSON.stringify(countBy(statuses))}; ${store.reads} store reads (bound ${bound}); ${credentials.cachedEntries} cache entries`,
      figures: {
        storeReads: store.reads,
        bound,
        cacheEntries: credentials.cachedEntries,
        heapGrowthMiB: Math.round(heapGrowthMiB * 10) / 10,
        seconds: Math.round(seconds * 10) / 10,
        longestLogLine: logged().longest,
      },
      command: `node scripts/test.mjs ${FILE} -t "unknown-domains-100k:"`,
      observations: statuses.length,
    });
    expect(countBy(statuses)).toEqual({ 401: 100_000 });
    expect(store.reads).toBeLessThanOrEqual(bound);
    expect(credentials.cachedEntries).toBeLessThanOrEqual(DEFAULTS.secretsCacheMaxAbsent);
    expect(heapGrowthMiB).toBeLessThan(10);
  }, 300_000);

  it('unknown-domains-100k-no-budget: with the lookup budget wide open, the cache still holds at most its bound', async () => {
    // Prepare: every name is read, so only the cache bound stands between the flood and the heap
    const { handler, store, credentials } = handlerOverMemory({
      EVENTS_REFUSAL_FLOOR_MS: '0',
      UNKNOWN_PORTAL_LOOKUP_BURST: '100000',
      UNKNOWN_PORTAL_LOOKUPS_PER_SECOND: '100000',
    });
    const real = {
      domain: 'real.bitrix24.com',
      webhook: {
        url: 'https://real.bitrix24.com/rest/1/abcdefgh12345678/',
        clientId: 'f3b9c1d2e4a5968778695a4b3c2d1e0f',
      },
    };
    store.values.set(`cost/test/portals/${real.domain}`, JSON.stringify(real));
    await handler(eventFor(real.domain, 0), lambdaContext());

    // Act
    let refused = 0;
    for (let round = 0; round < 100; round += 1) {
      const batch = await Promise.all(
        Array.from({ length: 1_000 }, (_, i) => handler(eventFor(`q${round}-${i}.bitrix24.com`, i), lambdaContext())),
      );
      refused += batch.filter((answer) => answer.statusCode === 401).length;
    }

    // Assess
    const bound = DEFAULTS.secretsCacheMaxEntries + DEFAULTS.secretsCacheMaxAbsent;
    recordScenario({
      id: 'hostile/unknown-domains-100k-no-budget',
      section: 'Hostile input',
      scenario: 'The same 100,000 made-up portals with the lookup budget set wide open',
      sent: '100,000 × POST /bitrix/events, UNKNOWN_PORTAL_LOOKUP_BURST and _PER_SECOND 100000, in-memory store',
      got: `${refused} refused 401; ${store.reads} store reads; ${credentials.cachedEntries} cache entries (bound ${bound}); the real portal still cached: ${credentials.portalKnowledge(real.domain)}`,
      figures: { storeReads: store.reads, cacheEntries: credentials.cachedEntries, bound },
      command: `node scripts/test.mjs ${FILE} -t "unknown-domains-100k-no-budget"`,
      observations: refused,
    });
    expect(refused).toBe(100_000);
    // Each made-up portal read once (besides them only the member-id index a renamed portal is found by).
    expect(store.names.filter((name) => name.startsWith('cost/test/portals/q')).length).toBe(100_000);
    expect(credentials.cachedEntries).toBeLessThanOrEqual(bound);
    // Names found absent live in their own list: the flood never pushed the real portal out.
    expect(credentials.portalKnowledge(real.domain)).toBe('found');
  }, 300_000);
});
