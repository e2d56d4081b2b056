import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createTypingClient,
  parseRetryAfter,
  TypingClientOptionsError,
  TypingError,
  TYPING_ERROR_CODES,
  type TypingErrorCode,
} from '../../../lib/client/index.js';
import { ERROR_CATALOGUE, type ErrorCode } from '../../../lib/errors/index.js';
import { generateSigningKey, verifySignature } from '../../../lib/signing/standard-webhooks.js';
import { freePort } from '../../../devtools/net.js';
import { startScriptedServer, type ScriptedServer } from '../../support/scripted-server.js';

let service: ScriptedServer;
const key = generateSigningKey();
const request = { portal: 'example.bitrix24.com', dialogId: 'chat12', botId: 39 };
const fast = { backoff: { baseMs: 5, capMs: 20 } };

beforeEach(async () => {
  service = await startScriptedServer();
});
afterEach(async () => {
  await service.close();
});

function problem(code: ErrorCode, headers: Record<string, string> = {}) {
  const { status, title } = ERROR_CATALOGUE[code];
  return {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
    body: { title, status, detail: `detail of ${code}`, code, requestId: `req-${code}` },
  };
}

async function failure(promise: Promise<unknown>): Promise<TypingError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TypingError);
  return error as TypingError;
}

const headersOf = (index: number) => service.requests[index]?.headers as Record<string, string>;

describe('signing', () => {
  it('signs the exact body so that the service verifies it with the same key', async () => {
    // Prepare
    const client = createTypingClient({ url: service.url, key });

    // Act
    const result = await client.sendTyping(request);

    // Assess
    expect(result).toEqual({ ok: true });
    const sent = service.requests[0]!;
    expect(sent).toMatchObject({ method: 'POST', url: '/typing' });
    expect(sent.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent.body)).toEqual(request);
    const verified = verifySignature({
      headers: headersOf(0),
      body: Buffer.from(sent.body),
      keys: [key],
      toleranceSeconds: 300,
    });
    expect(verified.id).toMatch(/^msg_/);
  });

  it('is refused by the verifier under any other key', async () => {
    // Prepare
    const client = createTypingClient({ url: service.url, key });

    // Act
    await client.sendTyping(request);

    // Assess
    const sent = service.requests[0]!;
    expect(() =>
      verifySignature({
        headers: headersOf(0),
        body: Buffer.from(sent.body),
        keys: [generateSigningKey()],
        toleranceSeconds: 300,
      }),
    ).toThrow(/does not match/);
  });

  it('signs with every key it is given, so either side of a rotation verifies', async () => {
    // Prepare
    const next = generateSigningKey();
    const client = createTypingClient({ url: `${service.url}/`, key: [key, next] });

    // Act
    await client.sendTyping({ portal: 'example.bitrix24.com', dialogId: 27 });

    // Assess
    const sent = service.requests[0]!;
    expect(JSON.parse(sent.body)).toEqual({ portal: 'example.bitrix24.com', dialogId: 27 });
    for (const only of [key, next]) {
      expect(
        verifySignature({ headers: headersOf(0), body: Buffer.from(sent.body), keys: [only], toleranceSeconds: 300 })
          .id,
      ).toBeTruthy();
    }
  });

  it('refuses a key that is not whsec_<base64> before sending anything, without echoing it', () => {
    expect(() => createTypingClient({ url: service.url, key: 'not-a-key' })).toThrow(
      new TypingClientOptionsError(
        'key',
        'key must be a whsec_<base64> signing key of 24-64 bytes (Standard Webhooks), or a non-empty array of them',
      ),
    );
    expect(service.requests).toHaveLength(0);
  });
});

describe('options it cannot work with', () => {
  const UNSET = 'is the environment variable you read it from set?';
  it.each([
    ['a missing URL', { key }, 'url', `createTypingClient: url is missing (got undefined; ${UNSET})`],
    [
      'a missing key',
      { url: 'https://typing.example.com' },
      'key',
      `createTypingClient: key is missing: pass the whsec_... signing key you were given (got undefined; ${UNSET})`,
    ],
    ['an empty key', { url: 'https://typing.example.com', key: '' }, 'key', expect.stringContaining('key is missing')],
    [
      'a URL that is not one',
      { url: 'typing.example.com', key },
      'url',
      "createTypingClient: url must be the service's http(s) base URL, e.g. " +
        'https://abc123.execute-api.eu-central-1.amazonaws.com (got "typing.example.com")',
    ],
    [
      'no options at all',
      undefined,
      'options',
      'createTypingClient: pass { url, key } (the service URL and your signing key)',
    ],
  ])('names %s instead of failing with a TypeError', (_case, options, option, message) => {
    // Act
    let thrown: unknown;
    try {
      createTypingClient(options as never);
    } catch (error) {
      thrown = error;
    }

    // Assess
    expect(thrown).toBeInstanceOf(TypingClientOptionsError);
    expect(thrown).not.toBeInstanceOf(TypeError);
    expect(thrown).toMatchObject({ name: 'TypingClientOptionsError', option, message });
  });
});

