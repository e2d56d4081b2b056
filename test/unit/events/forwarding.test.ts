import { describe, expect, it } from 'vitest';
import { toBotEvent } from '../../../lib/events/bot-event.js';
import { parseFormBody } from '../../../lib/events/form-body.js';
import { sanitizeEvent } from '../../../lib/events/forwarding.js';
import {
  encodeForm,
  installEvent,
  messageEvent,
  readFixture,
  type EventFields,
  type EventPortal,
} from '../../support/bot-events.js';

const portal: EventPortal = {
  domain: 'some-domain.bitrix24.com',
  memberId: 'bac1cd5c8940947a75e0d71b1a84e348',
  clientEndpoint: 'https://some-domain.bitrix24.com/rest/',
  applicationToken: 'apptoken-831c76b092f9f135d9b6b36c',
};

const sanitized = (fields: EventFields) => sanitizeEvent(toBotEvent(parseFormBody(Buffer.from(encodeForm(fields)))));

/** Every key anywhere in a JSON value. */
function keysOf(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) => [key, ...keysOf(inner)]);
}

const SECRET_KEYS = /token|secret|password|^client_id$|^auth$/i;

describe('sanitizeEvent', () => {
  it("removes every token, client_id and AUTH block of an OAuth bot's message, at every depth", () => {
    // Prepare
    const fields = messageEvent(portal, {
      botId: 567,
      accessToken: 'bot-access-token-0123456789',
      clientId: 'app.client-id-0123456789',
    });
    const secrets = fields.filter(([key]) => /token|client_id/.test(key)).map(([, value]) => value);

    // Act
    const text = JSON.stringify(sanitized(fields));

    // Assess
    expect(secrets.length).toBeGreaterThan(10);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(keysOf(JSON.parse(text)).filter((key) => SECRET_KEYS.test(key))).toEqual([]);
  });

  it('removes the secrets of the documented example verbatim', () => {
    const fields = readFixture('message-personal-oauth.txt');
    const text = JSON.stringify(sanitized(fields));
    for (const [key, value] of fields) if (/token|client_id/.test(key)) expect(text).not.toContain(value);
  });

  it('removes the token pair of an install event', () => {
    const text = JSON.stringify(
      sanitized(
        installEvent(portal, { accessToken: 'install-access-0123456789', refreshToken: 'install-refresh-0123456789' }),
      ),
    );
    expect(text).not.toContain('install-access-0123456789');
    expect(text).not.toContain('install-refresh-0123456789');
    expect(text).not.toContain(portal.applicationToken);
  });

  it('removes secret-named keys in any case and at any depth, including deeper than Bitrix24 nests', () => {
    // Prepare
    const fields: EventFields = [
      ['event', 'ONIMBOTMESSAGEADD'],
      ['auth[domain]', portal.domain],
      ['data[A][B][C][D][E][REFRESH_TOKEN]', 'deep-refresh-0123456789'],
      ['data[A][B][C][D][E][keep]', 'kept-deep'],
      ['data[X][Client_Secret]', 'client-secret-0123456789'],
      ['data[X][password]', 'password-0123456789'],
      ['data[X][CLIENT_ID]', 'client-id-upper-0123456789'],
      ['data[X][Auth][anything]', 'inside-auth-0123456789'],
      ['data[X][auth]', 'auth-string-0123456789'],
      ['data[X][accessToken]', 'camel-token-0123456789'],
      ['data[X][application_token]', 'apptoken-0123456789'],
    ];

    // Act
    const out = sanitized(fields);
    const text = JSON.stringify(out);

    // Assess
    for (const [key, value] of fields.slice(2))
      if (key !== 'data[A][B][C][D][E][keep]') expect(text).not.toContain(value);
    expect(out.data).toEqual({ A: { B: { C: { D: { E: { keep: 'kept-deep' } } } } }, X: {} });
  });

  it('keeps the fields internal services need', () => {
    // Prepare
    const fields = messageEvent(
      portal,
      { botId: 567, accessToken: 'bot-access-token-0123456789' },
      { dialogId: 'chat1157', messageId: '84331' },
    );

    // Act
    const out = sanitized(fields);

    // Assess
    expect(out).toMatchObject({
      event: 'ONIMBOTMESSAGEADD',
      eventHandlerId: '403',
      portal: { domain: portal.domain, memberId: portal.memberId },
      data: {
        BOT: { '567': { BOT_ID: '567', BOT_CODE: 'bot567', scope: 'imbot', user_id: '567', domain: portal.domain } },
        PARAMS: {
          DIALOG_ID: 'chat1157',
          MESSAGE_ID: '84331',
          MESSAGE: 'Hello',
          CHAT_TYPE: 'C',
          CHAT_TITLE: 'Support',
          FROM_USER_ID: '27',
        },
        USER: { ID: '27', NAME: 'Svetlana Ivanova' },
      },
    });
    expect(typeof out.ts).toBe('string');
  });

  it('keeps only the domain and member_id of the auth block', () => {
    const out = sanitized(messageEvent(portal, { botId: 39 }));
    expect(out.portal).toEqual({ domain: portal.domain, memberId: portal.memberId });
    expect(Object.keys(out).sort()).toEqual(['data', 'event', 'eventHandlerId', 'portal', 'ts']);
  });
});
