import { describe, expect, it } from 'vitest';
import { toBotEvent, typingTargets, type BotEvent } from '../../../lib/events/bot-event.js';
import { parseFormBody } from '../../../lib/events/form-body.js';
import {
  commandEvent,
  deleteEvent,
  encodeForm,
  installEvent,
  joinEvent,
  messageEvent,
  withField,
  type EventFields,
  type EventPortal,
} from '../../support/bot-events.js';
import { refusal } from '../../support/refusal.js';

const portal: EventPortal = {
  domain: 'some-domain.bitrix24.com',
  memberId: 'bac1cd5c8940947a75e0d71b1a84e348',
  clientEndpoint: 'https://some-domain.bitrix24.com/rest/',
  applicationToken: '831c76b092f9f135d9b6b36c3a720757',
};

/** The event as the handler sees it: form-encoded, parsed, shaped. */
const eventOf = (fields: EventFields): BotEvent => toBotEvent(parseFormBody(Buffer.from(encodeForm(fields))));
const eventFrom = (text: string): BotEvent => toBotEvent(parseFormBody(Buffer.from(text)));

describe('toBotEvent', () => {
  it('reads the name, handler id, ts, auth block and data of a message event', () => {
    // Act
    const event = eventOf(
      messageEvent(portal, { botId: 567, accessToken: 'bot-token-567' }, { dialogId: '27', messageId: '84331' }),
    );

    // Assess
    expect(event.name).toBe('ONIMBOTMESSAGEADD');
    expect(event.handlerId).toBe('403');
    expect(event.ts).toMatch(/^\d+$/);
    expect(event.auth).toMatchObject({
      domain: portal.domain,
      memberId: portal.memberId,
      applicationToken: portal.applicationToken,
      clientEndpoint: portal.clientEndpoint,
      serverEndpoint: 'https://oauth.bitrix.info/rest/',
    });
    expect(typeof event.auth.accessToken).toBe('string');
    expect(typeof event.auth.refreshToken).toBe('string');
    expect(event.data).toMatchObject({ PARAMS: { DIALOG_ID: '27', MESSAGE_ID: '84331' }, USER: { ID: '27' } });
  });

  it('upper-cases the event name', () => {
    expect(eventFrom('event=onimbotmessageadd&auth[domain]=a.bitrix24.com').name).toBe('ONIMBOTMESSAGEADD');
  });

  it('reads a webhook bot event, which carries no access token at all', () => {
    const event = eventOf(messageEvent(portal, { botId: 39 }));
    expect(event.auth.accessToken).toBeUndefined();
    expect(event.auth.refreshToken).toBeUndefined();
    expect(event.auth.applicationToken).toBe(portal.applicationToken);
  });

  it('treats an empty auth field as absent', () => {
    const event = eventFrom('event=X&auth[domain]=a.bitrix24.com&auth[application_token]=&auth[member_id]=');
    expect(event.auth.applicationToken).toBeUndefined();
    expect(event.auth.memberId).toBeUndefined();
  });

  it('gives an event without data an empty data object', () => {
    expect(eventFrom('event=X&auth[domain]=a.bitrix24.com').data).toEqual({});
  });

  it.each([
    ['no event name', 'auth[domain]=a.bitrix24.com'],
    ['an empty event name', 'event=&auth[domain]=a.bitrix24.com'],
    ['an event name with odd characters', 'event=ON-IM&auth[domain]=a.bitrix24.com'],
    ['an event name over 64 characters', `event=${'A'.repeat(65)}&auth[domain]=a.bitrix24.com`],
    ['a repeated event name', 'event=A&event=B&auth[domain]=a.bitrix24.com'],
    ['an event name given as an object', 'event[x]=A&auth[domain]=a.bitrix24.com'],
    ['no auth block', 'event=ONIMBOTMESSAGEADD'],
    ['auth given as a string', 'event=ONIMBOTMESSAGEADD&auth=a.bitrix24.com'],
    ['no auth[domain]', 'event=ONIMBOTMESSAGEADD&auth[member_id]=1'],
    ['an empty auth[domain]', 'event=ONIMBOTMESSAGEADD&auth[domain]='],
    ['an auth[domain] given as an object', 'event=ONIMBOTMESSAGEADD&auth[domain][x]=a.bitrix24.com'],
  ])('refuses a body with %s as EVENT_INVALID', (_name, body) => {
    const error = refusal(() => eventFrom(body));
    expect(error.code).toBe('EVENT_INVALID');
    expect(error.status).toBe(400);
  });
});

