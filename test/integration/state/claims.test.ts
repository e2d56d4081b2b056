import { describe, expect, it } from 'vitest';
import { container, containers, manualClock, useStateTable } from './state-table.js';

describe('delivery claims across containers (moto)', () => {
  const table = useStateTable();

  it('lets exactly one of 20 containers claiming the same delivery at once win', async () => {
    // Prepare
    const twenty = containers(table, 20);
    // Act
    const won = await Promise.all(twenty.map((state) => state.claim('delivery-once', 60_000)));
    // Assess
    expect(won.filter(Boolean)).toHaveLength(1);
  });

  it('lets another container claim a delivery once its claimer released it after a failure', async () => {
    // Prepare
    const [first, second] = containers(table, 2) as [ReturnType<typeof container>, ReturnType<typeof container>];
    await first.claim('delivery-released', 60_000);
    // Act
    const beforeRelease = await second.claim('delivery-released', 60_000);
    await first.release('delivery-released');
    const afterRelease = await second.claim('delivery-released', 60_000);
    // Assess
    expect(beforeRelease).toBe(false);
    expect(afterRelease).toBe(true);
  });

  it('lets a claim lapse after its time, before TTL has removed the item', async () => {
    // Prepare
    const clock = manualClock();
    const [first, second] = [container(table, { now: clock.now }), container(table, { now: clock.now })];
    await first.claim('delivery-lapsing', 1_000);
    // Act
    const during = await second.claim('delivery-lapsing', 1_000);
    clock.advance(1_001);
    const after = await second.claim('delivery-lapsing', 1_000);
    // Assess
    expect([during, after]).toEqual([false, true]);
  });

  it('never releases a claim another container took after this one lapsed', async () => {
    // Prepare
    const clock = manualClock();
    const [late, current, third] = [0, 1, 2].map(() => container(table, { now: clock.now }));
    await late!.claim('delivery-retaken', 1_000);
    clock.advance(1_001);
    await current!.claim('delivery-retaken', 60_000);
    // Act
    await late!.release('delivery-retaken');
    // Assess
    await expect(third!.claim('delivery-retaken', 60_000)).resolves.toBe(false);
  });
});