describe('retries', () => {
  it.each([429, 502, 503, 504])(
    'retries HTTP %i and succeeds, keeping the webhook-id and re-signing each attempt',
    async (status) => {
      // Prepare
      service.script({ status, body: { code: 'X', status } }, { status, body: { code: 'X', status } });
      const client = createTypingClient({ url: service.url, key, ...fast });

      // Act
      const result = await client.sendTyping(request);

      // Assess
      expect(result).toEqual({ ok: true });
      expect(service.requests).toHaveLength(3);
      const ids = service.requests.map((_, i) => headersOf(i)['webhook-id']);
      expect(new Set(ids).size).toBe(1);
      service.requests.forEach((sent, i) => {
        expect(() =>
          verifySignature({ headers: headersOf(i), body: Buffer.from(sent.body), keys: [key], toleranceSeconds: 300 }),
        ).not.toThrow();
      });
    },
  );

  it('waits the Retry-After seconds before retrying', async () => {
    // Prepare
    service.script(problem('UPSTREAM_RATE_LIMITED', { 'retry-after': '1' }));
    const client = createTypingClient({ url: service.url, key, ...fast });

    // Act
    await client.sendTyping(request);

    // Assess
    const [first, second] = service.requests;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });

  it('waits until a Retry-After HTTP date before retrying', async () => {
    // Prepare: an HTTP date has whole seconds, so two seconds ahead is at least one second of waiting.
    const at = new Date(Date.now() + 2_000).toUTCString();
    service.script({ status: 503, headers: { 'retry-after': at }, body: { code: 'CREDENTIALS_UNAVAILABLE' } });
    const client = createTypingClient({ url: service.url, key, ...fast });

    // Act
    await client.sendTyping(request);

    // Assess
    const [first, second] = service.requests;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });

  it('retries 409 REQUEST_IN_PROGRESS with the same webhook-id after its Retry-After, and gets the first answer', async () => {
    // Prepare: the service is still running the first attempt of this id when the retry arrives
    service.script(problem('REQUEST_IN_PROGRESS', { 'retry-after': '1' }));
    const client = createTypingClient({ url: service.url, key, ...fast });

    // Act
    const result = await client.sendTyping(request);

    // Assess
    expect(result).toEqual({ ok: true });
    const [first, second] = service.requests;
    expect(service.requests).toHaveLength(2);
    expect(headersOf(1)['webhook-id']).toBe(headersOf(0)['webhook-id']);
    expect(second!.body).toBe(first!.body);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });

  it('does not retry 409 WEBHOOK_ID_REUSED: the same id can only be refused again', async () => {
    // Prepare
    service.script(problem('WEBHOOK_ID_REUSED'));
    const client = createTypingClient({ url: service.url, key, ...fast });

    // Act
    const error = await failure(client.sendTyping(request));

    // Assess
    expect(error).toMatchObject({ code: 'WEBHOOK_ID_REUSED', status: 409, attempts: 1, retryable: false });
    expect(service.requests).toHaveLength(1);
  });

  it('retries a dropped connection', async () => {
    // Prepare
    service.script({ destroy: true });
    const client = createTypingClient({ url: service.url, key, ...fast });

    // Act
    const result = await client.sendTyping(request);

    // Assess
    expect(result).toEqual({ ok: true });
    expect(service.requests).toHaveLength(2);
    expect(headersOf(1)['webhook-id']).toBe(headersOf(0)['webhook-id']);
  });

  it('gives up after maxAttempts and throws the last answer', async () => {
    // Prepare
    for (let i = 0; i < 5; i++) service.script(problem('UPSTREAM_ERROR'));
    const client = createTypingClient({ url: service.url, key, maxAttempts: 3, ...fast });

    // Act
    const error = await failure(client.sendTyping(request));

    // Assess
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR', status: 502, attempts: 3 });
    expect(service.requests).toHaveLength(3);
  });

  it('does not retry a refusal that would be refused again', async () => {
    // Prepare
    service.script(problem('DIALOG_ID_INVALID'));
    const client = createTypingClient({ url: service.url, key, ...fast });

    // Act
    const error = await failure(client.sendTyping(request));

    // Assess
    expect(error).toMatchObject({ code: 'DIALOG_ID_INVALID', attempts: 1, retryable: false });
    expect(service.requests).toHaveLength(1);
  });
});

