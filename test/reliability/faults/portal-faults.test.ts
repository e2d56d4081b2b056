import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTypingHandler, typingDependencies } from '../../../functions/typing.js';
import { startPortal, type FakePortal, type ScriptedResponse } from '../../../sandbox/portal/index.js';
import { random, webhookBotOn } from '../../../devtools/fixtures.js';
import { lambdaContext, signedTypingEvent } from '../../../devtools/lambda.js';
import { captureLogger } from '../../support/logs.js';
import { recordScenario } from '../../support/report.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../../support/secrets.js';

const FILE = 'test/reliability/faults/portal-faults.test.ts';
const METHOD = 'imbot.chat.sendTyping';
const TIMEOUT_MS = 1_000;

let prefix: string;
let key: string;
const portals: FakePortal[] = [];

beforeAll(async () => {
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
});
afterEach(async () => {
  await Promise.all(portals.splice(0).map((p) => p.close()));
});

/**
 * A portal of its own per scenario (scripted answers left unused cannot leak into the next one), a
 * webhook bot on it, and a fresh container whose handler reads the portal secret from moto.
 */
async function scenario(env: Record<string, string> = {}) {
  const portal = await startPortal({ domain: `f${random(4)}.bitrix24.test` });
  portals.push(portal);
  const bot = webhookBotOn(portal, 39);
  await putSecret(`${prefix}/portals/${portal.domain}`, bot.secret);
  const capture = captureLogger();
  const deps = typingDependencies(
    {
      CREDENTIALS_SOURCE: 'secrets-manager',
      TYPING_COALESCE_MS: '0',
      SECRETS_PREFIX: prefix,
      BITRIX24_TIMEOUT_MS: String(TIMEOUT_MS),
      ...env,
    },
    { logger: capture.logger },
  );
  const handler = createTypingHandler(deps);
  const send = async (remainingMs = 10_000) => {
    const context = lambdaContext(remainingMs);
    const at = Date.now();
    const response = await handler(
      signedTypingEvent({ portal: portal.domain, dialogId: 'chat12', botId: 39 }, key),
      context,
    );
    return {
      status: response.statusCode,
      headers: response.headers,
      text: response.body as string,
      body: JSON.parse(response.body as string) as Record<string, unknown>,
      ms: Date.now() - at,
      leftMs: context.getRemainingTimeInMillis(),
    };
  };
  // Warm the secret cache first, so the figures below measure the portal fault alone.
  await send();
  portal.resetCalls();
  return { portal, send, webhookUrl: bot.webhookUrl, records: capture.records };
}

type Answer = Awaited<ReturnType<Awaited<ReturnType<typeof scenario>>['send']>>;

function expectProblem(answer: Answer, status: number, code: string, upstreamCode?: string): void {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toBe('application/problem+json');
  expect(answer.body).toEqual({
    title: expect.any(String),
    status,
    detail: expect.any(String),
    code,
    requestId: expect.any(String),
    ...(upstreamCode === undefined ? {} : { upstreamCode }),
  });
  if (status === 429 || status === 503) expect(answer.headers['retry-after']).toMatch(/^[1-9]\d*$/);
}

const typingCalls = (portal: FakePortal) => portal.calls.filter((c) => c.method === METHOD);

const rateLimited = (code: string, count: number): ScriptedResponse[] =>
  Array.from({ length: count }, () => ({ status: 503, body: { error: code, error_description: 'Too many requests' } }));

interface Case {
  id: string;
  name: string;
  sent: string;
  env?: Record<string, string>;
  script: ScriptedResponse[];
  remainingMs?: number;
  expected: { status: number; code?: string; upstreamCode?: string; calls: number };
}

const HTML_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
const HTML_200 =
  '<!DOCTYPE html><html><head><title>Bitrix24</title></head><body>The portal is being updated. Please come back later.</body></html>';
const JSON_HEADER = { 'content-type': 'application/json; charset=utf-8' };

