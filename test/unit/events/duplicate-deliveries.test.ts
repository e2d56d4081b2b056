import { describe, expect, it } from 'vitest';
import { Deadline } from '../../../lib/deadline/index.js';
import { toBotEvent } from '../../../lib/events/bot-event.js';
import { parseFormBody } from '../../../lib/events/form-body.js';
import { showTypingForEvent } from '../../../lib/events/reactions.js';
import { TypingGate } from '../../../lib/imbot/typing-gate.js';
import type { PortalClient, PortalCredentials } from '../../../lib/portal/index.js';
import { encodeForm, messageEvent, type EventPortal } from '../../support/bot-events.js';
import { captureLogger } from '../../support/logs.js';
import { storeWithSlotsReversed } from '../../support/reversed-slots.js';

const sender: EventPortal = {
  domain: 'some-domain.bitrix24.com',
  memberId: 'bac1cd5c8940947a75e0d71b1a84e348',
  clientEndpoint: 'https://some-domain.bitrix24.com/rest/',
  applicationToken: 'typingbotclientid0000000000000001',
};
const stored: PortalCredentials = {
  domain: sender.domain,
  memberId: sender.memberId,
  webhook: { url: 'https://some-domain.bitrix24.com/rest/1/code/', clientId: sender.applicationToken },
};

function countingPortal(): PortalClient & { calls: number } {
  const portal = {
    calls: 0,
    async call<T>() {
      portal.calls += 1;
      return { result: true as T, attempts: 1, status: 200, refreshed: false };
    },
  };
  return portal;
}

describe('one bot event delivered twice at once, to two containers', () => {
  it('types once, from the delivery that won the claim, whichever typing-slot write lands first', async () => {
    // Prepare
    const event = toBotEvent(
      parseFormBody(
        Buffer.from(encodeForm(messageEvent(sender, { botId: 39 }, { dialogId: 'chat5', messageId: '9001' }))),
      ),
    );
    const store = storeWithSlotsReversed();
    const portals = countingPortal();
    const deliver = () =>
      showTypingForEvent(event, stored, {
        portals,
        deliveries: store,
        deliveryMemoryMs: 600_000,
        logger: captureLogger().logger,
        deadline: Deadline.in(2_000),
        gate: new TypingGate(store, { windowMs: 10_000, budgetShare: 0.8 }),
      });

    // Act
    const [first, second] = await Promise.all([deliver(), deliver()]);

    // Assess
    expect([first[0]?.outcome, second[0]?.outcome]).toEqual(['OK', 'DUPLICATE']);
    expect(portals.calls).toBe(1);
  });
});
