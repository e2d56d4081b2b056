import { describe, expect, it } from 'vitest';
import { sleep } from '../../../lib/deadline/index.js';
import { createMemoryState, STATE_DEFAULTS, type StoredAnswer } from '../../../lib/state/index.js';

function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function memory(clock = manualClock(), options: { maxEntries?: number } = {}) {
  return createMemoryState({ ...STATE_DEFAULTS, ...options, now: clock.now });
}

const slot = (dialog: string, burst = 50, windowMs = 10_000) => ({
  coalesceKey: `portal|39|${dialog}`,
  windowMs,
  budgetKey: 'portal',
  budget: { burst, perSecond: 2 },
});

const OK: StoredAnswer = { statusCode: 200, body: '{"ok":true}' };

describe('memory state: claims', () => {
  it('lets one of many claimers win, and another claim after a release or after the claim lapsed', async () => {
    // Prepare
    const clock = manualClock();
    const state = memory(clock);
    // Act
    const claims = await Promise.all(Array.from({ length: 20 }, () => state.claim('delivery', 1_000)));
    await state.release('delivery');
    const afterRelease = await state.claim('delivery', 1_000);
    const whileHeld = await state.claim('delivery', 1_000);
    clock.advance(1_000);
    const afterLapse = await state.claim('delivery', 1_000);
    // Assess
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect([afterRelease, whileHeld, afterLapse]).toEqual([true, false, true]);
  });
});

describe('memory state: the budget (GCRA)', () => {
  it('admits exactly the burst and tells the rest one interval; admits again once it passed', async () => {
    // Prepare
    const clock = manualClock();
    const state = memory(clock);
    const budget = { burst: 50, perSecond: 2 };
    // Act
    const admissions = await Promise.all(Array.from({ length: 60 }, () => state.admit('portal', budget)));
    clock.advance(500);
    const again = [await state.admit('portal', budget), await state.admit('portal', budget)];
    // Assess
    expect(admissions.filter((a) => a.admitted)).toHaveLength(50);
    expect(admissions.filter((a) => !a.admitted)).toEqual(Array(10).fill({ admitted: false, retryAfterMs: 500 }));
    expect(again).toEqual([{ admitted: true }, { admitted: false, retryAfterMs: 500 }]);
  });

  it('drains at its rate: a bucket idle for the whole burst’s time admits the whole burst again', async () => {
    // Prepare
    const clock = manualClock();
    const state = memory(clock);
    const budget = { burst: 5, perSecond: 5 };
    for (let i = 0; i < 5; i++) await state.admit('portal', budget);
    // Act
    clock.advance(1_000);
    const admissions = await Promise.all(Array.from({ length: 6 }, () => state.admit('portal', budget)));
    // Assess
    expect(admissions.map((a) => a.admitted)).toEqual([true, true, true, true, true, false]);
  });

  it('refuses a budget that cannot admit anything', async () => {
    await expect(memory().admit('portal', { burst: 0, perSecond: 2 })).rejects.toThrow(RangeError);
    await expect(memory().admit('portal', { burst: 5, perSecond: 0 })).rejects.toThrow(RangeError);
  });
});

describe('memory state: typing slots', () => {
  it('coalesces a dialog’s repeats within the window without spending the budget', async () => {
    // Prepare
    const state = memory();
    // Act
    const same = await Promise.all(Array.from({ length: 20 }, () => state.takeTypingSlot(slot('chat1', 2))));
    const other = await state.takeTypingSlot(slot('chat2', 2));
    const third = await state.takeTypingSlot(slot('chat3', 2));
    // Assess
    expect(same.filter((s) => s.kind === 'acquired')).toHaveLength(1);
    expect(same.filter((s) => s.kind === 'coalesced')).toHaveLength(19);
    expect(other).toEqual({ kind: 'acquired' });
    expect(third).toEqual({ kind: 'rate-limited', retryAfterMs: 500 });
  });

  it('opens no window for a refused dialog, so it calls the portal once the budget allows', async () => {
    // Prepare
    const clock = manualClock();
    const state = memory(clock);
    await state.takeTypingSlot(slot('chat1', 1));
    await state.takeTypingSlot(slot('chat2', 1));
    // Act
    clock.advance(500);
    // Assess
    await expect(state.takeTypingSlot(slot('chat2', 1))).resolves.toEqual({ kind: 'acquired' });
  });

  it('calls the portal again after the window passed, or at once after a released slot', async () => {
    // Prepare
    const clock = manualClock();
    const state = memory(clock);
    await state.takeTypingSlot(slot('chat1', 50, 1_000));
    await state.takeTypingSlot(slot('chat2', 50, 1_000));
    // Act
    await state.releaseTypingSlot(slot('chat2').coalesceKey);
    const released = await state.takeTypingSlot(slot('chat2', 50, 1_000));
    clock.advance(1_000);
    const lapsed = await state.takeTypingSlot(slot('chat1', 50, 1_000));
    // Assess
    expect([released.kind, lapsed.kind]).toEqual(['acquired', 'acquired']);
  });

  it('gives copies of one request the slot one of them holds, without spending the budget again', async () => {
    // Prepare: a budget of one, so a second unit would be refused
    const state = memory();
    // Act
    const first = await state.takeTypingSlot({ ...slot('chat1', 1), holder: 'typing#msg_1' });
    const copy = await state.takeTypingSlot({ ...slot('chat1', 1), holder: 'typing#msg_1' });
    const other = await state.takeTypingSlot({ ...slot('chat1', 1), holder: 'typing#msg_2' });
    // Assess
    expect([first.kind, copy.kind, other.kind]).toEqual(['acquired', 'acquired', 'coalesced']);
  });

  it('does not coalesce at all with a window of 0', async () => {
    const state = memory();
    const slots = [await state.takeTypingSlot(slot('chat1', 50, 0)), await state.takeTypingSlot(slot('chat1', 50, 0))];
    expect(slots.map((s) => s.kind)).toEqual(['acquired', 'acquired']);
  });
});

