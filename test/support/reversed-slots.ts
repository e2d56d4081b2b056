import { createMemoryState, type SharedState, type TypingSlotRequest } from '../../lib/state/index.js';

/**
 * One store shared by two containers, where the typing-slot writes of two concurrent callers land in the reverse
 * of the order they were sent (as two containers' writes may on DynamoDB): the second caller's slot is decided
 * first. Everything else (claims, idempotency records) lands in the order it was sent.
 */
export function storeWithSlotsReversed(): SharedState {
  const store = createMemoryState({ idempotencyTtlSeconds: 600, inProgressRetryAfterMs: 1_000, maxEntries: 100 });
  const waiting: Array<() => void> = [];
  const takeTypingSlot = (request: TypingSlotRequest) =>
    new Promise<Awaited<ReturnType<SharedState['takeTypingSlot']>>>((resolve) => {
      waiting.push(() => void store.takeTypingSlot(request).then(resolve));
      // Two callers: decide the later first. One caller (nobody to race): decide it after a moment.
      if (waiting.length === 2) for (const decide of waiting.splice(0).reverse()) decide();
      else setTimeout(() => waiting.splice(0).forEach((decide) => decide()), 20);
    });
  return {
    scope: 'shared',
    claim: (key, ttlMs) => store.claim(key, ttlMs),
    release: (key) => store.release(key),
    takeTypingSlot,
    releaseTypingSlot: (key) => store.releaseTypingSlot(key),
    holdMethod: (key, method, untilMs) => store.holdMethod(key, method, untilMs),
    admit: (key, budget) => store.admit(key, budget),
    runIdempotent: (request, work) => store.runIdempotent(request, work),
  };
}
