import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CredentialsFormatError } from '../../../lib/portal/portal-credentials.js';
import { parseTypingKeys } from '../../../lib/portal/typing-keys.js';
import { redactSecrets } from '../../../lib/logging/index.js';

const NAME = 'bitrix24-typing/test/typing-keys';

function key(bytes = 32): string {
  return `whsec_${randomBytes(bytes).toString('base64')}`;
}

function formatError(json: string): CredentialsFormatError {
  try {
    parseTypingKeys(json, NAME);
  } catch (error) {
    expect(error).toBeInstanceOf(CredentialsFormatError);
    return error as CredentialsFormatError;
  }
  throw new Error('expected the secret to be refused');
}

describe('parseTypingKeys', () => {
  it('reads a single live key', () => {
    // Prepare
    const live = key();

    // Act
    const keys = parseTypingKeys(JSON.stringify({ keys: [live] }), NAME);

    // Assess
    expect(keys).toEqual([live]);
  });

  it('reads every key live during a rotation, in order', () => {
    // Prepare
    const live = [key(), key(24), key(64)];

    // Act
    const keys = parseTypingKeys(JSON.stringify({ keys: live }), NAME);

    // Assess
    expect(keys).toEqual(live);
  });

  it('accepts keys of exactly 24 and 64 bytes, the Standard Webhooks bounds', () => {
    // Prepare
    const bounds = [key(24), key(64)];

    // Act / Assess
    expect(parseTypingKeys(JSON.stringify({ keys: bounds }), NAME)).toEqual(bounds);
  });

  it('leaves a stored 16-23 or 65+ byte key out of the live set and reports it, keeping the others', () => {
    // Prepare: old behaviour kept a 16-byte key live (the spec asks for 24-64 bytes).
    const live = key(32);
    const unusable: Array<[number, number]> = [];

    // Act
    const keys = parseTypingKeys(JSON.stringify({ keys: [key(16), live, key(23), key(65)] }), NAME, (index, bytes) =>
      unusable.push([index, bytes]),
    );

    // Assess
    expect(keys).toEqual([live]);
    expect(unusable).toEqual([
      [0, 16],
      [2, 23],
      [3, 65],
    ]);
  });

  it('refuses a secret whose every key is outside 24-64 bytes, saying how to recover', () => {
    const error = formatError(JSON.stringify({ keys: [key(16), key(20)] }));
    expect(error.message).toContain('no key of 24–64 bytes; rotate in a new one');
  });

  it('registers each key, with and without its prefix, with the log redactor', () => {
    // Prepare
    const live = key();

    // Act
    parseTypingKeys(JSON.stringify({ keys: [live] }), NAME);

    // Assess
    const bare = live.slice('whsec_'.length);
    expect(redactSecrets(`key=${live} bare=${bare}`)).toBe('key=[redacted] bare=[redacted]');
  });

  it.each([
    ['not JSON', 'whsec_abc'],
    ['JSON null', 'null'],
    ['without keys', '{}'],
    ['with keys not an array', `{"keys":"${key()}"}`],
    ['with no keys', '{"keys":[]}'],
  ])('refuses a secret %s, naming the secret', (_label, json) => {
    // Act
    const error = formatError(json);

    // Assess
    expect(error.message).toContain(NAME);
  });

  it.each([
    ['shorter than 16 bytes', key(15)],
    ['of 8 bytes', key(8)],
    ['without the whsec_ prefix', randomBytes(32).toString('base64')],
    ['with another prefix', `whsk_${randomBytes(32).toString('base64')}`],
    ['not base64', `whsec_${'!'.repeat(40)}`],
    ['with whitespace', `whsec_${randomBytes(16).toString('base64')} `],
    ['empty after the prefix', 'whsec_'],
    ['a number', 12345],
    ['null', null],
  ])('refuses a key %s, naming its position', (_label, bad) => {
    // Act
    const error = formatError(JSON.stringify({ keys: [key(), bad] }));

    // Assess
    expect(error.message).toContain('keys[1]');
  });
});
