import { describe, expect, it } from 'vitest';
import { containers, manualClock, useStateTable } from './state-table.js';

describe('copies of one request taking a typing slot in many containers at once (moto)', () => {
  const table = useStateTable();

  it('all hold the slot and spend one unit of the budget between them; another request coalesces', async () => {
    // Prepare: a budget of two units, time standing still
    const clock = manualClock();
    const fleet = containers(table, 20, { now: clock.now });
    const budget = { burst: 2, perSecond: 0.01 };
    const slot = (dialog: string, holder: string) => ({
      coalesceKey: `copies|39|${dialog}`,
      windowMs: 10_000,
      budgetKey: 'copies',
      budget,
      holder,
    });
    // Act
    const copies = await Promise.all(fleet.map((state) => state.takeTypingSlot(slot('chat1', 'typing#msg_1'))));
    const other = await fleet[0]!.takeTypingSlot(slot('chat1', 'typing#msg_2'));
    const secondUnit = await fleet[1]!.takeTypingSlot(slot('chat2', 'typing#msg_3'));
    const thirdUnit = await fleet[2]!.takeTypingSlot(slot('chat3', 'typing#msg_4'));
    // Assess
    expect(copies.map((c) => c.kind)).toEqual(Array(20).fill('acquired'));
    expect(other.kind).toBe('coalesced');
    expect([secondUnit.kind, thirdUnit.kind]).toEqual(['acquired', 'rate-limited']);
  });
});
