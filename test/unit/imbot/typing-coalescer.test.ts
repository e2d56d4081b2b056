import { describe, expect, it } from 'vitest';
import { TypingCoalescer } from '../../../lib/imbot/typing-coalescer.js';

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('TypingCoalescer', () => {
  it('makes one call for repeated requests inside the window, and a real call again after it', async () => {
    // Prepare
    const time = clock();
    const coalescer = new TypingCoalescer<number>({ windowMs: 10_000, now: time.now });
    let calls = 0;
    const call = async () => ++calls;
    // Act: a caller asking every second for 25 s
    const outcomes = [];
    for (let second = 0; second <= 25; second += 1) {
      outcomes.push(await coalescer.run('p|39|chat1', call));
      time.advance(1_000);
    }
    // Assess: real calls at 0 s, 10 s, 20 s — never more than 10 s apart, far inside the ~35 s the indicator lasts
    expect(calls).toBe(3);
    expect(outcomes.filter((o) => !o.coalesced)).toHaveLength(3);
  });

  it('shares one in-flight call among concurrent requests for a dialog', async () => {
    const coalescer = new TypingCoalescer<number>({ windowMs: 10_000 });
    let calls = 0;
    const call = () => new Promise<number>((resolve) => setTimeout(() => resolve(++calls), 20));
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => coalescer.run('k', call)));
    expect(calls).toBe(1);
    expect(outcomes.filter((o) => o.coalesced)).toHaveLength(9);
  });

  it('keeps dialogs, bots and portals apart', async () => {
    const coalescer = new TypingCoalescer<number>({ windowMs: 10_000 });
    let calls = 0;
    const call = async () => ++calls;
    for (const key of [
      TypingCoalescer.key('a.b', 39, '27'),
      TypingCoalescer.key('a.b', 40, '27'),
      TypingCoalescer.key('a.b', 39, 'chat27'),
      TypingCoalescer.key('c.d', 39, '27'),
    ]) {
      await coalescer.run(key, call);
    }
    expect(calls).toBe(4);
  });

  it('does not start a window after a failure: the next request calls the portal again', async () => {
    const coalescer = new TypingCoalescer<number>({ windowMs: 10_000 });
    let calls = 0;
    await expect(
      coalescer.run('k', async () => {
        calls += 1;
        throw new Error('portal down');
      }),
    ).rejects.toThrow('portal down');
    await coalescer.run('k', async () => ++calls);
    expect(calls).toBe(2);
  });

  it('calls every time when the window is 0', async () => {
    const coalescer = new TypingCoalescer<number>({ windowMs: 0 });
    let calls = 0;
    for (let i = 0; i < 3; i += 1) await coalescer.run('k', async () => ++calls);
    expect(calls).toBe(3);
  });

  it('forgets the oldest dialogs beyond its bound', async () => {
    const coalescer = new TypingCoalescer<number>({ windowMs: 10_000, maxEntries: 2 });
    let calls = 0;
    const call = async () => ++calls;
    for (const key of ['a', 'b', 'c', 'a']) await coalescer.run(key, call);
    expect(calls).toBe(4);
  });
});
