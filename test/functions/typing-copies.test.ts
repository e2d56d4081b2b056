import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTypingHandler, typingDependencies } from '../../functions/typing.js';
import { TypingGate } from '../../lib/imbot/typing-gate.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { webhookBotOn } from '../../devtools/fixtures.js';
import { lambdaContext, signedTypingEvent } from '../../devtools/lambda.js';
import { captureLogger } from '../support/logs.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../support/secrets.js';
import { storeWithSlotsReversed } from '../support/reversed-slots.js';

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