describe('memory state: methods the portal holds back', () => {
  it('refuses slots for a held method until the hold ends, and leaves other methods and portals alone', async () => {
    // Prepare
    const clock = manualClock();
    const state = memory(clock);
    await state.holdMethod('portal', 'imbot.chat.sendTyping', clock.now() + 90_000);
    // A shorter hold learnt later never shortens the first.
    await state.holdMethod('portal', 'IMBOT.CHAT.SENDTYPING', clock.now() + 1_000);
    const typing = { ...slot('chat1'), method: 'imbot.chat.sendTyping' };
    // Act
    const held = await state.takeTypingSlot(typing);
    const otherMethod = await state.takeTypingSlot({ ...slot('chat2'), method: 'imbot.v2.Chat.InputAction.notify' });
    const otherPortal = await state.takeTypingSlot({ ...typing, budgetKey: 'other', coalesceKey: 'other|39|chat1' });
    clock.advance(90_000);
    const after = await state.takeTypingSlot(typing);
    // Assess
    expect(held).toEqual({ kind: 'held', retryAfterMs: 90_000 });
    expect([otherMethod.kind, otherPortal.kind, after.kind]).toEqual(['acquired', 'acquired', 'acquired']);
  });
});

describe('memory state: idempotent requests', () => {
  const request = { key: 'webhook-1', payloadHash: 'sha-a', remainingMs: 2_000 };

  it('runs the work once for concurrent repeats and gives each the same answer', async () => {
    // Prepare
    const state = memory();
    let runs = 0;
    const work = async () => {
      runs += 1;
      await sleep(20);
      return OK;
    };
    // Act
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => state.runIdempotent(request, work)));
    // Assess
    expect(runs).toBe(1);
    expect(outcomes.filter((o) => o.kind === 'done' && o.answer.body === OK.body)).toHaveLength(20);
    expect(outcomes.filter((o) => o.kind === 'done' && o.replayed)).toHaveLength(19);
  });

  it('tells another payload under the same key as a conflict', async () => {
    const state = memory();
    await state.runIdempotent(request, async () => OK);
    await expect(state.runIdempotent({ ...request, payloadHash: 'sha-b' }, async () => OK)).resolves.toEqual({
      kind: 'conflict',
    });
  });

  it('forgets work that threw; a repeat waiting on it then runs the work itself', async () => {
    // Prepare
    const state = memory();
    const failure = new Error('portal unreachable');
    // Act
    const first = state.runIdempotent(request, async () => {
      await sleep(20);
      throw failure;
    });
    const waiting = state.runIdempotent(request, async () => OK);
    // Assess
    await expect(first).rejects.toBe(failure);
    await expect(waiting).resolves.toEqual({ kind: 'done', answer: OK, replayed: false });
  });

  it('answers "in progress" when the first is still running after the caller’s remaining time', async () => {
    const state = memory(manualClock(), {});
    void state.runIdempotent(request, () => sleep(500).then(() => OK));
    const started = Date.now();
    const outcome = await state.runIdempotent({ ...request, remainingMs: 50 }, async () => OK);
    expect(outcome).toEqual({ kind: 'in-progress', retryAfterMs: STATE_DEFAULTS.inProgressRetryAfterMs });
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('keeps an answer for the record lifetime, and stores only what survives JSON', async () => {
    // Prepare
    const clock = manualClock();
    const state = memory(clock);
    await state.runIdempotent(request, async () => ({ ...OK, headers: undefined }));
    // Act
    clock.advance(STATE_DEFAULTS.idempotencyTtlSeconds * 1000 - 1);
    const kept = await state.runIdempotent(request, async () => ({ statusCode: 500, body: 'second' }));
    clock.advance(1);
    const expired = await state.runIdempotent(request, async () => ({ statusCode: 500, body: 'second' }));
    // Assess
    expect(kept).toEqual({ kind: 'done', answer: OK, replayed: true });
    expect(expired).toEqual({ kind: 'done', answer: { statusCode: 500, body: 'second' }, replayed: false });
  });
});

describe('memory state: bounded', () => {
  it('keeps at most its cap of entries per map, dropping the oldest first', async () => {
    // Prepare
    const state = memory(manualClock(), { maxEntries: 100 });
    // Act
    for (let i = 0; i < 1_000; i++) await state.claim(`delivery-${i}`, 60_000);
    // Assess: the newest are still held, the oldest were forgotten
    await expect(state.claim('delivery-999', 60_000)).resolves.toBe(false);
    await expect(state.claim('delivery-0', 60_000)).resolves.toBe(true);
  });
});
