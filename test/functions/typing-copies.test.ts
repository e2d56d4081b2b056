import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTypingHandler, typingDependencies } from '../../functions/typing.js';
import { TypingGate } from '../../lib/imbot/typing-gate.js';
import { createMemoryState, type SharedState, type TypingSlotRequest } from '../../lib/state/index.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { webhookBotOn } from '../../devtools/fixtures.js';
import { lambdaContext, signedTypingEvent } from '../../devtools/lambda.js';
import { captureLogger } from '../support/logs.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../support/secrets.js';

let portal: FakePortal;
let prefix: string;
let key: string;

beforeAll(async () => {
  portal = await startPortal();
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
  await putSecret(`${prefix}/portals/${portal.domain}`, webhookBotOn(portal, 39).secret);
});
afterAll(async () => {
  await portal.close();
});

/**
 * One store shared by two containers, where the typing-slot writes of two concurrent callers land in the reverse
 * of the order they were sent (as two containers' writes may on DynamoDB), while their idempotency records land in
 * order: the container that does the work is not the one whose slot write came first.
 */
function storeWithSlotsReversed(): SharedState {
  const store = createMemoryState({ idempotencyTtlSeconds: 600, inProgressRetryAfterMs: 1_000, maxEntries: 100 });
  const waiting: Array<() => void> = [];
  const takeTypingSlot = (request: TypingSlotRequest) =>
    new Promise<Awaited<ReturnType<SharedState['takeTypingSlot']>>>((resolve) => {
      waiting.push(() => void store.takeTypingSlot(request).then(resolve));
      if (waiting.length === 2) for (const decide of waiting.splice(0).reverse()) decide();
      else setTimeout(() => waiting.splice(0).forEach((decide) => decide()), 20);
    });
  return {
    scope: 'shared',
    claim: (k, ttlMs) => store.claim(k, ttlMs),
    release: (k) => store.release(k),
    takeTypingSlot,
    releaseTypingSlot: (k) => store.releaseTypingSlot(k),
    admit: (k, budget) => store.admit(k, budget),
    holdMethod: (k, method, untilMs) => store.holdMethod(k, method, untilMs),
    runIdempotent: (request, work) => store.runIdempotent(request, work),
  };
}

describe('POST /typing: copies of one signed request in two containers at once', () => {
  it('make one portal call and get the same 200, whichever container’s typing-slot write lands first', async () => {
    // Prepare: two warm containers sharing the store
    const store = storeWithSlotsReversed();
    const containers = [0, 1].map(() =>
      createTypingHandler(
        typingDependencies(
          { CREDENTIALS_SOURCE: 'secrets-manager', SECRETS_PREFIX: prefix },
          {
            logger: captureLogger().logger,
            state: store,
            gate: new TypingGate(store, { windowMs: 10_000, budgetShare: 0.8 }),
          },
        ),
      ),
    );
    for (const [i, handler] of containers.entries()) {
      await handler(signedTypingEvent({ portal: portal.domain, dialogId: `chat${i + 1}` }, key), lambdaContext());
    }
    portal.resetCalls();
    const event = signedTypingEvent({ portal: portal.domain, dialogId: 'chat9' }, key);
    // Act
    const answers = await Promise.all(containers.map((handler) => handler(event, lambdaContext())));
    // Assess
    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200]);
    expect(answers[1]?.body).toBe(answers[0]?.body);
    expect(portal.typingCalls()).toHaveLength(1);
    expect(portal.typingCalls()[0]?.params).toMatchObject({ DIALOG_ID: 'chat9' });
  });
});
