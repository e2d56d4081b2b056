import { describe, expect, it } from 'vitest';
import { Bitrix24Error } from '../../../lib/bitrix24/errors.js';
import { Deadline } from '../../../lib/deadline/index.js';
import { toBotEvent, type BotEvent } from '../../../lib/events/bot-event.js';
import { parseFormBody } from '../../../lib/events/form-body.js';
import { showTypingForEvent } from '../../../lib/events/reactions.js';
import type { PortalClient, PortalCredentials } from '../../../lib/portal/index.js';
import { createMemoryState } from '../../../lib/state/index.js';
import {
  commandEvent,
  encodeForm,
  messageEvent,
  withField,
  type EventFields,
  type EventPortal,
} from '../../support/bot-events.js';
import { captureLogger } from '../../support/logs.js';

const sender: EventPortal = {
  domain: 'some-domain.bitrix24.com',
  memberId: 'bac1cd5c8940947a75e0d71b1a84e348',
  clientEndpoint: 'https://some-domain.bitrix24.com/rest/',
  applicationToken: 'typingbotclientid0000000000000001',
};

const stored = (bots?: PortalCredentials['bots']): PortalCredentials => ({
  domain: sender.domain,
  memberId: sender.memberId,
  webhook: { url: 'https://some-domain.bitrix24.com/rest/1/code/', clientId: sender.applicationToken },
  ...(bots ? { bots } : {}),
});

const eventOf = (fields: EventFields): BotEvent => toBotEvent(parseFormBody(Buffer.from(encodeForm(fields))));

/** One message delivered to several webhook bots at once: one `data[BOT][<id>]` block each. */
function messageToBots(botIds: number[]): EventFields {
  const [first, ...others] = botIds;
  const extra = others.flatMap((botId): EventFields => [
    [`data[BOT][${botId}][BOT_ID]`, String(botId)],
    [`data[BOT][${botId}][BOT_CODE]`, `bot${botId}`],
  ]);
  return [...messageEvent(sender, { botId: first! }, { messageId: '84331' }), ...extra];
}

/** A portal client that records the dialogs it was asked to type in. */
function recordingPortal(): PortalClient & { typedIn: Array<[number, string]> } {
  const typedIn: Array<[number, string]> = [];
  return {
    typedIn,
    async call<T>(_portal: PortalCredentials, _method: string, params: Record<string, unknown>) {
      typedIn.push([params.BOT_ID as number, params.DIALOG_ID as string]);
      return { result: true as T, attempts: 1, status: 200, refreshed: false };
    },
  };
}

async function react(
  event: BotEvent,
  portal: PortalCredentials,
  options: { optIn?: boolean; portals?: PortalClient & { typedIn: Array<[number, string]> } } = {},
) {
  const portals = options.portals ?? recordingPortal();
  const capture = captureLogger();
  const results = await showTypingForEvent(event, portal, {
    portals,
    deliveries: createMemoryState({ idempotencyTtlSeconds: 600, inProgressRetryAfterMs: 1_000, maxEntries: 100 }),
    deliveryMemoryMs: 600_000,
    logger: capture.logger,
    deadline: Deadline.in(2_000),
    typingWherePlatformDoesNot: options.optIn,
  });
  return { results, typedIn: portals.typedIn, records: capture.records };
}

