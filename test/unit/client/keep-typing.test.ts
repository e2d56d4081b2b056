import { describe, expect, it } from 'vitest';
import { keepTyping, TypingError, type TypingRequest, type TypingResult } from '../../../lib/client/index.js';

/** A clock that moves only when every pending promise has run and the next timer is due: a 70 s run takes ~0 s. */
function virtualTime() {
  let t = 0;
  const timers: Array<{ at: number; fire: () => void }> = [];
  const sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      const timer = { at: t + ms, fire: resolve };
      timers.push(timer);
      signal?.addEventListener('abort', () => {
        timers.splice(timers.indexOf(timer), 1);
        resolve();
      });
    });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  /** Runs timers in order until none is left before `untilMs`. */
  const run = async (untilMs: number) => {
    for (;;) {
      await settle();
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (!next || next.at > untilMs) return;
      timers.shift();
      t = next.at;
      next.fire();
    }
  };
  return { now: () => t, sleep, run };
}

/** A service that answers like POST /typing for one bot, recording when each ask reached it. */
function fakeService(time: ReturnType<typeof virtualTime>, answer: (request: TypingRequest) => TypingResult) {
  const asks: Array<{ at: number; request: TypingRequest }> = [];
  return {
    asks,
    client: {
      async sendTyping(request: TypingRequest, options?: { signal?: AbortSignal }) {
        await time.sleep(200, options?.signal); // the service's own round trip
        if (options?.signal?.aborted) throw options.signal.reason;
        asks.push({ at: time.now(), request });
        return answer(request);
      },
    },
  };
}

const gapsOf = (ats: number[], from: number, to: number) =>
  [from, ...ats, to].slice(1).map((at, i) => at - [from, ...ats][i]!);

describe('keepTyping', () => {
  it('keeps a v1 indicator (~35 s) on through 70 s of work: 3 asks, none 35 s apart, none after the work', async () => {
    // Prepare
    const time = virtualTime();
    const service = fakeService(time, () => ({ ok: true, indicatorSeconds: 35 }));
    const request = { portal: 'example.bitrix24.com', dialogId: 'chat12', botId: 39 };

    // Act
    const result = keepTyping(service.client, request, () => time.sleep(70_000).then(() => 'answer'), time);
    await time.run(70_000);
    const settledAt = time.now();
    await time.run(200_000);

    // Assess
    await expect(result).resolves.toBe('answer');
    const ats = service.asks.map((ask) => ask.at);
    expect(ats).toEqual([200, 30_400, 60_600]);
    expect(Math.max(...gapsOf(ats, 0, settledAt))).toBeLessThan(35_000);
    expect(ats.every((at) => at <= settledAt)).toBe(true);
  });

  it('asks once for a v2 bot whose indicator covers the whole duration, naming that duration', async () => {
    // Prepare
    const time = virtualTime();
    const service = fakeService(time, (request) => ({ ok: true, indicatorSeconds: request.durationSeconds }));
    const request = { portal: 'example.bitrix24.com', dialogId: 'chat12', botId: 567, durationSeconds: 120 };

    // Act
    const result = keepTyping(service.client, { ...request, status: 'thinking' }, () => time.sleep(70_000), time);
    await time.run(200_000);
    await result;

    // Assess
    expect(service.asks.map((ask) => ask.request)).toEqual([{ ...request, status: 'thinking' }]);
  });

  it('asks only for the time still left of the duration, and stops asking when it is up', async () => {
    // Prepare: the portal chose nothing: each answer says 35 s, as for v1
    const time = virtualTime();
    const service = fakeService(time, () => ({ ok: true, indicatorSeconds: 35 }));

    // Act: work outlasts the 50 s duration
    const result = keepTyping(
      service.client,
      { portal: 'a.b', dialogId: '27', durationSeconds: 50 },
      () => time.sleep(120_000),
      time,
    );
    await time.run(200_000);
    await result;

    // Assess
    expect(service.asks.map((ask) => [ask.at, ask.request.durationSeconds])).toEqual([
      [200, 50],
      [30_400, 20],
    ]);
  });

  it('asks every 30 s when an answer does not say how long the indicator shows', async () => {
    // Prepare
    const time = virtualTime();
    const service = fakeService(time, () => ({ ok: true }));

    // Act
    const result = keepTyping(service.client, { portal: 'a.b', dialogId: '27' }, () => time.sleep(65_000), time);
    await time.run(200_000);
    await result;

    // Assess
    expect(service.asks.map((ask) => ask.at)).toEqual([200, 30_400, 60_600]);
  });

  it('aborts an ask in flight when the work settles, so nothing reaches the service after it', async () => {
    // Prepare
    const time = virtualTime();
    const service = fakeService(time, () => ({ ok: true, indicatorSeconds: 35 }));

    // Act: the work ends 100 ms into the first ask's 200 ms round trip
    const result = keepTyping(service.client, { portal: 'a.b', dialogId: '27' }, () => time.sleep(100), time);
    await time.run(100_000);
    await result;

    // Assess
    expect(service.asks).toEqual([]);
  });

  it('rejects as the work rejects, and stops asking', async () => {
    // Prepare
    const time = virtualTime();
    const service = fakeService(time, () => ({ ok: true, indicatorSeconds: 35 }));
    const failure = new Error('the model timed out');

    // Act
    const result = keepTyping(
      service.client,
      { portal: 'a.b', dialogId: '27' },
      () => time.sleep(40_000).then(() => Promise.reject(failure)),
      time,
    );
    const outcome = result.catch((error: unknown) => error);
    await time.run(200_000);

    // Assess
    expect(await outcome).toBe(failure);
    expect(service.asks.map((ask) => ask.at)).toEqual([200, 30_400]);
  });

  it('tries again 5 s after a failure worth retrying and gives up on one no retry changes, telling onError', async () => {
    // Prepare
    const time = virtualTime();
    const busy = new TypingError({ code: 'UPSTREAM_RATE_LIMITED', status: 429, detail: 'busy', attempts: 1 });
    const gone = new TypingError({ code: 'BOT_NOT_IN_CHAT', status: 409, detail: 'not a member', attempts: 1 });
    const answers = [busy, gone];
    const service = fakeService(time, () => {
      const next = answers.shift();
      if (next) throw next;
      return { ok: true, indicatorSeconds: 35 };
    });
    const heard: unknown[] = [];

    // Act
    const result = keepTyping(service.client, { portal: 'a.b', dialogId: '27' }, () => time.sleep(60_000), {
      ...time,
      onError: (error) => heard.push(error),
    });
    await time.run(200_000);
    await result;

    // Assess
    expect(service.asks.map((ask) => ask.at)).toEqual([200, 5_400]);
    expect(heard).toEqual([busy, gone]);
  });
});