const CASES: Case[] = [
  {
    id: 'portal-503-burst-longer',
    name: '503 QUERY_LIMIT_EXCEEDED for longer than the attempts: 429 UPSTREAM_RATE_LIMITED after exactly BITRIX24_MAX_ATTEMPTS (3) calls',
    sent: '5 × 503 QUERY_LIMIT_EXCEEDED, BITRIX24_MAX_ATTEMPTS=3',
    env: { BITRIX24_MAX_ATTEMPTS: '3' },
    script: rateLimited('QUERY_LIMIT_EXCEEDED', 5),
    expected: { status: 429, code: 'UPSTREAM_RATE_LIMITED', upstreamCode: 'QUERY_LIMIT_EXCEEDED', calls: 3 },
  },
  {
    id: 'portal-503-burst-longer-5-attempts',
    name: '503 QUERY_LIMIT_EXCEEDED for longer than the attempts: 429 after exactly BITRIX24_MAX_ATTEMPTS (5) calls',
    sent: '7 × 503 QUERY_LIMIT_EXCEEDED, BITRIX24_MAX_ATTEMPTS=5',
    env: { BITRIX24_MAX_ATTEMPTS: '5' },
    script: rateLimited('QUERY_LIMIT_EXCEEDED', 7),
    expected: { status: 429, code: 'UPSTREAM_RATE_LIMITED', upstreamCode: 'QUERY_LIMIT_EXCEEDED', calls: 5 },
  },
  {
    id: 'portal-503-burst-shorter',
    name: '503 QUERY_LIMIT_EXCEEDED for fewer calls than the attempts: retried, 200',
    sent: '2 × 503 QUERY_LIMIT_EXCEEDED, then normal handling; BITRIX24_MAX_ATTEMPTS=3',
    script: rateLimited('QUERY_LIMIT_EXCEEDED', 2),
    expected: { status: 200, calls: 3 },
  },
  {
    id: 'portal-503-overload',
    name: '503 OVERLOAD_LIMIT (a block only the portal support lifts): 502 UPSTREAM_BLOCKED after one call, never retried',
    sent: '5 × 503 OVERLOAD_LIMIT',
    script: rateLimited('OVERLOAD_LIMIT', 5),
    expected: { status: 502, code: 'UPSTREAM_BLOCKED', upstreamCode: 'OVERLOAD_LIMIT', calls: 1 },
  },
  {
    id: 'portal-slow',
    name: 'an answer slower than BITRIX24_TIMEOUT_MS: 504 UPSTREAM_TIMEOUT, not retried',
    sent: `an answer delayed 3 s, BITRIX24_TIMEOUT_MS=${TIMEOUT_MS}`,
    script: [{ delayMs: 3_000, then: { status: 200, body: { result: true } } }],
    expected: { status: 504, code: 'UPSTREAM_TIMEOUT', upstreamCode: 'TIMEOUT', calls: 1 },
  },
  {
    id: 'portal-slow-lambda-deadline',
    name: 'a portal delay of 5 s with 1200 ms left in the Lambda: 504 before the deadline',
    sent: 'an answer delayed 5 s, BITRIX24_TIMEOUT_MS=5000, Lambda context with 1200 ms remaining',
    env: { BITRIX24_TIMEOUT_MS: '5000' },
    script: [{ delayMs: 5_000, then: { status: 200, body: { result: true } } }],
    remainingMs: 1_200,
    expected: { status: 504, code: 'UPSTREAM_TIMEOUT', upstreamCode: 'TIMEOUT', calls: 1 },
  },
  {
    id: 'portal-reset-once',
    name: 'one connection reset: retried, 200',
    sent: 'the socket destroyed once, then normal handling',
    script: [{ reset: true }],
    expected: { status: 200, calls: 2 },
  },
  {
    id: 'portal-reset-always',
    name: 'a connection reset on every attempt: 502 UPSTREAM_ERROR',
    sent: 'the socket destroyed on each of 5 calls',
    script: [{ reset: true }, { reset: true }, { reset: true }, { reset: true }, { reset: true }],
    expected: { status: 502, code: 'UPSTREAM_ERROR', upstreamCode: 'NETWORK_ERROR', calls: 3 },
  },
  {
    id: 'portal-malformed-json',
    name: 'malformed JSON: 502 UPSTREAM_ERROR INVALID_RESPONSE',
    sent: '200 application/json `{"result":`',
    script: [{ status: 200, body: '{"result":', headers: JSON_HEADER }],
    expected: { status: 502, code: 'UPSTREAM_ERROR', upstreamCode: 'INVALID_RESPONSE', calls: 1 },
  },
  {
    id: 'portal-html-502',
    name: 'an HTML 502 page from a proxy: 502 UPSTREAM_ERROR INVALID_RESPONSE',
    sent: '502 text/html nginx "Bad Gateway" page',
    script: [{ status: 502, body: HTML_502 }],
    expected: { status: 502, code: 'UPSTREAM_ERROR', upstreamCode: 'INVALID_RESPONSE', calls: 1 },
  },
  {
    id: 'portal-html-200',
    name: 'a 200 with an HTML body: 502 UPSTREAM_ERROR INVALID_RESPONSE',
    sent: '200 text/html maintenance page',
    script: [{ status: 200, body: HTML_200 }],
    expected: { status: 502, code: 'UPSTREAM_ERROR', upstreamCode: 'INVALID_RESPONSE', calls: 1 },
  },
  {
    id: 'portal-empty-200',
    name: 'an empty 200: 502 UPSTREAM_ERROR INVALID_RESPONSE',
    sent: '200 application/json with an empty body',
    script: [{ status: 200, body: '', headers: JSON_HEADER }],
    expected: { status: 502, code: 'UPSTREAM_ERROR', upstreamCode: 'INVALID_RESPONSE', calls: 1 },
  },
  {
    id: 'portal-500',
    name: '500 INTERNAL_SERVER_ERROR: 502 UPSTREAM_ERROR, not retried',
    sent: '500 {"error":"INTERNAL_SERVER_ERROR"}',
    script: [{ status: 500, body: { error: 'INTERNAL_SERVER_ERROR', error_description: 'Internal server error' } }],
    expected: { status: 502, code: 'UPSTREAM_ERROR', upstreamCode: 'INTERNAL_SERVER_ERROR', calls: 1 },
  },
  {
    id: 'portal-401-webhook',
    name: '401 invalid_token on a webhook portal: 502 UPSTREAM_ERROR, no refresh',
    sent: '401 {"error":"invalid_token"} to a webhook-registered bot',
    script: [{ status: 401, body: { error: 'invalid_token', error_description: 'Unable to authorize user' } }],
    expected: { status: 502, code: 'UPSTREAM_ERROR', upstreamCode: 'invalid_token', calls: 1 },
  },
];