describe('typingTargets', () => {
  it('names the bot and the user dialog of a personal-chat message', () => {
    const [target, ...rest] = typingTargets(eventOf(messageEvent(portal, { botId: 39 }, { dialogId: '27' })));
    expect(rest).toEqual([]);
    expect(target).toMatchObject({ botId: 39, dialogId: '27' });
    expect(target?.accessToken).toBeUndefined();
  });

  it('names the group dialog of a group-chat message', () => {
    const targets = typingTargets(eventOf(messageEvent(portal, { botId: 39 }, { dialogId: 'chat1157' })));
    expect(targets.map((t) => [t.botId, t.dialogId])).toEqual([[39, 'chat1157']]);
  });

  it("carries an OAuth bot's own fresh token", () => {
    const [target] = typingTargets(eventOf(messageEvent(portal, { botId: 41, accessToken: 'fresh-bot-token' })));
    expect(target?.accessToken).toBe('fresh-bot-token');
  });

  it("falls back to the bot's AUTH block for its token", () => {
    const event = eventFrom(
      'event=ONIMBOTMESSAGEADD&auth[domain]=a.bitrix24.com&data[PARAMS][DIALOG_ID]=27&data[BOT][41][AUTH][access_token]=from-auth',
    );
    expect(typingTargets(event)).toMatchObject([{ botId: 41, accessToken: 'from-auth' }]);
  });

  it('takes the bot id from the key when the entry has no BOT_ID', () => {
    const event = eventFrom(
      'event=ONIMBOTMESSAGEADD&auth[domain]=a.bitrix24.com&data[PARAMS][DIALOG_ID]=27&data[BOT][567][BOT_CODE]=bot',
    );
    expect(typingTargets(event).map((t) => t.botId)).toEqual([567]);
  });

  it('shows typing for the bot of a command, taking BOT_ID from the command entry', () => {
    const targets = typingTargets(eventOf(commandEvent(portal, { botId: 39 }, { dialogId: 'chat5', commandId: 12 })));
    expect(targets.map((t) => [t.botId, t.dialogId])).toEqual([[39, 'chat5']]);
  });

  it('skips a command entry without BOT_ID: its key is a command id, not a bot id', () => {
    const event = eventFrom(
      'event=ONIMCOMMANDADD&auth[domain]=a.bitrix24.com&data[PARAMS][DIALOG_ID]=27&data[COMMAND][12][COMMAND]=echo',
    );
    expect(refusal(() => typingTargets(event)).code).toBe('EVENT_INVALID');
  });

  it('shows typing for the bot that joined a chat (ONIMBOTJOINCHAT)', () => {
    const targets = typingTargets(eventOf(joinEvent(portal, { botId: 39 }, { dialogId: 'chat7' })));
    expect(targets.map((t) => [t.botId, t.dialogId])).toEqual([[39, 'chat7']]);
  });

  it('asks for no typing on ONIMJOINCHAT, a name no Bitrix24 event carries', () => {
    // Old behaviour: typed for it as if it were a join.
    const fields = joinEvent(portal, { botId: 39 }, { dialogId: 'chat7' }).map(([key, value]): [string, string] =>
      key === 'event' ? [key, 'ONIMJOINCHAT'] : [key, value],
    );
    expect(typingTargets(eventOf(fields))).toEqual([]);
  });

  it('asks for no typing on a bot deletion', () => {
    expect(typingTargets(eventOf(deleteEvent(portal, { botId: 39 })))).toEqual([]);
  });

  it.each(['ONAPPINSTALL', 'ONAPPUPDATE'])('asks for no typing on %s', (name) => {
    expect(typingTargets(eventOf(installEvent(portal, { accessToken: 'a', refreshToken: 'r' }, name)))).toEqual([]);
  });

  it('refuses a message without data[PARAMS][DIALOG_ID]', () => {
    const error = refusal(() =>
      typingTargets(eventOf(withField(messageEvent(portal, { botId: 39 }), 'data[PARAMS][DIALOG_ID]', undefined))),
    );
    expect(error.code).toBe('EVENT_INVALID');
  });

  it('refuses a join with an empty DIALOG_ID', () => {
    const error = refusal(() =>
      typingTargets(eventOf(withField(joinEvent(portal, { botId: 39 }), 'data[PARAMS][DIALOG_ID]', ''))),
    );
    expect(error.code).toBe('EVENT_INVALID');
  });

  it('refuses a message that names no bot', () => {
    const fields = messageEvent(portal, { botId: 39 }).filter(([key]) => !key.startsWith('data[BOT]'));
    expect(refusal(() => typingTargets(eventOf(fields))).code).toBe('EVENT_INVALID');
  });

  it('refuses a message whose bot ids are not positive integers', () => {
    const event = eventFrom(
      'event=ONIMBOTMESSAGEADD&auth[domain]=a.bitrix24.com&data[PARAMS][DIALOG_ID]=27&data[BOT][abc][BOT_ID]=0&data[BOT][-1][x]=1',
    );
    expect(refusal(() => typingTargets(event)).code).toBe('EVENT_INVALID');
  });

  it('shows typing for 8 bots: five per application is a cloud default, not a platform rule', () => {
    // Prepare: old behaviour kept the first five and dropped the rest silently.
    const bots = Array.from({ length: 8 }, (_, i) => `data[BOT][${101 + i}][BOT_ID]=${101 + i}`).join('&');
    const event = eventFrom(`event=ONIMBOTMESSAGEADD&auth[domain]=a.bitrix24.com&data[PARAMS][DIALOG_ID]=27&${bots}`);
    const capped: number[] = [];

    // Act
    const targets = typingTargets(event, (named) => capped.push(named));

    // Assess
    expect(targets.map((t) => t.botId)).toEqual([101, 102, 103, 104, 105, 106, 107, 108]);
    expect(capped).toEqual([]);
  });

  it('serves at most 20 bots of one event and reports how many it named', () => {
    // Prepare
    const bots = Array.from({ length: 23 }, (_, i) => `data[BOT][${101 + i}][BOT_ID]=${101 + i}`).join('&');
    const event = eventFrom(`event=ONIMBOTMESSAGEADD&auth[domain]=a.bitrix24.com&data[PARAMS][DIALOG_ID]=27&${bots}`);
    const capped: number[] = [];

    // Act
    const targets = typingTargets(event, (named) => capped.push(named));

    // Assess
    expect(targets).toHaveLength(20);
    expect(capped).toEqual([23]);
  });

  describe('delivery keys', () => {
    const keyOf = (fields: EventFields) => typingTargets(eventOf(fields)).map((t) => t.deliveryKey);

    it('are equal for the same message delivered twice', () => {
      const fields = messageEvent(portal, { botId: 39 }, { messageId: '555001' });
      expect(keyOf(fields)).toEqual(keyOf(fields));
      // A redelivery carries fresh tokens and a new ts: still the same delivery.
      expect(keyOf(messageEvent(portal, { botId: 39 }, { messageId: '555001' }))).toEqual(keyOf(fields));
    });

    it('differ between two messages', () => {
      const [first] = keyOf(messageEvent(portal, { botId: 39 }, { messageId: '555001' }));
      const [second] = keyOf(messageEvent(portal, { botId: 39 }, { messageId: '555002' }));
      expect(first).not.toBe(second);
    });

    it('differ between two bots of one message', () => {
      const event = eventFrom(
        'event=ONIMBOTMESSAGEADD&auth[domain]=a.bitrix24.com&data[PARAMS][DIALOG_ID]=27&data[PARAMS][MESSAGE_ID]=9&data[BOT][39][BOT_ID]=39&data[BOT][41][BOT_ID]=41',
      );
      const keys = typingTargets(event).map((t) => t.deliveryKey);
      expect(keys).toHaveLength(2);
      expect(new Set(keys).size).toBe(2);
    });

    it('differ between two commands of one message', () => {
      const [first] = keyOf(commandEvent(portal, { botId: 39 }, { messageId: '90001', commandId: 12 }));
      const [second] = keyOf(commandEvent(portal, { botId: 39 }, { messageId: '90001', commandId: 13 }));
      expect(first).not.toBe(second);
    });

    it('are equal for the same command delivered twice', () => {
      expect(keyOf(commandEvent(portal, { botId: 39 }, { messageId: '90001', commandId: 12 }))).toEqual(
        keyOf(commandEvent(portal, { botId: 39 }, { messageId: '90001', commandId: 12 })),
      );
    });

    it('differ between a message and a command on the same MESSAGE_ID', () => {
      const [message] = keyOf(messageEvent(portal, { botId: 39 }, { messageId: '90001' }));
      const [command] = keyOf(commandEvent(portal, { botId: 39 }, { messageId: '90001' }));
      expect(message).not.toBe(command);
    });

    it('differ between the same message id on two portals', () => {
      const other = { ...portal, domain: 'other.bitrix24.com' };
      const [first] = keyOf(messageEvent(portal, { botId: 39 }, { messageId: '1' }));
      const [second] = keyOf(messageEvent(other, { botId: 39 }, { messageId: '1' }));
      expect(first).not.toBe(second);
    });

    it('differ between two joins at different times, and are equal for a join delivered twice', () => {
      const join = (ts: string) => withField(joinEvent(portal, { botId: 39 }, { dialogId: 'chat7' }), 'ts', ts);
      expect(keyOf(join('1771928985'))).toEqual(keyOf(join('1771928985')));
      expect(keyOf(join('1771928985'))).not.toEqual(keyOf(join('1771929999')));
    });
  });
});
