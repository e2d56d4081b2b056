import { describe, expect, it } from 'vitest';
import { parseTypingRequest } from '../../../lib/typing/typing-request.js';
import { refusal } from '../../support/refusal.js';

function body(value: unknown): Buffer {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
}

describe('parseTypingRequest', () => {
  it('reads the documented request body', () => {
    // Act
    const request = parseTypingRequest(body({ portal: 'example.bitrix24.com', dialogId: 'chat12', botId: 39 }));

    // Assess
    expect(request).toEqual({ portal: 'example.bitrix24.com', dialogId: 'chat12', botId: 39 });
  });

  it('leaves botId out when the caller names no bot', () => {
    // Act
    const request = parseTypingRequest(body({ portal: 'example.bitrix24.com', dialogId: '27' }));

    // Assess
    expect(request).toEqual({ portal: 'example.bitrix24.com', dialogId: '27' });
    expect(request).not.toHaveProperty('botId');
  });

  it('accepts botId as a numeric string', () => {
    // Act
    const request = parseTypingRequest(body({ portal: 'example.bitrix24.com', dialogId: '27', botId: '39' }));

    // Assess
    expect(request.botId).toBe(39);
  });

  it('normalises the portal name to lower case without a trailing dot', () => {
    // Act
    const request = parseTypingRequest(body({ portal: ' Example.Bitrix24.COM. ', dialogId: '27' }));

    // Assess
    expect(request.portal).toBe('example.bitrix24.com');
  });

  it.each([
    ['not JSON', '{portal: example.bitrix24.com}'],
    ['empty', ''],
    ['a JSON array', '[{"portal":"example.bitrix24.com","dialogId":"27"}]'],
    ['a JSON string', '"example.bitrix24.com"'],
    ['JSON null', 'null'],
    ['a JSON number', '27'],
  ])('refuses a body that is %s as BODY_INVALID', (_label, text) => {
    // Act
    const error = refusal(() => parseTypingRequest(body(text)));

    // Assess
    expect(error.code).toBe('BODY_INVALID');
    expect(error.status).toBe(400);
  });

  it.each([
    ['portal is a number', { portal: 42, dialogId: '27' }],
    ['portal is missing', { dialogId: '27' }],
    ['dialogId is an object', { portal: 'example.bitrix24.com', dialogId: { id: 27 } }],
    ['dialogId is a boolean', { portal: 'example.bitrix24.com', dialogId: true }],
    ['botId is a boolean', { portal: 'example.bitrix24.com', dialogId: '27', botId: true }],
    ['botId is an array', { portal: 'example.bitrix24.com', dialogId: '27', botId: [39] }],
    ['there is an unknown field', { portal: 'example.bitrix24.com', dialogId: '27', message: 'hi' }],
    ['a field is misspelt', { portal: 'example.bitrix24.com', dialog_id: '27' }],
  ])('refuses a body where %s as BODY_INVALID', (_label, value) => {
    // Act
    const error = refusal(() => parseTypingRequest(body(value)));

    // Assess
    expect(error.code).toBe('BODY_INVALID');
  });

  it.each([
    ['../x'],
    ['a'],
    ['exa mple.bitrix24.com'],
    ['http://x'],
    ['https://example.bitrix24.com'],
    ['example.bitrix24.com/rest'],
    [''],
    ['..'],
    ['-a.bitrix24.com'],
  ])('refuses portal %j as PORTAL_INVALID', (portal) => {
    // Act
    const error = refusal(() => parseTypingRequest(body({ portal, dialogId: '27' })));

    // Assess
    expect(error.code).toBe('PORTAL_INVALID');
    expect(error.status).toBe(400);
  });

  it.each([[undefined], [null], ['']])('refuses dialogId %j as DIALOG_ID_EMPTY', (dialogId) => {
    // Act
    const error = refusal(() => parseTypingRequest(body({ portal: 'example.bitrix24.com', dialogId })));

    // Assess
    expect(error.code).toBe('DIALOG_ID_EMPTY');
  });

  it.each([['chat'], ['0'], ['sg'], ['-1'], ['27a'], [' 27'], ['lines5']])(
    'refuses dialogId %j as DIALOG_ID_INVALID',
    (dialogId) => {
      // Act
      const error = refusal(() => parseTypingRequest(body({ portal: 'example.bitrix24.com', dialogId })));

      // Assess
      expect(error.code).toBe('DIALOG_ID_INVALID');
    },
  );

  it.each([[0], [-1], [1.5], ['abc']])('refuses botId %j as BOT_ID_INVALID', (botId) => {
    // Act
    const error = refusal(() => parseTypingRequest(body({ portal: 'example.bitrix24.com', dialogId: '27', botId })));

    // Assess
    expect(error.code).toBe('BOT_ID_INVALID');
  });
});

describe('parseTypingRequest: duration and status', () => {
  it('reads durationSeconds and status for a v2 bot', () => {
    // Act
    const request = parseTypingRequest(
      body({
        portal: 'example.bitrix24.com',
        dialogId: 'chat12',
        botId: 567,
        durationSeconds: 120,
        status: 'thinking',
      }),
    );

    // Assess
    expect(request).toEqual({
      portal: 'example.bitrix24.com',
      dialogId: 'chat12',
      botId: 567,
      durationSeconds: 120,
      status: 'thinking',
    });
  });

  it.each([[1], [600]])('accepts durationSeconds %j, an end of the platform’s range', (durationSeconds) => {
    // Act / Assess
    expect(parseTypingRequest(body({ portal: 'a.b', dialogId: '27', durationSeconds })).durationSeconds).toBe(
      durationSeconds,
    );
  });

  it.each([[0], [601], [1.5], ['60'], [-5], [true], [{}]])(
    'refuses durationSeconds %j as DURATION_INVALID',
    (durationSeconds) => {
      // Act
      const error = refusal(() => parseTypingRequest(body({ portal: 'a.b', dialogId: '27', durationSeconds })));

      // Assess
      expect(error.code).toBe('DURATION_INVALID');
      expect(error.status).toBe(400);
      expect(error.message).toBe('durationSeconds must be a whole number of seconds from 1 to 600.');
    },
  );

  it.each([['dreaming'], ['THINKING'], ['reading docs'], [''], [7]])(
    'refuses status %j as STATUS_INVALID, listing the statuses',
    (status) => {
      // Act
      const error = refusal(() => parseTypingRequest(body({ portal: 'a.b', dialogId: '27', status })));

      // Assess
      expect(error.code).toBe('STATUS_INVALID');
      expect(error.status).toBe(400);
      expect(error.message).toBe(
        'status must be one of: typing, thinking, searching, generating, analyzing, processing, translating, ' +
          'connecting, checking, calculating, reading_docs, composing.',
      );
    },
  );
});
