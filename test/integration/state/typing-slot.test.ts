import { describe, expect, it } from 'vitest';
import { container, containers, manualClock, useStateTable } from './state-table.js';

const slot = (dialog: string, portal: string, burst = 50, windowMs = 10_000) => ({
  coalesceKey: `${portal}|39|${dialog}`,
  windowMs,
  budgetKey: portal,
  budget: { burst, perSecond: 2 },
});

describe('typing slots: coalescing and the portal budget together (moto)', () => {
  const table = useStateTable();

  it('gives one of 20 containers typing in the same dialog at once the portal call, and spends one unit', async () => {
    // Prepare
    const clock = manualClock();
    const twenty = containers(table, 20, { now: clock.now });
    // Act
    const slots = await Promise.all(twenty.map((state) => state.takeTypingSlot(slot('chat1', 'portal-coalesce', 3))));
    // Assess: the coalesced 19 spent nothing, so two more dialogs fit in a burst of 3 and a third does not
    expect(slots.filter((s) => s.kind === 'acquired')).toHaveLength(1);
    expect(slots.filter((s) => s.kind === 'coalesced')).toHaveLength(19);
    const others = await Promise.all(
      ['chat2', 'chat3', 'chat4'].map((dialog) => twenty[0]!.takeTypingSlot(slot(dialog, 'portal-coalesce', 3))),
    );
    expect(others.map((s) => s.kind).sort()).toEqual(['acquired', 'acquired', 'rate-limited']);
  });

  it('refuses over the budget with the time the next unit frees, and opens no window for the refused dialog', async () => {
    // Prepare
    const clock = manualClock();
    const [first, second] = containers(table, 2, { now: clock.now });
    await first!.takeTypingSlot(slot('chat1', 'portal-spent', 1));
    // Act
    const refused = await second!.takeTypingSlot(slot('chat2', 'portal-spent', 1));
    clock.advance(500);
    const later = await first!.takeTypingSlot(slot('chat2', 'portal-spent', 1));
    // Assess
    expect(refused).toEqual({ kind: 'rate-limited', retryAfterMs: 500 });
    expect(later).toEqual({ kind: 'acquired' });
  });

  it('answers a dialog whose window is open as coalesced even while the budget is spent', async () => {
    // Prepare
    const clock = manualClock();
    const [first, second] = containers(table, 2, { now: clock.now });
    await first!.takeTypingSlot(slot('chat1', 'portal-open-window', 1));
    // Act / Assess
    await expect(second!.takeTypingSlot(slot('chat1', 'portal-open-window', 1))).resolves.toEqual({
      kind: 'coalesced',
    });
  });

  it('lets the next request call the portal after the caller released its slot on a failed call', async () => {
    // Prepare
    const clock = manualClock();
    const [first, second] = containers(table, 2, { now: clock.now });
    await first!.takeTypingSlot(slot('chat1', 'portal-released'));
    // Act
    await first!.releaseTypingSlot(slot('chat1', 'portal-released').coalesceKey);
    const retried = await second!.takeTypingSlot(slot('chat1', 'portal-released'));
    // Assess
    expect(retried).toEqual({ kind: 'acquired' });
  });

  it('calls the portal again for a dialog once its window has passed', async () => {
    // Prepare
    const clock = manualClock();
    const [first, second] = containers(table, 2, { now: clock.now });
    await first!.takeTypingSlot(slot('chat1', 'portal-window', 50, 1_000));
    // Act
    const inside = await second!.takeTypingSlot(slot('chat1', 'portal-window', 50, 1_000));
    clock.advance(1_001);
    const after = await second!.takeTypingSlot(slot('chat1', 'portal-window', 50, 1_000));
    // Assess
    expect([inside.kind, after.kind]).toEqual(['coalesced', 'acquired']);
  });

  it('keeps coalescing right while lapsed windows are pruned from the portal item', async () => {
    // Prepare: 30 dialogs typed in turn, each window lapsing before the next round
    const clock = manualClock();
    const state = container(table, { now: clock.now });
    for (let round = 0; round < 2; round++) {
      for (let dialog = 0; dialog < 30; dialog++) {
        await state.takeTypingSlot(slot(`chat${dialog}`, 'portal-prune', 100, 1_000));
      }
      clock.advance(60_000);
    }
    // Act
    const first = await state.takeTypingSlot(slot('chat0', 'portal-prune', 100, 1_000));
    const repeat = await container(table, { now: clock.now }).takeTypingSlot(slot('chat0', 'portal-prune', 100, 1_000));
    // Assess
    expect([first.kind, repeat.kind]).toEqual(['acquired', 'coalesced']);
  });

  it('holds a method back for every container once one learnt the portal stopped taking it, until the hold ends', async () => {
    // Prepare: one container learns the method's time budget is spent for 10 minutes
    const clock = manualClock();
    const [learnt, fresh] = containers(table, 2, { now: clock.now });
    const typing = { ...slot('chat1', 'portal-hold'), method: 'imbot.chat.sendTyping' };
    await learnt!.holdMethod('portal-hold', 'imbot.chat.sendTyping', clock.now() + 600_000);
    await learnt!.holdMethod('portal-hold', 'imbot.chat.sendTyping', clock.now() + 5_000);
    // Act
    const held = await fresh!.takeTypingSlot(typing);
    const otherMethod = await fresh!.takeTypingSlot({
      ...slot('chat2', 'portal-hold'),
      method: 'imbot.v2.Chat.InputAction.notify',
    });
    clock.advance(600_000);
    const after = await fresh!.takeTypingSlot(typing);
    // Assess: the later, shorter hold did not shorten the first
    expect(held).toEqual({ kind: 'held', retryAfterMs: 600_000 });
    expect([otherMethod.kind, after.kind]).toEqual(['acquired', 'acquired']);
  });

  it('admits the first request of a portal whose item a hold created, once the hold has ended', async () => {
    // Prepare: the hold is the item's first write (no bucket state yet)
    const clock = manualClock();
    const state = container(table, { now: clock.now });
    await state.holdMethod('portal-hold-first', 'imbot.chat.sendTyping', clock.now() + 1_000);
    clock.advance(1_000);
    // Act
    const first = await state.takeTypingSlot({
      ...slot('chat1', 'portal-hold-first'),
      method: 'imbot.chat.sendTyping',
    });
    // Assess
    expect(first).toEqual({ kind: 'acquired' });
  });

  it('never prunes a window another container reopened after this one saw it lapse', async () => {
    // Prepare: X sees chat-a's window lapse, then Y opens it again
    const clock = manualClock();
    const [x, y, z] = containers(table, 3, { now: clock.now });
    await x!.takeTypingSlot(slot('chat-a', 'portal-reopened', 50, 1_000));
    clock.advance(1_500);
    await x!.takeTypingSlot(slot('chat-b', 'portal-reopened', 50, 1_000));
    const reopened = await y!.takeTypingSlot(slot('chat-a', 'portal-reopened', 50, 1_000));
    clock.advance(100);
    // Act: X's next write would prune chat-a as it last saw it
    const other = await x!.takeTypingSlot(slot('chat-c', 'portal-reopened', 50, 1_000));
    const repeat = await z!.takeTypingSlot(slot('chat-a', 'portal-reopened', 50, 1_000));
    // Assess
    expect([reopened.kind, other.kind, repeat.kind]).toEqual(['acquired', 'acquired', 'coalesced']);
  });
});
