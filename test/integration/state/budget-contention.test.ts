import { describe, expect, it } from 'vitest';
import { containers, useStateTable } from './state-table.js';

/**
 * A burst of fresh containers on one portal's budget item, with time moving while their writes queue: DynamoDB
 * applies writes to one item one after another, so with many contenders a container's retry lands well over one
 * budget interval after its first try. The budget is far from spent, so every request must be admitted.
 */
describe('a portal budget under contention (moto)', () => {
  const table = useStateTable();

  /** A clock that moves 40 ms on every reading: 20 containers' reads and retries span several intervals. */
  const movingClock = (start = Date.now()) => {
    let now = start;
    return () => (now += 40);
  };

  it('admits 20 fresh containers taking a typing slot at once when the budget holds 40, however long their writes queue', async () => {
    // Prepare: 80% of the platform's default bucket (burst 50, 2 per second): one unit per 625 ms
    const fleet = containers(table, 20, { now: movingClock() });
    const budget = { burst: 40, perSecond: 1.6 };
    // Act
    const slots = await Promise.all(
      fleet.map((state, i) =>
        state.takeTypingSlot({
          coalesceKey: `contended|39|chat${i}`,
          windowMs: 10_000,
          budgetKey: 'contended',
          budget,
        }),
      ),
    );
    // Assess
    expect(slots.map((slot) => slot.kind)).toEqual(Array(20).fill('acquired'));
  });

  it('admits 20 fresh containers at once on their own, too', async () => {
    // Prepare
    const fleet = containers(table, 20, { now: movingClock() });
    const budget = { burst: 40, perSecond: 1.6 };
    // Act
    const admissions = await Promise.all(fleet.map((state) => state.admit('contended-admit', budget)));
    // Assess
    expect(admissions).toEqual(Array(20).fill({ admitted: true }));
  });
});