describe('deadline', () => {
  it('does not wait out a Retry-After that ends past the deadline, and says when to retry', async () => {
    // Prepare
    service.script(problem('UPSTREAM_RATE_LIMITED', { 'retry-after': '5' }));
    const client = createTypingClient({ url: service.url, key, ...fast });
    const started = Date.now();

    // Act
    const error = await failure(client.sendTyping(request, { deadlineMs: 2_000 }));

    // Assess
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toMatchObject({
      code: 'UPSTREAM_RATE_LIMITED',
      status: 429,
      retryAfterSeconds: 5,
      attempts: 1,
      retryable: true,
    });
    expect(service.requests).toHaveLength(1);
  });

  it('cuts a hanging attempt at the deadline with TIMEOUT', async () => {
    // Prepare
    service.script({ hang: true });
    const client = createTypingClient({ url: service.url, key, timeoutMs: 10_000 });
    const started = Date.now();

    // Act
    const error = await failure(client.sendTyping(request, { deadlineMs: 400 }));

    // Assess
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(1_000);
    expect(error).toMatchObject({ code: 'TIMEOUT', status: 0 });
  });

  it('keeps retrying slow attempts only while the deadline allows', async () => {
    // Prepare
    service.script({ hang: true }, { hang: true }, { hang: true }, { hang: true });
    const client = createTypingClient({ url: service.url, key, timeoutMs: 200, maxAttempts: 10, ...fast });
    const started = Date.now();

    // Act
    const error = await failure(client.sendTyping(request, { deadlineMs: 700 }));

    // Assess
    expect(Date.now() - started).toBeLessThan(1_100);
    expect(error.code).toBe('TIMEOUT');
    expect(service.requests.length).toBeGreaterThanOrEqual(2);
    expect(service.requests.length).toBeLessThanOrEqual(4);
  });

  it("rejects with the caller's abort reason when the caller aborts", async () => {
    // Prepare
    service.script({ hang: true });
    const client = createTypingClient({ url: service.url, key });
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    setTimeout(() => controller.abort(reason), 50);

    // Act
    const outcome = await client.sendTyping(request, { signal: controller.signal }).catch((e: unknown) => e);

    // Assess
    expect(outcome).toBe(reason);
  });
});

