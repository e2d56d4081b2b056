import { afterEach, describe, expect, it, vi } from 'vitest';
import { Deadline } from '../../../lib/deadline/index.js';

function clock(startMs = 1_700_000_000_000) {
  let ms = startMs;
  return {
    now: () => ms,
    advance: (by: number) => {
      ms += by;
    },
  };
}

describe('Deadline', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('counts down the time remaining', () => {
    // Prepare
    const time = clock();
    const deadline = Deadline.in(3_000, time.now);

    // Act
    time.advance(1_200);

    // Assess
    expect(deadline.remainingMs()).toBe(1_800);
    expect(deadline.expired()).toBe(false);
  });

  it('reports no time left, never negative time, once it has passed', () => {
    // Prepare
    const time = clock();
    const deadline = Deadline.in(1_000, time.now);

    // Act
    time.advance(5_000);

    // Assess
    expect(deadline.remainingMs()).toBe(0);
    expect(deadline.expired()).toBe(true);
  });

  it('is expired at exactly its own instant', () => {
    // Prepare
    const time = clock();
    const deadline = Deadline.in(1_000, time.now);

    // Act
    time.advance(1_000);

    // Assess
    expect(deadline.expired()).toBe(true);
  });

  it('gives an outbound call its own limit when there is more time left', () => {
    // Prepare
    const deadline = Deadline.in(10_000, clock().now);

    // Act
    const timeout = deadline.timeoutFor(5_000);

    // Assess
    expect(timeout).toBe(5_000);
  });

  it('cuts an outbound call short to the time left', () => {
    // Prepare
    const time = clock();
    const deadline = Deadline.in(10_000, time.now);
    time.advance(8_500);

    // Act
    const timeout = deadline.timeoutFor(5_000);

    // Assess
    expect(timeout).toBe(1_500);
  });

  it('gives an outbound call no time once the deadline has passed', () => {
    // Prepare
    const time = clock();
    const deadline = Deadline.in(100, time.now);
    time.advance(200);

    // Act / Assess
    expect(deadline.timeoutFor(5_000)).toBe(0);
  });

  it('makes a shorter deadline within a longer one', () => {
    // Prepare
    const time = clock();
    const deadline = Deadline.in(10_000, time.now);

    // Act
    const inner = deadline.within(2_000);
    time.advance(500);

    // Assess
    expect(inner.remainingMs()).toBe(1_500);
    expect(deadline.remainingMs()).toBe(9_500);
  });

  it('never lets a nested deadline outlast its parent', () => {
    // Prepare
    const time = clock();
    const deadline = Deadline.in(1_000, time.now);
    time.advance(400);

    // Act
    const inner = deadline.within(60_000);

    // Assess
    expect(inner.remainingMs()).toBe(600);
    expect(inner.at).toBe(deadline.at);
  });

  it('takes the Lambda’s remaining time less a margin to answer in', () => {
    // Prepare: fromLambda reads the system clock, so freeze it.
    vi.useFakeTimers({ now: 1_700_000_000_000, toFake: ['Date'] });

    // Act
    const deadline = Deadline.fromLambda({ getRemainingTimeInMillis: () => 6_000 }, 500);

    // Assess
    expect(deadline.remainingMs()).toBe(5_500);
  });

  it('keeps 250 ms to answer in when no margin is given', () => {
    // Prepare
    vi.useFakeTimers({ now: 1_700_000_000_000, toFake: ['Date'] });

    // Act
    const deadline = Deadline.fromLambda({ getRemainingTimeInMillis: () => 3_000 });

    // Assess
    expect(deadline.remainingMs()).toBe(2_750);
  });

  it('is already expired when the Lambda has less time than the margin', () => {
    // Act
    const deadline = Deadline.fromLambda({ getRemainingTimeInMillis: () => 100 }, 250);

    // Assess
    expect(deadline.expired()).toBe(true);
  });
});
