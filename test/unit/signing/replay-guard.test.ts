import { describe, expect, it } from 'vitest';
import { ReplayGuard } from '../../../lib/signing/replay-guard.js';

/** A clock the test moves by hand, in unix seconds. */
function clock(startSeconds: number) {
  let ms = startSeconds * 1000;
  return {
    now: () => ms,
    advance: (seconds: number) => {
      ms += seconds * 1000;
    },
  };
}

const T0 = 1_700_000_000;

describe('ReplayGuard', () => {
  it('accepts a webhook-id the first time it is seen', () => {
    // Prepare
    const guard = new ReplayGuard({ maxEntries: 10, now: clock(T0).now });

    // Act
    const accepted = guard.reserve('msg_1', T0 + 300);

    // Assess
    expect(accepted).toBe(true);
  });

  it('refuses the same webhook-id again while its window is open', () => {
    // Prepare
    const time = clock(T0);
    const guard = new ReplayGuard({ maxEntries: 10, now: time.now });
    guard.reserve('msg_1', T0 + 300);
    time.advance(299);

    // Act
    const replayed = guard.reserve('msg_1', T0 + 300);

    // Assess
    expect(replayed).toBe(false);
  });

  it('refuses a replay up to and including the second its window ends', () => {
    // Prepare
    const time = clock(T0);
    const guard = new ReplayGuard({ maxEntries: 10, now: time.now });
    guard.reserve('msg_1', T0 + 300);
    time.advance(300);

    // Act
    const replayed = guard.reserve('msg_1', T0 + 600);

    // Assess
    expect(replayed).toBe(false);
  });

  it('accepts the webhook-id again once its window has passed', () => {
    // Prepare
    const time = clock(T0);
    const guard = new ReplayGuard({ maxEntries: 10, now: time.now });
    guard.reserve('msg_1', T0 + 300);
    time.advance(301);

    // Act
    const again = guard.reserve('msg_1', T0 + 601);

    // Assess
    expect(again).toBe(true);
  });

  it('keeps different webhook-ids apart', () => {
    // Prepare
    const guard = new ReplayGuard({ maxEntries: 10, now: clock(T0).now });
    guard.reserve('msg_1', T0 + 300);

    // Act
    const other = guard.reserve('msg_2', T0 + 300);

    // Assess
    expect(other).toBe(true);
  });

  it('accepts a released webhook-id again so the sender can retry', () => {
    // Prepare
    const guard = new ReplayGuard({ maxEntries: 10, now: clock(T0).now });
    guard.reserve('msg_1', T0 + 300);

    // Act
    guard.release('msg_1');
    const retried = guard.reserve('msg_1', T0 + 300);

    // Assess
    expect(retried).toBe(true);
    expect(guard.reserve('msg_1', T0 + 300)).toBe(false);
  });

  it('ignores the release of a webhook-id it never saw', () => {
    // Prepare
    const guard = new ReplayGuard({ maxEntries: 10, now: clock(T0).now });
    guard.reserve('msg_1', T0 + 300);

    // Act
    guard.release('msg_unknown');

    // Assess
    expect(guard.reserve('msg_1', T0 + 300)).toBe(false);
    expect(guard.size).toBe(1);
  });

  it('never holds more than maxEntries webhook-ids', () => {
    // Prepare
    const guard = new ReplayGuard({ maxEntries: 5, now: clock(T0).now });

    // Act
    for (let i = 0; i < 50; i++) guard.reserve(`msg_${i}`, T0 + 300);

    // Assess
    expect(guard.size).toBeLessThanOrEqual(5);
    expect(guard.reserve('msg_49', T0 + 300)).toBe(false);
  });

  it('evicts the oldest webhook-ids first when full', () => {
    // Prepare
    const guard = new ReplayGuard({ maxEntries: 3, now: clock(T0).now });
    for (const id of ['msg_a', 'msg_b', 'msg_c']) guard.reserve(id, T0 + 300);

    // Act
    guard.reserve('msg_d', T0 + 300);

    // Assess
    expect(guard.reserve('msg_c', T0 + 300)).toBe(false);
    expect(guard.reserve('msg_d', T0 + 300)).toBe(false);
    expect(guard.reserve('msg_a', T0 + 300)).toBe(true);
  });

  it('drops expired webhook-ids before live ones when full', () => {
    // Prepare
    const time = clock(T0);
    const guard = new ReplayGuard({ maxEntries: 3, now: time.now });
    guard.reserve('msg_old', T0 + 10);
    time.advance(100);
    guard.reserve('msg_live1', T0 + 400);
    guard.reserve('msg_live2', T0 + 400);

    // Act
    guard.reserve('msg_new', T0 + 400);

    // Assess
    expect(guard.size).toBe(3);
    expect(guard.reserve('msg_live1', T0 + 400)).toBe(false);
    expect(guard.reserve('msg_live2', T0 + 400)).toBe(false);
    expect(guard.reserve('msg_new', T0 + 400)).toBe(false);
  });

  it('uses the real clock when none is injected', () => {
    // Prepare
    const guard = new ReplayGuard();
    const expiresAt = Math.floor(Date.now() / 1000) + 300;

    // Act
    const first = guard.reserve('msg_real', expiresAt);
    const second = guard.reserve('msg_real', expiresAt);

    // Assess
    expect([first, second]).toEqual([true, false]);
  });
});
