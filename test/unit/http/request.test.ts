import { describe, expect, it } from 'vitest';
import { headersOf, rawBody, requireMediaType } from '../../../lib/http/request.js';
import { refusal } from '../../support/refusal.js';

const LIMIT = 16 * 1024;

describe('headersOf', () => {
  it('lower-cases header names so lookups work whatever the emulator sent', () => {
    // Act
    const headers = headersOf({ headers: { 'Content-Type': 'application/json', 'Webhook-ID': 'msg_1' } });

    // Assess
    expect(headers['content-type']).toBe('application/json');
    expect(headers['webhook-id']).toBe('msg_1');
  });

  it('gives no headers for an event without any', () => {
    // Act
    const headers = headersOf({} as Parameters<typeof headersOf>[0]);

    // Assess
    expect(headers).toEqual({});
  });
});

describe('rawBody', () => {
  it('returns a raw body as its UTF-8 bytes', () => {
    // Act
    const bytes = rawBody({ body: '{"dialogId":"чат"}', isBase64Encoded: false }, LIMIT);

    // Assess
    expect(bytes.equals(Buffer.from('{"dialogId":"чат"}', 'utf8'))).toBe(true);
  });

  it('decodes a base64-encoded body to the bytes the client sent', () => {
    // Prepare
    const sent = Buffer.from([0x7b, 0x7d, 0x00, 0xff, 0xfe]);

    // Act
    const bytes = rawBody({ body: sent.toString('base64'), isBase64Encoded: true }, LIMIT);

    // Assess
    expect(bytes.equals(sent)).toBe(true);
  });

  it('treats a missing body as empty', () => {
    // Act
    const bytes = rawBody({ isBase64Encoded: false }, LIMIT);

    // Assess
    expect(bytes).toHaveLength(0);
  });

  it('accepts a raw body of exactly the limit', () => {
    // Act
    const bytes = rawBody({ body: 'a'.repeat(LIMIT), isBase64Encoded: false }, LIMIT);

    // Assess
    expect(bytes).toHaveLength(LIMIT);
  });

  it('refuses a raw body one byte over the limit as PAYLOAD_TOO_LARGE', () => {
    // Act
    const error = refusal(() => rawBody({ body: 'a'.repeat(LIMIT + 1), isBase64Encoded: false }, LIMIT));

    // Assess
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.status).toBe(413);
  });

  it('accepts a multi-byte UTF-8 body of exactly the limit in bytes', () => {
    // Prepare: "é" is two bytes in UTF-8.
    const body = 'é'.repeat(LIMIT / 2);

    // Act
    const bytes = rawBody({ body, isBase64Encoded: false }, LIMIT);

    // Assess
    expect(bytes).toHaveLength(LIMIT);
  });

  it('refuses a multi-byte UTF-8 body one byte over the limit though it has fewer characters', () => {
    // Prepare
    const body = 'é'.repeat(LIMIT / 2) + 'a';

    // Act
    const error = refusal(() => rawBody({ body, isBase64Encoded: false }, LIMIT));

    // Assess
    expect(body.length).toBeLessThan(LIMIT);
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a body of four-byte characters over the limit', () => {
    // Prepare: each emoji is two UTF-16 units but four UTF-8 bytes.
    const body = '😀'.repeat(LIMIT / 4) + '😀';

    // Act
    const error = refusal(() => rawBody({ body, isBase64Encoded: false }, LIMIT));

    // Assess
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it.each([0, 1, 2])('accepts a base64 body that decodes to exactly the limit (limit of 16 KiB + %i)', (offset) => {
    // Prepare
    const limit = LIMIT + offset;
    const body = Buffer.alloc(limit, 0x61).toString('base64');

    // Act
    const bytes = rawBody({ body, isBase64Encoded: true }, limit);

    // Assess
    expect(bytes).toHaveLength(limit);
  });

  it.each([0, 1, 2])(
    'refuses a base64 body that decodes to one byte over the limit (limit of 16 KiB + %i)',
    (offset) => {
      // Prepare
      const limit = LIMIT + offset;
      const body = Buffer.alloc(limit + 1, 0x61).toString('base64');

      // Act
      const error = refusal(() => rawBody({ body, isBase64Encoded: true }, limit));

      // Assess
      expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    },
  );

  it('refuses a huge base64 body as PAYLOAD_TOO_LARGE', () => {
    // Prepare
    const body = Buffer.alloc(LIMIT * 10, 0x61).toString('base64');

    // Act
    const error = refusal(() => rawBody({ body, isBase64Encoded: true }, LIMIT));

    // Assess
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('requireMediaType', () => {
  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON;charset=UTF-8',
    ' application/json ',
  ])('accepts Content-Type %j', (contentType) => {
    // Act / Assess
    expect(() => requireMediaType({ 'content-type': contentType }, 'application/json')).not.toThrow();
  });

  it.each([
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/jsonp',
    'application/json-patch+json',
    'multipart/form-data',
    '',
  ])('refuses Content-Type %j with 415', (contentType) => {
    // Act
    const error = refusal(() => requireMediaType({ 'content-type': contentType }, 'application/json'));

    // Assess
    expect(error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(error.status).toBe(415);
  });

  it('refuses a request without Content-Type with 415', () => {
    // Act
    const error = refusal(() => requireMediaType({}, 'application/json'));

    // Assess
    expect(error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });
});
