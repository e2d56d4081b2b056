import { describe, expect, it } from 'vitest';
import { Deadline } from '../../../lib/deadline/index.js';
import { ServiceError } from '../../../lib/errors/index.js';
import type { BotEvent, EventAuth } from '../../../lib/events/bot-event.js';
import { EventVerifier, LookupBudget } from '../../../lib/events/event-verifier.js';
import { createLogger } from '../../../lib/logging/index.js';
import { Credentials, type PortalCredentials } from '../../../lib/portal/index.js';
import { captureLogger } from '../../support/logs.js';
import { MemoryStore } from '../../support/memory-store.js';

const PREFIX = 'unit/test';
const CLIENT_ID = 'f3b9c1d2e4a5968778695a4b3c2d1e0f';
const MEMBER_ID = 'bac1cd5c8940947a75e0d71b1a84e348';
const portal: PortalCredentials = {
  domain: 'known.bitrix24.com',
  memberId: MEMBER_ID,
  webhook: { url: 'https://known.bitrix24.com/rest/1/abcdefgh12345678/', clientId: CLIENT_ID },
};

function setup(options: { portalDomains?: string[]; burst?: number; perSecond?: number; floorMs?: number } = {}) {
  let now = 1_700_000_000_000;
  const store = new MemoryStore();
  store.values.set(`${PREFIX}/portals/${portal.domain}`, JSON.stringify(portal));
  const credentials = new Credentials(store, PREFIX, createLogger({ sink: () => undefined }), {
    ttlMs: 300_000,
    staleMs: 900_000,
    absentTtlMs: 60_000,
  });
  const capture = captureLogger();
  const verifier = new EventVerifier({
    credentials,
    logger: capture.logger,
    portalDomains: options.portalDomains ?? [],
    unknownLookups: { burst: options.burst ?? 10, perSecond: options.perSecond ?? 1 },
    refusalFloorMs: options.floorMs ?? 0,
    now: () => now,
  });
  return { store, credentials, verifier, capture, advance: (ms: number) => (now += ms) };
}

const event = (auth: Partial<EventAuth> = {}): BotEvent => ({
  name: 'ONIMBOTMESSAGEADD',
  auth: { domain: portal.domain, memberId: MEMBER_ID, applicationToken: CLIENT_ID, ...auth },
  data: {},
});

async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'verified';
  } catch (error) {
    return error instanceof ServiceError ? `${error.status} ${error.code}` : String(error);
  }
}

const deadline = () => Deadline.in(1_500);

describe('LookupBudget', () => {
  it('allows a burst, then refills at its rate, never above the burst', () => {
    // Prepare
    let now = 0;
    const budget = new LookupBudget(3, 2, () => now);

    // Act
    const burst = [budget.take(), budget.take(), budget.take(), budget.take()];
    now += 500; // one token back at 2 per second
    const afterHalfSecond = [budget.take(), budget.take()];
    now += 60_000;
    const afterMinute = [budget.take(), budget.take(), budget.take(), budget.take()];

    // Assess
    expect(burst).toEqual([true, true, true, false]);
    expect(afterHalfSecond).toEqual([true, false]);
    expect(afterMinute).toEqual([true, true, true, false]);
  });
});