describe('error codes', () => {
  const endpointCodes = TYPING_ERROR_CODES.filter(
    (code): code is TypingErrorCode & ErrorCode => code in ERROR_CATALOGUE,
  );

  it('mirrors every code POST /typing answers with', () => {
    expect(endpointCodes).toHaveLength(23);
  });

  it.each(endpointCodes)('maps a %s problem to a TypingError with its status, detail and request id', async (code) => {
    // Prepare
    const retryAfter =
      ERROR_CATALOGUE[code].status === 429 || ERROR_CATALOGUE[code].status === 503 ? { 'retry-after': '7' } : undefined;
    service.script({ ...problem(code, retryAfter), body: { ...problem(code).body, upstreamCode: 'SOME_PORTAL_CODE' } });
    const client = createTypingClient({ url: service.url, key, maxAttempts: 1 });

    // Act
    const error = await failure(client.sendTyping(request));

    // Assess
    expect(error).toMatchObject({
      code,
      status: ERROR_CATALOGUE[code].status,
      detail: `detail of ${code}`,
      requestId: `req-${code}`,
      upstreamCode: 'SOME_PORTAL_CODE',
      retryAfterSeconds: retryAfter ? 7 : undefined,
      attempts: 1,
    });
    expect(error.message).toBe(`${code}: detail of ${code}`);
  });

  it('maps a refused connection to NETWORK_ERROR', async () => {
    // Prepare
    const port = await freePort();
    const client = createTypingClient({ url: `http://127.0.0.1:${port}`, key, maxAttempts: 2, ...fast });

    // Act
    const error = await failure(client.sendTyping(request));

    // Assess
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', status: 0, attempts: 2, retryable: true });
  });

  it('maps no answer in time to TIMEOUT', async () => {
    // Prepare
    service.script({ hang: true });
    const client = createTypingClient({ url: service.url, key, timeoutMs: 100, maxAttempts: 1 });

    // Act
    const error = await failure(client.sendTyping(request));

    // Assess
    expect(error).toMatchObject({ code: 'TIMEOUT', status: 0, attempts: 1 });
  });

  it("maps an answer that is not the service's (a wrong URL, a proxy page) to UNEXPECTED_RESPONSE", async () => {
    // Prepare
    service.script({ status: 404, body: '<html>Not Found</html>' }, { status: 200, body: 'hello' });
    const client = createTypingClient({ url: service.url, key });

    // Act
    const notFound = await failure(client.sendTyping(request));
    const notOk = await failure(client.sendTyping(request));

    // Assess
    expect(notFound).toMatchObject({ code: 'UNEXPECTED_RESPONSE', status: 404 });
    expect(notOk).toMatchObject({ code: 'UNEXPECTED_RESPONSE', status: 200 });
  });

  it("maps the gateway's bare 500 for a crashed function to INTERNAL_ERROR with its request id", async () => {
    // Prepare
    service.script({ status: 500, headers: { 'apigw-requestid': 'gw-1' }, body: { message: 'Internal Server Error' } });
    const client = createTypingClient({ url: service.url, key });

    // Act
    const error = await failure(client.sendTyping(request));

    // Assess
    expect(error).toMatchObject({ code: 'INTERNAL_ERROR', status: 500, requestId: 'gw-1' });
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates, and ignores anything else', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('typed client: permanent portal refusals', () => {
  it('does not retry a 502 whose upstream code no retry can change (ACCESS_DENIED)', async () => {
    // Prepare: a service that answers 502 with the portal's ACCESS_DENIED
    let calls = 0;
    const fetchStub: typeof fetch = async () => {
      calls += 1;
      return new Response(
        JSON.stringify({
          title: 'Portal error',
          status: 502,
          detail: 'The portal refused the call (ACCESS_DENIED).',
          code: 'UPSTREAM_ERROR',
          requestId: 'r',
          upstreamCode: 'ACCESS_DENIED',
        }),
        {
          status: 502,
          headers: { 'content-type': 'application/problem+json' },
        },
      );
    };
    const client = createTypingClient({ url: 'http://127.0.0.1:9', key: generateSigningKey(), fetch: fetchStub });
    // Act
    const error = await client
      .sendTyping({ portal: 'example.bitrix24.com', dialogId: '27' }, { deadlineMs: 5_000 })
      .catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(TypingError);
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamCode: 'ACCESS_DENIED', retryable: false });
    expect(calls).toBe(1);
  });

  it('does not retry UPSTREAM_BLOCKED: the portal blocked the application until its support lifts it', async () => {
    // Prepare: old behaviour had no such code; the same block came as a retryable 429.
    const blocked = problem('UPSTREAM_BLOCKED');
    const answer = { ...blocked, body: { ...blocked.body, upstreamCode: 'OVERLOAD_LIMIT' } };
    service.script(answer, answer);
    const client = createTypingClient({ url: service.url, key, maxAttempts: 4, ...fast });

    // Act
    const error = await failure(client.sendTyping(request, { deadlineMs: 5_000 }));

    // Assess
    expect(error).toMatchObject({ code: 'UPSTREAM_BLOCKED', status: 502, attempts: 1, retryable: false });
    expect(service.requests).toHaveLength(1);
  });

  it('does not retry PORTAL_REAUTH_REQUIRED, whatever upstream code it carries', async () => {
    // Prepare: a dead stored refresh token; the code alone must stop the retries
    service.script(problem('PORTAL_REAUTH_REQUIRED'), problem('PORTAL_REAUTH_REQUIRED'));
    const client = createTypingClient({ url: service.url, key, maxAttempts: 4, ...fast });

    // Act
    const error = await failure(client.sendTyping(request, { deadlineMs: 5_000 }));

    // Assess
    expect(error).toMatchObject({ code: 'PORTAL_REAUTH_REQUIRED', status: 502, attempts: 1, retryable: false });
    expect(service.requests).toHaveLength(1);
  });
});
