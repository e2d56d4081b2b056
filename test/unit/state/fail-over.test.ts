import { describe, expect, it } from 'vitest';
import {
  createMemoryState,
  STATE_DEFAULTS,
  StateUnavailableError,
  withMemoryFailOver,
  type SharedState,
} from '../../../lib/state/index.js';
import { recordingMetrics } from '../../../lib/metrics/recording.js';
import { captureLogger } from '../../support/logs.js';

function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** A shared store that is up or down as the test says, and counts the calls that reached it. */
function scriptedShared() {
  const healthy = createMemoryState({ ...STATE_DEFAULTS });
  const script = { down: false, calls: 0 };
  const reach = <T>(call: () => Promise<T>): Promise<T> => {
    script.calls += 1;
    if (script.down)
      return Promise.reject(new StateUnavailableError('test', { cause: new Error('connect ECONNREFUSED') }));
    return call();
  };
  const shared: SharedState = {
    scope: 'shared',
    claim: (...args) => reach(() => healthy.claim(...args)),
    release: (...args) => reach(() => healthy.release(...args)),
    takeTypingSlot: (...args) => reach(() => healthy.takeTypingSlot(...args)),
    releaseTypingSlot: (...args) => reach(() => healthy.releaseTypingSlot(...args)),
    admit: (...args) => reach(() => healthy.admit(...args)),
    holdMethod: (...args) => reach(() => healthy.holdMethod(...args)),
    runIdempotent: (...args) => reach(() => healthy.runIdempotent(...args)),
  };
  return { shared, script };
}

function failOver(options: { backoffMs?: number; warnEveryMs?: number } = {}) {
  const clock = manualClock();
  const { shared, script } = scriptedShared();
  const { logger, records } = captureLogger();
  const memory = createMemoryState({ ...STATE_DEFAULTS, now: clock.now });
  const recorded = recordingMetrics();
  const state = withMemoryFailOver(shared, memory, {
    metrics: recorded.metrics,
    logger,
    backoffMs: options.backoffMs ?? 5_000,
    warnEveryMs: options.warnEveryMs ?? 60_000,
    now: clock.now,
  });
  const warnings = () => records().filter((record) => record.level === 'warn');
  return { state, script, clock, warnings, metrics: recorded.pending };
}

describe('memory fail-over', () => {
  it('uses the shared store while it answers, and logs nothing', async () => {
    const { state, script, warnings } = failOver();
    await expect(state.claim('delivery', 60_000)).resolves.toBe(true);
    expect(script.calls).toBe(1);
    expect(warnings()).toHaveLength(0);
    expect(state.scope).toBe('shared');
  });

  it('answers from memory when the shared store fails, and leaves it alone for the backoff', async () => {
    // Prepare
    const { state, script, clock } = failOver({ backoffMs: 5_000 });
    script.down = true;
    // Act
    const first = await state.claim('delivery', 60_000);
    const repeat = await state.claim('delivery', 60_000);
    const callsDuringBackoff = script.calls;
    clock.advance(5_000);
    script.down = false;
    await state.claim('other', 60_000);
    // Assess
    expect([first, repeat]).toEqual([true, false]);
    expect(callsDuringBackoff).toBe(1);
    expect(script.calls).toBe(2);
  });

  it('counts each call the shared store failed, not the ones memory answered during the backoff', async () => {
    // Prepare
    const { state, script, clock, metrics } = failOver({ backoffMs: 5_000 });
    script.down = true;
    // Act
    await state.claim('a', 60_000);
    await state.claim('b', 60_000);
    clock.advance(5_000);
    await state.claim('c', 60_000);
    // Assess
    expect(metrics()).toEqual({ StateStoreFailures: [1, 1] });
  });

  it('warns at most once per interval, counting the calls memory answered', async () => {
    // Prepare
    const { state, script, clock, warnings } = failOver({ backoffMs: 1_000, warnEveryMs: 60_000 });
    script.down = true;
    // Act
    for (let i = 0; i < 10; i++) {
      await state.admit('portal', { burst: 5, perSecond: 1 });
      clock.advance(1_000);
    }
    clock.advance(60_000);
    await state.claim('delivery', 60_000);
    // Assess
    expect(warnings()).toHaveLength(2);
    expect(warnings()[0]).toMatchObject({ operation: 'admit', calls: 1, error: { message: 'connect ECONNREFUSED' } });
    expect(warnings()[1]).toMatchObject({ operation: 'claim', calls: 10 });
  });

  it('lets errors that are not the store’s own through (a bad budget, the work’s failure)', async () => {
    const { state } = failOver();
    await expect(state.admit('portal', { burst: 0, perSecond: 1 })).rejects.toThrow(RangeError);
    const failure = new Error('portal unreachable');
    const request = { key: 'webhook-1', payloadHash: 'sha-a', remainingMs: 1_000 };
    await expect(state.runIdempotent(request, () => Promise.reject(failure))).rejects.toBe(failure);
  });

  it('never runs idempotent work a second time once it started, even when the store fails after it', async () => {
    // Prepare: a store that runs the work, then fails to store the answer
    const { logger } = captureLogger();
    const memory = createMemoryState({ ...STATE_DEFAULTS });
    const storingFails: SharedState = {
      ...memory,
      scope: 'shared',
      runIdempotent: async (_request, work) => {
        await work();
        throw new StateUnavailableError('runIdempotent', { cause: new Error('timeout') });
      },
    };
    const state = withMemoryFailOver(storingFails, memory, { logger, backoffMs: 5_000, warnEveryMs: 60_000 });
    let runs = 0;
    const work = async () => {
      runs += 1;
      return { statusCode: 200, body: '{}' };
    };
    // Act
    const outcome = state.runIdempotent({ key: 'webhook-1', payloadHash: 'sha-a', remainingMs: 1_000 }, work);
    // Assess
    await expect(outcome).rejects.toBeInstanceOf(StateUnavailableError);
    expect(runs).toBe(1);
  });

  it('releases a claim in memory too, where it was taken while the shared store was down', async () => {
    // Prepare
    const { state, script, clock } = failOver({ backoffMs: 1_000 });
    script.down = true;
    await state.claim('delivery', 60_000);
    clock.advance(1_000);
    script.down = false;
    // Act
    await state.release('delivery');
    script.down = true;
    clock.advance(1_000);
    // Assess: memory answers again and the claim is free there
    await expect(state.claim('delivery', 60_000)).resolves.toBe(true);
  });
});