describe('showTypingForEvent: where the platform shows no typing itself', () => {
  it('does not type for a message in an open-line chat (CHAT_ENTITY_TYPE=LINES)', async () => {
    // Prepare: old behaviour typed here, although the platform deliberately does not.
    const event = eventOf(
      withField(messageEvent(sender, { botId: 39 }, { dialogId: 'chat77' }), 'data[PARAMS][CHAT_ENTITY_TYPE]', 'LINES'),
    );

    // Act
    const { results, typedIn } = await react(event, stored());

    // Assess
    expect(typedIn).toEqual([]);
    expect(results).toEqual([{ botId: 39, dialogId: 'chat77', outcome: 'SKIPPED_OPEN_LINE' }]);
  });

  it('does not type for a command pressed on a keyboard button (COMMAND_CONTEXT=KEYBOARD)', async () => {
    // Prepare
    const event = eventOf(
      withField(
        commandEvent(sender, { botId: 39 }, { commandId: 12 }),
        'data[COMMAND][12][COMMAND_CONTEXT]',
        'KEYBOARD',
      ),
    );

    // Act
    const { results, typedIn } = await react(event, stored());

    // Assess
    expect(typedIn).toEqual([]);
    expect(results.map((r) => r.outcome)).toEqual(['SKIPPED_KEYBOARD_COMMAND']);
  });

  it('still types for a command typed in the text area', async () => {
    const { typedIn } = await react(eventOf(commandEvent(sender, { botId: 39 }, { dialogId: '27' })), stored());
    expect(typedIn).toEqual([[39, '27']]);
  });

  it.each(['S', 'supervisor'])('does not type as a supervisor bot (type %s in the portal secret)', async (type) => {
    // Prepare: a supervisor sees every message of its chats; typing for each would show it "typing" all day.
    const event = eventOf(messageEvent(sender, { botId: 41 }, { dialogId: 'chat5' }));

    // Act
    const { results, typedIn } = await react(event, stored({ '41': { type } }));

    // Assess
    expect(typedIn).toEqual([]);
    expect(results.map((r) => r.outcome)).toEqual(['SKIPPED_SUPERVISOR']);
  });

  it('types for an ordinary bot of a portal that also has a supervisor', async () => {
    const event = eventOf(messageEvent(sender, { botId: 39 }, { dialogId: 'chat5' }));
    const { typedIn } = await react(event, stored({ '41': { type: 'S' }, '39': { type: 'B', api: 'v1' } }));
    expect(typedIn).toEqual([[39, 'chat5']]);
  });

  it('types in all three cases when TYPING_WHERE_PLATFORM_DOES_NOT opts back in', async () => {
    // Prepare
    const openLine = withField(messageEvent(sender, { botId: 39 }), 'data[PARAMS][CHAT_ENTITY_TYPE]', 'LINES');
    const keyboard = withField(
      commandEvent(sender, { botId: 39 }, { commandId: 12, messageId: '90002' }),
      'data[COMMAND][12][COMMAND_CONTEXT]',
      'KEYBOARD',
    );
    const supervisor = messageEvent(sender, { botId: 41 }, { dialogId: 'chat5' });

    // Act
    const typed: Array<[number, string]> = [];
    for (const fields of [openLine, keyboard, supervisor]) {
      typed.push(...(await react(eventOf(fields), stored({ '41': { type: 'S' } }), { optIn: true })).typedIn);
    }

    // Assess
    expect(typed).toEqual([
      [39, '27'],
      [39, '27'],
      [41, 'chat5'],
    ]);
  });
});

describe('showTypingForEvent: events naming many bots', () => {
  it('types for more than five bots (an on-premise portal has no 5-bot limit)', async () => {
    // Prepare: old behaviour dropped every bot after the fifth without a word.
    const bots = [31, 32, 33, 34, 35, 36, 37];
    const event = eventOf(messageToBots(bots));

    // Act
    const { typedIn, records } = await react(event, stored());

    // Assess
    expect(typedIn.map(([botId]) => botId).sort()).toEqual(bots);
    expect(records().filter((r) => r.message === 'event names more bots than are served')).toEqual([]);
  });

  it('serves the first 20 bots of an event naming 25, and says so in a log line', async () => {
    // Prepare
    const bots = Array.from({ length: 25 }, (_, i) => 100 + i);
    const event = eventOf(messageToBots(bots));

    // Act
    const { typedIn, records } = await react(event, stored());

    // Assess
    expect(typedIn).toHaveLength(20);
    expect(records().find((r) => r.message === 'event names more bots than are served')).toMatchObject({
      level: 'warn',
      event: 'ONIMBOTMESSAGEADD',
      portal: sender.domain,
      named: 25,
      served: 20,
    });
  });
});

describe('showTypingForEvent: a portal that blocked the application', () => {
  it('logs the failure at error level with UPSTREAM_BLOCKED, still answering the event', async () => {
    // Prepare: old behaviour logged a warning with UPSTREAM_RATE_LIMITED, as if a retry could help.
    const blocked: PortalClient & { typedIn: Array<[number, string]> } = {
      typedIn: [],
      async call() {
        throw new Bitrix24Error('OVERLOAD_LIMIT', 503, 'REST API is blocked due to overload');
      },
    };

    // Act
    const { results, records } = await react(eventOf(messageEvent(sender, { botId: 39 })), stored(), {
      portals: blocked,
    });

    // Assess
    expect(results.map((r) => r.outcome)).toEqual(['UPSTREAM_BLOCKED']);
    expect(records().find((r) => r.message === 'typing for event failed')).toMatchObject({
      level: 'error',
      outcome: 'UPSTREAM_BLOCKED',
      upstreamCode: 'OVERLOAD_LIMIT',
    });
  });
});
