import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTypingHandler, typingDependencies } from '../../functions/typing.js';
import { normalizeDomain } from '../../lib/portal/index.js';
import { ServiceError } from '../../lib/errors/index.js';
import { signRequest } from '../../lib/signing/standard-webhooks.js';
import { TYPING_STATUSES } from '../../lib/imbot/input-action.js';
import { parseTypingRequest } from '../../lib/typing/typing-request.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { httpEvent, lambdaContext } from '../../devtools/lambda.js';
import { captureLogger } from '../support/logs.js';
import { recordScenario } from '../support/report.js';
import { seedTypingKeys, uniquePrefix } from '../support/secrets.js';

/**
 * Property-based fuzzing of the `/typing` JSON validator: whatever a signed caller
 * sends, the answer is a 4xx problem (or 404 for a portal nobody stored), never a 5xx, a throw or a portal
 * call. The handler is the real one against moto, with a signing key seeded and no portal secret, so every
 * request passes the signature check and reaches validation.
 */

// A slow CI host runs fewer cases rather than timing out.
const HANDLER_TIME_LIMIT_MS = 12_000;
const MAX_BODY = 16 * 1024;

// ---- Arbitraries -------------------------------------------------------------------------------------------

const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'binary', maxLength: 40 }));
const portalValue = fc.oneof(
  { weight: 3, arbitrary: fc.domain() },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'example.bitrix24.com',
      'EXAMPLE.Bitrix24.com.',
      ' a.b ',
      '../app',
      'a/../../typing-keys',
      'localhost',
      '127.0.0.1',
      '',
      'ех.рф',
      'a..b',
      '-a.b',
      `${'a'.repeat(64)}.com`,
    ),
  },
  { weight: 1, arbitrary: anyValue },
);
const dialogValue = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.nat().map(String),
      fc.nat().map((n) => `chat${n}`),
      fc.integer(),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '27',
      'chat12',
      'chat',
      'chat0',
      '0',
      '-4',
      '1e3',
      '９',
      'chat-1',
      ' 27',
      '99999999999999999999',
      0,
      1.5,
      1e21,
      Number.MAX_SAFE_INTEGER + 1,
      true,
      null,
      '',
    ),
  },
  { weight: 1, arbitrary: anyValue },
);
const botValue = fc.oneof(
  { weight: 3, arbitrary: fc.oneof(fc.integer(), fc.nat().map(String)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      27,
      0,
      -1,
      1.5,
      1e21,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER + 1,
      '0',
      '007',
      '1e3',
      '',
      true,
      null,
    ),
  },
  { weight: 1, arbitrary: anyValue },
);
const durationValue = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -10, max: 700 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(0, 1, 600, 601, 1.5, 59.999, '60', '', -0, 1e21, Number.MAX_SAFE_INTEGER, true, null),
  },
  { weight: 1, arbitrary: anyValue },
);
const statusValue = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom('typing', 'thinking', 'reading_docs', 'composing', 'THINKING', 'reading docs', ''),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 1, arbitrary: anyValue },
);
/** Objects shaped like a request: the known fields, plausible or not, now and then an unknown field. */
const requestLike = fc
  .record(
    {
      portal: portalValue,
      dialogId: dialogValue,
      botId: botValue,
      durationSeconds: durationValue,
      status: statusValue,
      extra: fc.oneof(
        { weight: 9, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom('pad', '__proto__', 'constructor', 'Portal', 'portal ') },
      ),
    },
    { requiredKeys: ['portal', 'dialogId'] },
  )
  .map(({ extra, ...fields }) => (extra === undefined ? fields : { ...fields, [extra]: 1 }));
