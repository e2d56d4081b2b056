import { describe, expect, it } from 'vitest';
import { sleep } from '../../../lib/deadline/index.js';
import { container, containers, manualClock, useStateTable } from './state-table.js';

describe('a portal budget shared by all containers (moto)', () => {
  const table = useStateTable();

  it('admits exactly the burst of 60 requests from 10 containers at once, and tells the rest one interval', async () => {
    // Prepare: time stands still, so the count cannot depend on the machine's speed
    const clock = manualClock();
    const ten = containers(table, 10, { now: clock.now });
    const budget = { burst: 50, perSecond: 2 };
    // Act
    const admissions = await Promise.all(
      Array.from({ length: 60 }, (_, i) => ten[i % 10]!.admit('portal-burst', budget)),
    );
    // Assess
    expect(admissions.filter((a) => a.admitted)).toHaveLength(50);
    const refused = admissions.filter((a) => !a.admitted);
    expect(refused).toHaveLength(10);
    for (const refusal of refused) expect(refusal).toEqual({ admitted: false, retryAfterMs: 500 });
  });

  it('admits again once the refusal’s retry time has passed, in any container', async () => {
    // Prepare
    const clock = manualClock();
    const [first, second] = containers(table, 2, { now: clock.now });
    const budget = { burst: 3, perSecond: 2 };
    for (let i = 0; i < 3; i++) await first!.admit('portal-drained', budget);
    const refusal = await second!.admit('portal-drained', budget);
    // Act
    clock.advance(refusal.admitted ? 0 : refusal.retryAfterMs);
    const again = await second!.admit('portal-drained', budget);
    // Assess
    expect(refusal).toEqual({ admitted: false, retryAfterMs: 500 });
    expect(again).toEqual({ admitted: true });
  });

  it('refills in real time: refused after the burst, admitted after waiting the retry time', async () => {
    // Prepare
    const state = container(table);
    // One second per request: the burst and its refusal fit in it even on a loaded machine.
    const budget = { burst: 3, perSecond: 1 };
    const burst = [];
    for (let i = 0; i < 3; i++) burst.push(await state.admit('portal-real-time', budget));
    // Act
    const refusal = await state.admit('portal-real-time', budget);
    await sleep((refusal.admitted ? 0 : refusal.retryAfterMs) + 20);
    const again = await state.admit('portal-real-time', budget);
    // Assess
    expect(burst.every((a) => a.admitted)).toBe(true);
    expect(refusal.admitted).toBe(false);
    expect(refusal.admitted ? 0 : refusal.retryAfterMs).toBeGreaterThan(0);
    expect(refusal.admitted ? 0 : refusal.retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(again).toEqual({ admitted: true });
  });

  it('keeps budgets of different portals apart', async () => {
    // Prepare
    const clock = manualClock();
    const state = container(table, { now: clock.now });
    const budget = { burst: 1, perSecond: 1 };
    await state.admit('portal-a', budget);
    // Act / Assess
    await expect(state.admit('portal-a', budget)).resolves.toMatchObject({ admitted: false });
    await expect(state.admit('portal-b', budget)).resolves.toEqual({ admitted: true });
  });
});
