import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../../lib/errors/index.js';
import { TypingGate, type GatedCall } from '../../../lib/imbot/typing-gate.js';
import { recordingMetrics } from '../../../lib/metrics/recording.js';
import type { SendTypingOutcome } from '../../../lib/imbot/send-typing.js';
import type { PortalCredentials } from '../../../lib/portal/index.js';
import { createMemoryState } from '../../../lib/state/index.js';

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function gateWith(options: { windowMs?: number; budgetShare?: number } = {}) {
  const time = clock();
  const recorded = recordingMetrics();
  const state = createMemoryState({
    idempotencyTtlSeconds: 600,
    inProgressRetryAfterMs: 1_000,
    maxEntries: 1_000,
    now: time.now,
  });
  const gate = new TypingGate(state, {
    windowMs: options.windowMs ?? 10_000,
    budgetShare: options.budgetShare ?? 1,
    now: time.now,
    metrics: recorded.metrics,
  });
  let calls = 0;
  const call = async (_gated?: GatedCall): Promise<SendTypingOutcome> => {
    calls += 1;
    return { botId: 39, attempts: 1, upstreamStatus: 200, refreshed: false, coalesced: false };
  };
  return { gate, time, call, calls: () => calls, metrics: recorded.pending };
}

const portal = (domain = 'a.bitrix24.test', rateLimit?: { burst: number; perSecond: number }): PortalCredentials => ({
  domain,
  webhook: { url: `https://${domain}/rest/1/code/` },
  ...(rateLimit ? { rateLimit } : {}),
});