const anyJson = fc.oneof(
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 6 }) },
  { weight: 4, arbitrary: requestLike },
);
const jsonText = fc.oneof(
  { weight: 9, arbitrary: anyJson.map((value) => JSON.stringify(value) ?? 'null') },
  // Hand-written JSON that JSON.stringify would never produce.
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"portal":"a.b","dialogId":"27","__proto__":{"x":1}}',
      '{"portal":"a.b","dialogId":"27","portal":"c.d"}',
      '{"portal":"a.b","dialogId":"27"} trailing',
      '\uFEFF{"portal":"a.b","dialogId":"27"}',
      '{"portal":"a.b","dialogId":27.0}',
      '{"portal":"a.b","dialogId":"27","botId":1e2}',
      '{"portal":"a.b","dialogId":"27","durationSeconds":6e1}',
      '{"portal":"a.b","dialogId":"27","durationSeconds":60.0,"status":"thinking"}',
      '{"portal":"a.b","dialogId":"27","status":"thinking","status":"dreaming"}',
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`,
      '',
      ' ',
      'null',
    ),
  },
);
const anyBytes = fc.oneof(
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 1024 }) },
  { weight: 6, arbitrary: jsonText.map((text) => new Uint8Array(Buffer.from(text, 'utf8'))) },
  // Valid JSON text in an encoding JSON.parse will not read as UTF-8.
  { weight: 1, arbitrary: jsonText.map((text) => new Uint8Array(Buffer.from(text, 'utf16le'))) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: MAX_BODY - 16, max: MAX_BODY + 16 })
      .map(
        (size) =>
          new Uint8Array(Buffer.from(`{"portal":"a.b","dialogId":"27","pad":"${'x'.repeat(Math.max(0, size - 40))}"}`)),
      ),
  },
);

function validatorOutcome(body: Buffer): 'valid' | ServiceError {
  try {
    const request = parseTypingRequest(body);
    // Whatever the validator accepts is a request the rest of the service can trust.
    expect(normalizeDomain(request.portal)).toBe(request.portal);
    expect(request.dialogId).toMatch(/^(?:[0-9]{1,18}|(?:chat|sg|crm)[0-9]{1,18})$/);
    if (request.botId !== undefined) expect(Number.isSafeInteger(request.botId) && request.botId > 0).toBe(true);
    if (request.durationSeconds !== undefined) {
      expect(Number.isInteger(request.durationSeconds)).toBe(true);
      expect(request.durationSeconds >= 1 && request.durationSeconds <= 600).toBe(true);
    }
    if (request.status !== undefined) expect(TYPING_STATUSES).toContain(request.status);
    const known = ['portal', 'dialogId', 'botId', 'durationSeconds', 'status'];
    expect(Object.keys(request).every((key) => known.includes(key))).toBe(true);
    return 'valid';
  } catch (error) {
    if (error instanceof ServiceError) return error;
    throw error;
  }
}

describe('parseTypingRequest under fuzzing', () => {
  it('refuses arbitrary JSON values only with a 4xx ServiceError', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        const result = validatorOutcome(Buffer.from(text, 'utf8'));
        if (result !== 'valid') expect(result.status).toBe(400);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses arbitrary bytes only with a 4xx ServiceError', () => {
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        const result = validatorOutcome(Buffer.from(bytes));
        if (result !== 'valid') expect(result.status).toBe(400);
      }),
      { numRuns: 500 },
    );
  });
});

describe('POST /typing under fuzzing (signed, no portal stored)', () => {
  let portal: FakePortal;
  let handler: ReturnType<typeof createTypingHandler>;
  let key: string;
  const seen = new Map<string, number>();

  beforeAll(async () => {
    portal = await startPortal();
    const prefix = uniquePrefix();
    [key] = (await seedTypingKeys(prefix)) as [string];
    const deps = typingDependencies(
      {
        CREDENTIALS_SOURCE: 'secrets-manager',
        TYPING_COALESCE_MS: '0',
        SECRETS_PREFIX: prefix,
        BITRIX24_TIMEOUT_MS: '1000',
      },
      { logger: captureLogger().logger },
    );
    handler = createTypingHandler(deps);
  });
  afterAll(async () => {
    await portal.close();
  });

  /** A correctly signed request carrying exactly these bytes, raw or base64-encoded as a gateway would. */
  function signedEvent(bytes: Uint8Array, base64: boolean) {
    const body = Buffer.from(bytes);
    const headers = signRequest({ body, key, id: `msg_${randomUUID()}` });
    const event = httpEvent({ path: '/typing', headers: { 'content-type': 'application/json', ...headers } });
    // Raw delivery can only carry text; bytes that are not UTF-8 travel base64-encoded, as through API Gateway.
    const raw = body.toString('utf8');
    const asBase64 = base64 || !Buffer.from(raw, 'utf8').equals(body);
    return { ...event, body: asBase64 ? body.toString('base64') : raw, isBase64Encoded: asBase64 };
  }

  it('answers arbitrary signed bodies with 400, 404 PORTAL_UNKNOWN or 413, never a 5xx or a portal call', async () => {
    await fc.assert(
      fc.asyncProperty(anyBytes, fc.boolean(), async (bytes, base64) => {
        const response = await handler(signedEvent(bytes, base64), lambdaContext(8_000));
        const problem = JSON.parse(response.body as string) as Record<string, unknown>;
        seen.set(
          `${response.statusCode} ${String(problem.code)}`,
          (seen.get(`${response.statusCode} ${String(problem.code)}`) ?? 0) + 1,
        );
        expect([400, 404, 413]).toContain(response.statusCode);
        expect(response.headers['content-type']).toBe('application/problem+json');
        expect(problem.status).toBe(response.statusCode);
        if (response.statusCode === 404) expect(problem.code).toBe('PORTAL_UNKNOWN');
        expect(portal.calls).toEqual([]);
      }),
      { numRuns: 400, interruptAfterTimeLimit: HANDLER_TIME_LIMIT_MS },
    );
  });

  it('reached validation refusals, the unknown-portal answer and the size limit', () => {
    console.info('answers under fuzzing', Object.fromEntries(seen));
    const statuses = new Set([...seen.keys()].map((k) => Number(k.split(' ')[0])));
    const requests = [...seen.values()].reduce((a, b) => a + b, 0);
    recordScenario({
      id: 'hostile/fuzz-typing',
      section: 'Hostile input',
      scenario: 'POST /typing under property-based fuzzing (fast-check), correctly signed, handler level',
      sent: 'arbitrary JSON values and bytes (UTF-16, near the 16 KiB limit), signed with a live key; no portal stored',
      got: [...seen.entries()].map(([answer, n]) => `${n}× ${answer}`).join(', '),
      figures: {
        requests,
        fiveHundreds: [...statuses].filter((s) => s >= 500).length,
        portalCalls: portal.calls.length,
      },
      command: 'npm test -- test/fuzz/typing-request.fuzz.test.ts',
      observations: requests,
    });
    expect([...statuses].sort()).toEqual([400, 404, 413]);
    expect(portal.calls).toEqual([]);
  });
});
