import { describe, expect, it } from 'vitest';
import { toBotEvent } from '../../../lib/events/bot-event.js';
import { parseFormBody } from '../../../lib/events/form-body.js';
import {
  commandEvent,
  deleteEvent,
  encodeForm,
  installEvent,
  joinEvent,
  messageEvent,
  type EventFields,
  type EventPortal,
} from '../../support/bot-events.js';

/**
 * The event builders every test sends are held to the shapes the platform documents, so no test passes only
 * because our own fixture is friendlier than a real portal.
 */
const portal: EventPortal = {
  domain: 'some-domain.bitrix24.com',
  memberId: 'bac1cd5c8940947a75e0d71b1a84e348',
  clientEndpoint: 'https://some-domain.bitrix24.com/rest/',
  applicationToken: '831c76b092f9f135d9b6b36c3a720757',
};
const oauthBot = { botId: 567, accessToken: 'a98b9d690000071b0000084400000237f0f107589d1e' };
const tokens = { accessToken: 'install-access-0123456789', refreshToken: 'install-refresh-0123456789' };
const keys = (fields: EventFields) => fields.map(([key]) => key);
const parsed = (fields: EventFields) => toBotEvent(parseFormBody(Buffer.from(encodeForm(fields))));

describe('event fixtures as the platform sends them', () => {
  it('carries auth[refresh_token] on message and command events only, not on joins and deletions', () => {
    // Old behaviour: every OAuth fixture carried one.
    expect(keys(messageEvent(portal, oauthBot))).toContain('auth[refresh_token]');
    expect(keys(commandEvent(portal, oauthBot))).toContain('auth[refresh_token]');
    expect(keys(joinEvent(portal, oauthBot))).not.toContain('auth[refresh_token]');
    expect(keys(deleteEvent(portal, oauthBot))).not.toContain('auth[refresh_token]');
  });

  it('keys MENTIONED_LIST of a group message by user id, the value repeating it', () => {
    // Old behaviour: MENTIONED_LIST[0]=1.
    const event = parsed(messageEvent(portal, oauthBot, { dialogId: 'chat1157' }));
    expect((event.data.PARAMS as Record<string, unknown>).MENTIONED_LIST).toEqual({ '567': '567' });
  });

  it('sends ONAPPINSTALL without event_handler_id, and ONAPPUPDATE with VERSION and PREVIOUS_VERSION', () => {
    // Old behaviour: both had event_handler_id=1, and the update carried the install's ACTIVE/INSTALLED.
    const install = parsed(installEvent(portal, tokens));
    const update = parsed(installEvent(portal, tokens, 'ONAPPUPDATE'));
    expect(install.handlerId).toBeUndefined();
    expect(install.data).toEqual({ VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' });
    expect(update.handlerId).toBeUndefined();
    expect(update.data).toEqual({ VERSION: '2', PREVIOUS_VERSION: '1', LANGUAGE_ID: 'en' });
  });
});