describe('portal faults: POST /typing', () => {
  for (const c of CASES)
    it(c.name, async () => {
      // Prepare
      const { portal, send, webhookUrl, records } = await scenario(c.env);
      portal.script(METHOD, c.script);
      // Act
      const answer = await send(c.remainingMs);
      // Assess
      const calls = typingCalls(portal);
      const remainingMs = c.remainingMs ?? 10_000;
      const line = records().at(-1);
      recordScenario({
        id: `faults/${c.id}`,
        section: 'Faults',
        scenario: c.name,
        sent: c.sent,
        got:
          c.expected.status === 200
            ? `200 ${JSON.stringify(answer.body)}`
            : `${answer.status} ${String(answer.body.code)} (upstreamCode ${String(answer.body.upstreamCode)})${answer.headers['retry-after'] ? `, Retry-After ${answer.headers['retry-after']}` : ''}`,
        figures: {
          status: answer.status,
          code: String(answer.body.code ?? 'OK'),
          upstreamCode: String(answer.body.upstreamCode ?? '-'),
          portalCalls: calls.length,
          elapsedMs: answer.ms,
          lambdaRemainingAtStartMs: remainingMs,
          lambdaRemainingAtAnswerMs: answer.leftMs,
        },
        command: `node scripts/test.mjs ${FILE} -t "${c.name.replace(/"/g, '\\"')}"`,
        observations: calls.length,
      });
      if (c.expected.status === 200) {
        expect(answer.status).toBe(200);
        expect(answer.body).toEqual({ ok: true, indicatorSeconds: 35 });
      } else {
        expectProblem(answer, c.expected.status, c.expected.code as string, c.expected.upstreamCode);
      }
      expect(calls).toHaveLength(c.expected.calls);
      // Never a hang: the answer arrives while the Lambda still has time left.
      expect(answer.leftMs).toBeGreaterThan(0);
      expect(answer.ms).toBeLessThan(remainingMs);
      // The webhook URL holds a password; no answer may carry it.
      expect(answer.text).not.toContain(new URL(webhookUrl).pathname);
      expect(line).toMatchObject({ status: c.expected.status, outcome: c.expected.code ?? 'OK' });
    });

  it('429 with Retry-After: 1 when the deadline allows: waits at least a second, retries, 200', async () => {
    // Prepare
    const { portal, send } = await scenario();
    portal.script(METHOD, [
      {
        status: 429,
        body: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' },
        headers: { 'Retry-After': '1' },
      },
    ]);
    // Act
    const answer = await send(10_000);
    // Assess
    const calls = typingCalls(portal);
    const gapMs = (calls[1]?.at ?? 0) - (calls[0]?.at ?? 0);
    recordScenario({
      id: 'faults/portal-429-retry-after-honoured',
      section: 'Faults',
      scenario: '429 with Retry-After: 1 and time left: retried after the wait',
      sent: '429 Retry-After: 1, then normal handling; Lambda context 10 s',
      got: '200 {"ok":true}',
      figures: { status: answer.status, portalCalls: calls.length, retryGapMs: gapMs, elapsedMs: answer.ms },
      command: `node scripts/test.mjs ${FILE} -t "429 with Retry-After: 1 when the deadline allows"`,
      observations: calls.length,
    });
    expect(answer.status).toBe(200);
    expect(calls).toHaveLength(2);
    // Retry-After is the portal's instruction, not a hint: the retry must not come before it.
    expect(gapMs).toBeGreaterThanOrEqual(990);
    expect(answer.leftMs).toBeGreaterThan(0);
  });

  it('429 with Retry-After: 1 when the deadline does not allow the wait: answers 429 at once without retrying', async () => {
    // Prepare: 900 ms left, 250 ms of it kept for answering: a 1 s wait cannot fit.
    const { portal, send } = await scenario();
    portal.script(METHOD, [
      {
        status: 429,
        body: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' },
        headers: { 'Retry-After': '1' },
      },
      {
        status: 429,
        body: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' },
        headers: { 'Retry-After': '1' },
      },
    ]);
    // Act
    const answer = await send(900);
    // Assess
    const calls = typingCalls(portal);
    recordScenario({
      id: 'faults/portal-429-retry-after-no-time',
      section: 'Faults',
      scenario: '429 with Retry-After: 1 and no time left for the wait: answered at once',
      sent: '429 Retry-After: 1; Lambda context 900 ms',
      got: `429 UPSTREAM_RATE_LIMITED, Retry-After ${answer.headers['retry-after'] ?? '-'}`,
      figures: {
        status: answer.status,
        code: String(answer.body.code),
        portalCalls: calls.length,
        elapsedMs: answer.ms,
        lambdaRemainingAtAnswerMs: answer.leftMs,
      },
      command: `node scripts/test.mjs ${FILE} -t "429 with Retry-After: 1 when the deadline does not allow"`,
      observations: calls.length,
    });
    expectProblem(answer, 429, 'UPSTREAM_RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED');
    expect(answer.headers['retry-after']).toBe('1');
    expect(calls).toHaveLength(1);
    expect(answer.leftMs).toBeGreaterThan(0);
  });
  it('logs how many portal attempts a failed call took, as README promises for every request line', async () => {
    // Prepare
    const { portal, send, records } = await scenario({ BITRIX24_MAX_ATTEMPTS: '3' });
    portal.script(METHOD, rateLimited('QUERY_LIMIT_EXCEEDED', 3));
    // Act
    const answer = await send();
    // Assess
    const line = records().at(-1);
    recordScenario({
      id: 'faults/portal-failure-log-attempts',
      section: 'Faults',
      scenario: 'the log line of a request that failed after retries says how many attempts were made',
      sent: '3 × 503 QUERY_LIMIT_EXCEEDED, BITRIX24_MAX_ATTEMPTS=3',
      got: `${answer.status} ${String(answer.body.code)}; log line attempts=${String(line?.attempts ?? 'absent')}`,
      figures: {
        status: answer.status,
        portalCalls: typingCalls(portal).length,
        loggedAttempts: String(line?.attempts ?? 'absent'),
      },
      command: `node scripts/test.mjs ${FILE} -t "logs how many portal attempts"`,
      observations: typingCalls(portal).length,
    });
    expect(answer.status).toBe(429);
    expect(line).toMatchObject({ outcome: 'UPSTREAM_RATE_LIMITED', upstreamCode: 'QUERY_LIMIT_EXCEEDED', attempts: 3 });
  });
});