describe('EventVerifier', () => {
  it('verifies a known portal and hands on its normalised domain and member id', async () => {
    // Prepare
    const { verifier } = setup();

    // Act
    const verified = await verifier.verify(event({ domain: '  KNOWN.Bitrix24.com. ' }), deadline());

    // Assess
    expect(verified.event.auth).toMatchObject({ domain: 'known.bitrix24.com', memberId: MEMBER_ID });
  });

  it("passes on the event's member id only in its normal form when the secret holds none", async () => {
    // Prepare
    const { verifier, store } = setup();
    const memberless = { ...portal, domain: 'memberless.bitrix24.com', memberId: undefined };
    store.values.set(`${PREFIX}/portals/${memberless.domain}`, JSON.stringify(memberless));

    // Act
    const [padded, hostile] = await Promise.all([
      verifier.verify(event({ domain: memberless.domain, memberId: ` ${MEMBER_ID.toUpperCase()} ` }), deadline()),
      verifier.verify(event({ domain: memberless.domain, memberId: `${' '.repeat(5_000)}x|y` }), deadline()),
    ]);

    // Assess
    expect([padded.event.auth.memberId, hostile.event.auth.memberId]).toEqual([MEMBER_ID, undefined]);
  });

  it('refuses a domain off PORTAL_DOMAINS with the same 401, without reading a secret', async () => {
    // Prepare
    const { verifier, store } = setup({ portalDomains: ['*.bitrix24.com'] });

    // Act
    const results = [
      await outcome(verifier.verify(event({ domain: 'portal.attacker.example' }), deadline())),
      await outcome(verifier.verify(event({ domain: 'bitrix24.com.attacker.example' }), deadline())),
      await outcome(verifier.verify(event(), deadline())),
    ];

    // Assess
    expect(results).toEqual(['401 EVENT_UNVERIFIED', '401 EVENT_UNVERIFIED', 'verified']);
    expect(store.names).toEqual([`${PREFIX}/portals/known.bitrix24.com`]);
  });

  it('reads 300 unknown names at most burst + rate × seconds times, and answers every one 401', async () => {
    // Prepare
    const { verifier, store, advance } = setup({ burst: 10, perSecond: 1 });

    // Act: 300 made-up portals over 3 simulated seconds, 100 at a time concurrently
    const results: string[] = [];
    for (let second = 0; second < 3; second += 1) {
      const batch = Array.from({ length: 100 }, (_, i) =>
        outcome(verifier.verify(event({ domain: `p${second}-${i}.bitrix24.com` }), deadline())),
      );
      results.push(...(await Promise.all(batch)));
      advance(1_000);
    }

    // Assess
    expect(results.every((r) => r === '401 EVENT_UNVERIFIED')).toBe(true);
    expect(store.reads).toBe(10 + 2);
  });

  it('gives the budget back when the name was a portal, so real portals never run it down', async () => {
    // Prepare: a budget of one, and twenty real portals this container has never read
    const { verifier, store } = setup({ burst: 1, perSecond: 0 });
    for (let i = 0; i < 20; i += 1) {
      const real = { ...portal, domain: `real${i}.bitrix24.com` };
      store.values.set(`${PREFIX}/portals/${real.domain}`, JSON.stringify(real));
    }

    // Act
    const results: string[] = [];
    for (let i = 0; i < 20; i += 1)
      results.push(await outcome(verifier.verify(event({ domain: `real${i}.bitrix24.com` }), deadline())));
    const unknown = await outcome(verifier.verify(event({ domain: 'made-up.bitrix24.com' }), deadline()));
    const overBudget = await outcome(verifier.verify(event({ domain: 'made-up-2.bitrix24.com' }), deadline()));

    // Assess
    expect(results.every((r) => r === 'verified')).toBe(true);
    expect([unknown, overBudget]).toEqual(['401 EVENT_UNVERIFIED', '401 EVENT_UNVERIFIED']);
    expect(store.reads).toBe(21);
  });

  it('keeps verifying portals it already holds while the budget is spent', async () => {
    // Prepare
    const { verifier } = setup({ burst: 1, perSecond: 0 });
    await verifier.verify(event(), deadline());
    await outcome(verifier.verify(event({ domain: 'made-up.bitrix24.com' }), deadline()));

    // Act
    const result = await outcome(verifier.verify(event(), deadline()));

    // Assess
    expect(result).toBe('verified');
  });

  it('logs the refusals without a lookup at most once per ten seconds, with their count', async () => {
    // Prepare
    const { verifier, capture, advance } = setup({ burst: 1, perSecond: 0 });

    // Act
    for (let i = 0; i < 50; i += 1) {
      await outcome(verifier.verify(event({ domain: `x${i}.bitrix24.com` }), deadline()));
      advance(100);
    }

    // Assess
    const warnings = capture
      .records()
      .filter((r) => r.message === 'unknown portals over the lookup budget: refused without a lookup');
    expect(warnings.map((w) => w.refusedWithoutLookup)).toEqual([1]);
  });

  it('answers every refusal no sooner than the floor, whether or not the portal was cached', async () => {
    // Prepare
    const { verifier } = setup({ floorMs: 60 });
    await verifier.verify(event(), deadline()); // the known portal is cached from here on

    // Act
    const timed = async (auth: Partial<EventAuth>) => {
      const started = performance.now();
      const result = await outcome(verifier.verify(event(auth), deadline()));
      return { result, ms: performance.now() - started };
    };
    const cachedWrongToken = await timed({ applicationToken: 'wrong-token-0000000000000000' });
    const unknown = await timed({ domain: 'unknown.bitrix24.com' });
    const notAHost = await timed({ domain: '../app' });

    // Assess
    for (const refusal of [cachedWrongToken, unknown, notAHost]) {
      expect(refusal.result).toBe('401 EVENT_UNVERIFIED');
      expect(refusal.ms).toBeGreaterThanOrEqual(58);
    }
  });

  it('does not hold a verified event back', async () => {
    // Prepare
    const { verifier } = setup({ floorMs: 500 });
    await verifier.verify(event(), deadline());

    // Act
    const started = performance.now();
    await verifier.verify(event(), deadline());

    // Assess
    expect(performance.now() - started).toBeLessThan(100);
  });
});
