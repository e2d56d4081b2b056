import { describe, expect, it } from 'vitest';
import { validateBotId, validateDialogId } from '../../../lib/imbot/send-typing.js';
import { refusal } from '../../support/refusal.js';

describe('validateDialogId', () => {
  it.each([
    ['27', '27'],
    ['1', '1'],
    ['chat12', 'chat12'],
    ['chat1', 'chat1'],
    [27, '27'],
    // The platform's own rule: chat, sg and crm prefixes in any case (old: all four refused).
    ['sg12', 'sg12'],
    ['crm34', 'crm34'],
    ['CHAT12', 'chat12'],
    ['Sg5', 'sg5'],
    ['chat0', 'chat0'],
  ] as const)('accepts %j as dialog %j', (input, expected) => {
    // Act / Assess
    expect(validateDialogId(input)).toBe(expected);
  });

  it.each([[''], [undefined], [null]])('refuses %j as DIALOG_ID_EMPTY', (input) => {
    // Act
    const error = refusal(() => validateDialogId(input));

    // Assess
    expect(error.code).toBe('DIALOG_ID_EMPTY');
    expect(error.status).toBe(400);
  });

  it.each([
    ['chat'],
    ['0'],
    ['sg'],
    ['crm'],
    ['lines12'],
    ['chat1234567890123456789'],
    ['-1'],
    ['27a'],
    [' 27'],
    ['27 '],
    ['chat-1'],
    ['chat 12'],
    ['1.5'],
    [0],
    [-1],
    [1.5],
    [true],
    [{}],
    [['27']],
  ])('refuses %j as DIALOG_ID_INVALID: a dialog is a user id or chat, sg or crm with a number', (input) => {
    // Act
    const error = refusal(() => validateDialogId(input));

    // Assess
    expect(error.code).toBe('DIALOG_ID_INVALID');
    expect(error.status).toBe(400);
  });
});

describe('validateBotId', () => {
  it.each([
    [39, 39],
    ['39', 39],
    [1, 1],
  ] as const)('accepts %j as bot %i', (input, expected) => {
    // Act / Assess
    expect(validateBotId(input)).toBe(expected);
  });

  it.each([[undefined], [null]])('leaves the bot to the portal when botId is %j', (input) => {
    // Act / Assess
    expect(validateBotId(input)).toBeUndefined();
  });

  it.each([
    [0],
    [-1],
    [1.5],
    ['abc'],
    [true],
    [''],
    ['0'],
    ['-1'],
    ['039'],
    [' 39'],
    ['1.5'],
    [Number.MAX_SAFE_INTEGER + 1],
    [Number.NaN],
    [Infinity],
    [{}],
    [[39]],
  ])('refuses %j as BOT_ID_INVALID', (input) => {
    // Act
    const error = refusal(() => validateBotId(input));

    // Assess
    expect(error.code).toBe('BOT_ID_INVALID');
    expect(error.status).toBe(400);
  });
});
