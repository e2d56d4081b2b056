import { describe, expect, it } from 'vitest';
import { sleep } from '../../../lib/deadline/index.js';
import type { StoredAnswer } from '../../../lib/state/index.js';
import { container, containers, observedContainer, useStateTable } from './state-table.js';

/** Work that counts its runs and takes `ms`, answering what a handler would. */
function countedWork(ms: number, answer: StoredAnswer = { statusCode: 200, body: '{"ok":true}' }) {
  const work = async () => {
    work.runs += 1;
    await sleep(ms);
    return answer;
  };
  work.runs = 0;
  return work;
}

describe('idempotent requests across containers (moto)', () => {
  const table = useStateTable();

  it('runs the work once for 20 containers sending the same request at once, and gives all the same answer', async () => {
    // Prepare
    const twenty = containers(table, 20);
    const work = countedWork(300, {
      statusCode: 200,
      body: '{"ok":true}',
      headers: { 'content-type': 'application/json' },
    });
    const request = { key: 'webhook-concurrent', payloadHash: 'sha-a', remainingMs: 8_000 };
    // Act
    const outcomes = await Promise.all(twenty.map((state) => state.runIdempotent(request, work)));
    // Assess
    expect(work.runs).toBe(1);
    const answers = outcomes.map((o) => (o.kind === 'done' ? o.answer : o));
    for (const answer of answers) {
      expect(answer).toEqual({ statusCode: 200, body: '{"ok":true}', headers: { 'content-type': 'application/json' } });
    }
    expect(outcomes.filter((o) => o.kind === 'done' && !o.replayed)).toHaveLength(1);
  });

  it('answers a repeat in another container with the first answer, without running the work', async () => {
    // Prepare
    const [first, second] = containers(table, 2);
    const work = countedWork(0, { statusCode: 404, body: '{"code":"BOT_ID_ERROR"}' });
    const request = { key: 'webhook-repeat', payloadHash: 'sha-a', remainingMs: 2_000 };
    await first!.runIdempotent(request, work);
    // Act
    const repeat = await second!.runIdempotent(request, work);
    // Assess
    expect(repeat).toEqual({
      kind: 'done',
      answer: { statusCode: 404, body: '{"code":"BOT_ID_ERROR"}' },
      replayed: true,
    });
    expect(work.runs).toBe(1);
  });

  it('tells the same key with another payload as a conflict, before and after the first finished', async () => {
    // Prepare
    const [first, second] = containers(table, 2);
    const work = countedWork(200);
    // Act
    const running = first!.runIdempotent({ key: 'webhook-reused', payloadHash: 'sha-a', remainingMs: 2_000 }, work);
    await sleep(50);
    const during = await second!.runIdempotent(
      { key: 'webhook-reused', payloadHash: 'sha-b', remainingMs: 2_000 },
      work,
    );
    await running;
    const after = await second!.runIdempotent(
      { key: 'webhook-reused', payloadHash: 'sha-b', remainingMs: 2_000 },
      work,
    );
    // Assess
    expect([during, after]).toEqual([{ kind: 'conflict' }, { kind: 'conflict' }]);
    expect(work.runs).toBe(1);
  });

  it('does not remember work that threw, so a retry with the same key runs it', async () => {
    // Prepare
    const [first, second] = containers(table, 2);
    const request = { key: 'webhook-failed', payloadHash: 'sha-a', remainingMs: 2_000 };
    const failure = new Error('portal unreachable');
    // Act
    const failed = first!.runIdempotent(request, async () => Promise.reject(failure));
    await expect(failed).rejects.toBe(failure);
    const retried = await second!.runIdempotent(request, countedWork(0));
    // Assess
    expect(retried).toEqual({ kind: 'done', answer: { statusCode: 200, body: '{"ok":true}' }, replayed: false });
  });

  it('answers "in progress" when the first request is still running after the caller’s remaining time', async () => {
    // Prepare
    const [first, second] = containers(table, 2);
    const request = { key: 'webhook-slow', payloadHash: 'sha-a', remainingMs: 5_000 };
    const running = first!.runIdempotent(request, countedWork(1_500));
    await sleep(100);
    // Act
    const started = Date.now();
    const waited = await second!.runIdempotent({ ...request, remainingMs: 300 }, countedWork(0));
    const elapsed = Date.now() - started;
    await running;
    // Assess
    expect(waited).toEqual({ kind: 'in-progress', retryAfterMs: 1_000 });
    expect(elapsed).toBeLessThan(1_000);
  });

  it('waits for the first request when it finishes within the caller’s remaining time', async () => {
    // Prepare
    const [first, second] = containers(table, 2);
    const request = { key: 'webhook-wait', payloadHash: 'sha-a', remainingMs: 5_000 };
    const running = first!.runIdempotent(request, countedWork(400));
    await sleep(100);
    // Act
    const waited = await second!.runIdempotent(request, countedWork(0));
    // Assess
    expect(waited).toEqual({ kind: 'done', answer: { statusCode: 200, body: '{"ok":true}' }, replayed: true });
    await running;
  });

  it('lets a repeat run the work when the first request died before answering', async () => {
    // Prepare: the first container's deadline passes while its work never ends
    const [first, second] = [container(table), container(table)];
    const request = { key: 'webhook-died', payloadHash: 'sha-a', remainingMs: 200 };
    void first.runIdempotent(request, () => new Promise<StoredAnswer>(() => undefined));
    await sleep(400);
    // Act
    const retried = await second.runIdempotent({ ...request, remainingMs: 2_000 }, countedWork(0));
    // Assess
    expect(retried).toMatchObject({ kind: 'done', replayed: false });
  });

  it('never stores a late answer over a record a repeat took over: a later repeat runs the work, no conflict', async () => {
    // Prepare: the first request's record lapses while its work still runs; a repeat takes it over and fails
    const first = observedContainer(table);
    const [second, third] = [container(table), container(table)];
    const request = { key: 'webhook-late', payloadHash: 'sha-a', remainingMs: 100 };
    const late = first.state.runIdempotent(request, countedWork(600));
    await sleep(250);
    await expect(
      second.runIdempotent({ ...request, remainingMs: 2_000 }, async () => {
        throw new Error('portal down');
      }),
    ).rejects.toThrow('portal down');
    // Act
    const lateOutcome = await late;
    const work = countedWork(0);
    const again = await third.runIdempotent({ ...request, remainingMs: 2_000 }, work);
    // Assess: the late answer reached its own caller only; the record it would have written stayed gone
    expect(lateOutcome).toMatchObject({ kind: 'done', replayed: false });
    expect(first.warnings().map((line) => line.message)).toEqual(['idempotency answer not stored']);
    expect(again).toMatchObject({ kind: 'done', replayed: false });
    expect(work.runs).toBe(1);
  });
});