describe('TypingGate', () => {
  it('makes one portal call per dialog per window for a caller asking every second', async () => {
    // Prepare
    const { gate, time, call, calls } = gateWith();
    const target = { portal: portal(), dialogId: 'chat1', botId: 39 };
    // Act: a caller asking every second for 25 s
    const outcomes = [];
    for (let second = 0; second <= 25; second += 1) {
      outcomes.push(await gate.reserve(target).run(call));
      time.advance(1_000);
    }
    // Assess: real calls at 0 s, 10 s, 20 s, far inside the ~35 s the indicator lasts
    expect(calls()).toBe(3);
    expect(outcomes.filter((o) => !o.coalesced)).toHaveLength(3);
  });

  it('lets one of many concurrent requests for a dialog call the portal; the rest are coalesced', async () => {
    // Prepare
    const { gate, call, calls } = gateWith();
    const target = { portal: portal(), dialogId: '27', botId: 39 };
    // Act
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => gate.reserve(target).run(call)));
    // Assess
    expect(calls()).toBe(1);
    expect(outcomes.filter((o) => o.coalesced)).toHaveLength(9);
  });

  it('keeps dialogs, bots and portals apart', async () => {
    // Prepare
    const { gate, call, calls } = gateWith();
    // Act
    for (const target of [
      { portal: portal(), dialogId: '27', botId: 39 },
      { portal: portal(), dialogId: '27', botId: 40 },
      { portal: portal(), dialogId: 'chat27', botId: 39 },
      { portal: portal('c.bitrix24.test'), dialogId: '27', botId: 39 },
    ]) {
      await gate.reserve(target).run(call);
    }
    // Assess
    expect(calls()).toBe(4);
  });

  it('opens no window after a failed call: the next request calls the portal again', async () => {
    // Prepare
    const { gate, call, calls } = gateWith();
    const target = { portal: portal(), dialogId: '27' };
    // Act
    const failed = gate.reserve(target).run(async () => {
      throw new Error('portal down');
    });
    await expect(failed).rejects.toThrow('portal down');
    const second = await gate.reserve(target).run(call);
    // Assess
    expect(second.coalesced).toBe(false);
    expect(calls()).toBe(1);
  });

  it('calls every time when the window is 0', async () => {
    // Prepare
    const { gate, call, calls } = gateWith({ windowMs: 0 });
    // Act
    for (let i = 0; i < 3; i += 1) await gate.reserve({ portal: portal(), dialogId: '27' }).run(call);
    // Assess
    expect(calls()).toBe(3);
  });

  it('answers 429 without touching the portal once its share of the bucket is spent', async () => {
    // Prepare: a bucket of 10 at once, of which this service may use 80%: 8
    const { gate, call, calls } = gateWith({ windowMs: 0, budgetShare: 0.8 });
    const small = portal('small.bitrix24.test', { burst: 10, perSecond: 1 });
    // Act
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        gate
          .reserve({ portal: small, dialogId: `chat${i}` })
          .run(call)
          .then(
            () => 'OK',
            (error: unknown) => error,
          ),
      ),
    );
    // Assess
    expect(calls()).toBe(8);
    const refused = answers.filter((a): a is ServiceError => a instanceof ServiceError);
    expect(refused.map((e) => [e.code, e.status, e.attempts])).toEqual(
      Array(4).fill(['UPSTREAM_RATE_LIMITED', 429, 0]),
    );
    expect(refused[0]?.retryAfterSeconds).toBe(2);
  });

  it('asks the same budget before each retry, so a spent budget ends the retries', async () => {
    // Prepare: room for two calls
    const { gate } = gateWith({ windowMs: 0 });
    const tiny = portal('tiny.bitrix24.test', { burst: 2, perSecond: 0.5 });
    const verdicts: boolean[] = [];
    // Act: the first call's retries ask for admission twice; only one unit is left
    await gate.reserve({ portal: tiny, dialogId: '27' }).run(async ({ mayRetry }) => {
      verdicts.push(await mayRetry(), await mayRetry());
      return { botId: undefined, attempts: 2, upstreamStatus: 200, refreshed: false, coalesced: false };
    });
    // Assess
    expect(verdicts).toEqual([true, false]);
  });

  it('gives an unused slot back, so the next request for the dialog calls the portal', async () => {
    // Prepare
    const { gate, call, calls } = gateWith();
    const target = { portal: portal(), dialogId: '27' };
    // Act
    await gate.reserve(target).cancel();
    const next = await gate.reserve(target).run(call);
    // Assess
    expect(next.coalesced).toBe(false);
    expect(calls()).toBe(1);
  });

  describe('metrics', () => {
    it('counts a coalesced request, and times the one portal call with its attempts', async () => {
      // Prepare
      const { gate, time, metrics } = gateWith();
      const target = { portal: portal(), dialogId: '27' };
      // Act
      await gate.reserve(target).run(async () => {
        time.advance(120);
        return { botId: 39, attempts: 2, upstreamStatus: 200, refreshed: false, coalesced: false };
      });
      await gate.reserve(target).run(async () => {
        throw new Error('a coalesced request must not call');
      });
      // Assess
      expect(metrics()).toEqual({
        UpstreamLatency: [120],
        UpstreamAttempts: [2],
        UpstreamErrors: [0],
        CoalescedRequests: [1],
      });
    });

    it('counts an UPSTREAM_* failure as an upstream error, and any other failure as none', async () => {
      // Prepare
      const { gate, metrics } = gateWith({ windowMs: 0 });
      const failing = (code: 'UPSTREAM_TIMEOUT' | 'BOT_ID_ERROR') => async () => {
        throw new ServiceError(code, 'test', { attempts: 1 });
      };
      // Act
      await gate
        .reserve({ portal: portal(), dialogId: '27' })
        .run(failing('UPSTREAM_TIMEOUT'))
        .catch(() => undefined);
      await gate
        .reserve({ portal: portal(), dialogId: '28' })
        .run(failing('BOT_ID_ERROR'))
        .catch(() => undefined);
      // Assess
      expect(metrics().UpstreamErrors).toEqual([1, 0]);
      expect(metrics().UpstreamAttempts).toEqual([1, 1]);
    });

    it('counts each request and each retry the budget refuses', async () => {
      // Prepare: room for two calls
      const { gate, call, metrics } = gateWith({ windowMs: 0 });
      const tiny = portal('tiny.bitrix24.test', { burst: 2, perSecond: 0.5 });
      // Act: a retry refused, then a request refused
      await gate.reserve({ portal: tiny, dialogId: '27' }).run(async ({ mayRetry }) => {
        await mayRetry();
        await mayRetry();
        return { botId: undefined, attempts: 2, upstreamStatus: 200, refreshed: false, coalesced: false };
      });
      await gate
        .reserve({ portal: tiny, dialogId: '28' })
        .run(call)
        .catch(() => undefined);
      // Assess
      expect(metrics().RateBudgetRefusals).toEqual([1, 1]);
    });
  });
});
