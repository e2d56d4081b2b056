import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../../lib/errors/index.js';
import { json, problem } from '../../../lib/http/response.js';

describe('json', () => {
  it('answers with a JSON body that is never cached', () => {
    // Act
    const response = json(200, { ok: true });

    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(response.body as string)).toEqual({ ok: true });
  });

  it('adds extra headers', () => {
    // Act
    const response = json(202, {}, { 'x-request-id': 'req-1' });

    // Assess
    expect(response.headers['x-request-id']).toBe('req-1');
  });
});

describe('problem', () => {
  it('renders a ServiceError as application/problem+json with status, title, detail, code and request id', () => {
    // Prepare
    const error = new ServiceError('DIALOG_ID_EMPTY', 'dialogId is required.');

    // Act
    const response = problem(error, 'req-42');

    // Assess
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['retry-after']).toBeUndefined();
    expect(JSON.parse(response.body as string)).toEqual({
      status: 400,
      title: 'Dialog id empty',
      detail: 'dialogId is required.',
      code: 'DIALOG_ID_EMPTY',
      requestId: 'req-42',
    });
  });

  it('sends Retry-After when the error says how long to wait', () => {
    // Prepare
    const error = new ServiceError('UPSTREAM_RATE_LIMITED', 'The portal is rate-limiting.', {
      retryAfterSeconds: 2,
      upstreamStatus: 503,
    });

    // Act
    const response = problem(error, 'req-1');

    // Assess
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('2');
    expect(JSON.parse(response.body as string)).toMatchObject({ status: 429, code: 'UPSTREAM_RATE_LIMITED' });
  });

  it("includes the portal's own error code when there is one", () => {
    // Prepare
    const error = new ServiceError('BOT_ID_ERROR', 'No such bot.', {
      upstreamCode: 'BOT_ID_ERROR',
      upstreamStatus: 400,
    });

    // Act
    const body = JSON.parse(problem(error, 'req-1').body as string);

    // Assess
    expect(body).toMatchObject({ status: 404, code: 'BOT_ID_ERROR', upstreamCode: 'BOT_ID_ERROR' });
    expect(body).not.toHaveProperty('upstreamStatus');
  });

  it.each([
    ['SIGNATURE_INVALID', 401],
    ['BODY_INVALID', 400],
    ['PORTAL_UNKNOWN', 404],
    ['PAYLOAD_TOO_LARGE', 413],
    ['UNSUPPORTED_MEDIA_TYPE', 415],
    ['UPSTREAM_ERROR', 502],
    ['UPSTREAM_TIMEOUT', 504],
  ] as const)('answers %s with status %i', (code, status) => {
    // Act
    const response = problem(new ServiceError(code, 'x'), 'req-1');

    // Assess
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body as string).status).toBe(status);
  });

  it.each([
    ['an Error', new Error('connect ECONNREFUSED https://portal/rest/1/s3cr3tc0de/')],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'accessToken')")],
    ['a thrown string', 'raw failure with token abcdef123456'],
    ['undefined', undefined],
  ])('turns %s into a 500 INTERNAL_ERROR without leaking its message', (_label, error) => {
    // Act
    const response = problem(error, 'req-500');

    // Assess
    const body = JSON.parse(response.body as string);
    expect(response.statusCode).toBe(500);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(body).toMatchObject({ status: 500, code: 'INTERNAL_ERROR', requestId: 'req-500' });
    expect(typeof body.title).toBe('string');
    expect(typeof body.detail).toBe('string');
    expect(response.body).not.toContain('s3cr3tc0de');
    expect(response.body).not.toContain('accessToken');
    expect(response.body).not.toContain('abcdef123456');
  });
});
