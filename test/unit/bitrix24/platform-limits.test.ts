import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Bitrix24Error } from '../../../lib/bitrix24/errors.js';
import { createRestClient } from '../../../lib/bitrix24/rest-client.js';
import { Deadline } from '../../../lib/deadline/index.js';
import { ServiceError } from '../../../lib/errors/index.js';
import {
  createMemoryMethodBlocks,
  upstreamFailure,
  withMethodBlocks,
  type PortalClient,
  type PortalCredentials,
} from '../../../lib/portal/index.js';
import { startPortal, type FakePortal } from '../../../sandbox/portal/index.js';
import { webhookBotOn } from '../../../devtools/fixtures.js';
import { captureLogger } from '../../support/logs.js';

/**
 * The two blocks a portal can put on an application, as the platform documents them: OVERLOAD_LIMIT (a manual
 * block, lifted only by the portal's support) and OPERATION_TIME_LIMIT (a method's execution-time budget, back
 * when its oldest one-minute basket resets).
 */
let portal: FakePortal;
let bot: ReturnType<typeof webhookBotOn>;
beforeEach(async () => {
  portal = await startPortal({ operatingLimitSeconds: 480 });
  bot = webhookBotOn(portal, 39);
});
afterEach(async () => {
  await portal.close();
});

const rest = () => createRestClient({ timeoutMs: 2_000, maxAttempts: 3, backoffBaseMs: 20, backoffCapMs: 50 });
const typing = () =>
  rest().call(
    { kind: 'webhook', url: bot.webhookUrl },
    'imbot.chat.sendTyping',
    { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: bot.clientId },
    Deadline.in(5_000),
  );
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );
const typingCalls = () => portal.calls.filter((call) => call.method === 'imbot.chat.sendTyping');

describe('REST client: blocks are not rate limits', () => {
  it('makes one attempt on 503 OVERLOAD_LIMIT', async () => {
    // Prepare: old behaviour retried it as a rate limit, three attempts.
    const blocked = {
      status: 503,
      body: { error: 'OVERLOAD_LIMIT', error_description: 'REST API is blocked due to overload' },
    };
    portal.script('imbot.chat.sendTyping', [blocked, blocked, blocked]);

    // Act
    const error = await failure(typing());

    // Assess
    expect(error).toMatchObject({ code: 'OVERLOAD_LIMIT', isBlocked: true, isRateLimited: false, attempts: 1 });
    expect(typingCalls()).toHaveLength(1);
  });

  it('makes one attempt on 429 OPERATION_TIME_LIMIT, and reports the reset of every successful answer', async () => {
    // Prepare: one call that costs 500 s of the method's 480 s budget.
    portal.setOperatingCost('imbot.chat.sendTyping', 500);

    // Act
    const first = await typing();
    const error = await failure(typing());

    // Assess: old behaviour retried the 429 within 2 s, three attempts.
    expect(first.operatingResetAt).toBeGreaterThan(Date.now() / 1000 + 590);
    expect(error).toMatchObject({ code: 'OPERATION_TIME_LIMIT', status: 429, isRateLimited: false, attempts: 1 });
    expect(typingCalls()).toHaveLength(2);
  });

  it("takes the wait from an error answer's own time block when it has one", async () => {
    // Prepare
    const resetAt = Math.floor(Date.now() / 1000) + 300;
    portal.script('imbot.chat.sendTyping', [
      {
        status: 429,
        body: { error: 'OPERATION_TIME_LIMIT', error_description: '', time: { operating_reset_at: resetAt } },
      },
    ]);

    // Act
    const error = (await failure(typing())) as Bitrix24Error;

    // Assess
    expect(error.operatingResetAt).toBe(resetAt);
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(299);
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(300);
  });
});

describe('upstreamFailure: what callers see', () => {
  it('answers OVERLOAD_LIMIT with its own code, UPSTREAM_BLOCKED (502), and no Retry-After', () => {
    // Old behaviour: 429 UPSTREAM_RATE_LIMITED, "retry in 2 s".
    const error = upstreamFailure(new Bitrix24Error('OVERLOAD_LIMIT', 503, 'REST API is blocked due to overload'));
    expect(error).toMatchObject({ code: 'UPSTREAM_BLOCKED', status: 502, upstreamCode: 'OVERLOAD_LIMIT' });
    expect(error.retryAfterSeconds).toBeUndefined();
  });

  it('answers OPERATION_TIME_LIMIT with 429 and the seconds until the reset', () => {
    // Old behaviour: Retry-After 2.
    const error = upstreamFailure(new Bitrix24Error('OPERATION_TIME_LIMIT', 429, '', 540));
    expect(error).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', status: 429, retryAfterSeconds: 540 });
  });
});

describe('withMethodBlocks: no calls of a spent method until its reset', () => {
  const stored: PortalCredentials = { domain: 'a.bitrix24.com', webhook: { url: 'https://a.bitrix24.com/rest/1/x/' } };

  function scriptedClient(answers: Array<Bitrix24Error | number>) {
    const calls: string[] = [];
    const client: PortalClient = {
      async call<T>(_portal: PortalCredentials, method: string) {
        calls.push(method);
        const next = answers.shift();
        if (next instanceof Bitrix24Error) throw next;
        return { result: true as T, attempts: 1, status: 200, refreshed: false, operatingResetAt: next };
      },
    };
    return { client, calls };
  }

  const timeLimit = (resetAt?: number) => {
    const error = new Bitrix24Error('OPERATION_TIME_LIMIT', 429, 'Method is blocked due to operation time limit.');
    error.operatingResetAt = resetAt;
    return error;
  };

  it("holds calls of that method on that portal until the last success's reset, then calls again", async () => {
    // Prepare: a clock we move; the last success said the oldest basket resets at t = 1,000,600 s.
    let nowMs = 1_000_000_000;
    const { client, calls } = scriptedClient([1_000_600, timeLimit(), 1_000_700]);
    const capture = captureLogger();
    const blocked = withMethodBlocks(
      client,
      createMemoryMethodBlocks({ now: () => nowMs }),
      capture.logger,
      () => nowMs,
    );
    const send = (method = 'imbot.chat.sendTyping', portal = stored) =>
      blocked.call(portal, method, {}, Deadline.in(1_000)).then(
        () => 'OK',
        (error: unknown) => error,
      );

    // Act
    const first = await send();
    const refused = await send();
    nowMs += 100_000;
    const held = (await send()) as Bitrix24Error;
    const otherMethod = await send('profile');
    nowMs += 500_001;
    const afterReset = await send();

    // Assess
    expect(first).toBe('OK');
    expect(refused).toMatchObject({ code: 'OPERATION_TIME_LIMIT', retryAfterSeconds: 600 });
    expect(held).toMatchObject({ code: 'OPERATION_TIME_LIMIT', attempts: 0, retryAfterSeconds: 500 });
    expect(upstreamFailure(held)).toMatchObject({ status: 429, retryAfterSeconds: 500 });
    expect(otherMethod).toBe('OK');
    expect(afterReset).toBe('OK');
    expect(calls).toEqual(['imbot.chat.sendTyping', 'imbot.chat.sendTyping', 'profile', 'imbot.chat.sendTyping']);
    expect(capture.records().find((r) => r.message?.toString().includes('time budget spent'))).toMatchObject({
      level: 'warn',
      portal: 'a.bitrix24.com',
      method: 'imbot.chat.sendTyping',
      retryAfterSeconds: 600,
      resetFrom: 'last success',
    });
  });

  it('waits a minute when neither the answer nor an earlier one named a reset', async () => {
    const nowMs = 2_000_000_000;
    const { client } = scriptedClient([timeLimit()]);
    const blocked = withMethodBlocks(
      client,
      createMemoryMethodBlocks({ now: () => nowMs }),
      captureLogger().logger,
      () => nowMs,
    );
    const error = await failure(blocked.call(stored, 'imbot.chat.sendTyping', {}, Deadline.in(1_000)));
    expect(error).toMatchObject({ retryAfterSeconds: 60 });
  });

  it('does not hold another portal', async () => {
    const nowMs = 3_000_000_000;
    const { client, calls } = scriptedClient([timeLimit(3_000_300), 0]);
    const blocked = withMethodBlocks(
      client,
      createMemoryMethodBlocks({ now: () => nowMs }),
      captureLogger().logger,
      () => nowMs,
    );
    await failure(blocked.call(stored, 'imbot.chat.sendTyping', {}, Deadline.in(1_000)));
    const other = { ...stored, domain: 'b.bitrix24.com' } as PortalCredentials;
    await blocked.call(other, 'imbot.chat.sendTyping', {}, Deadline.in(1_000));
    expect(calls).toHaveLength(2);
  });

  it('passes every other failure through untouched', async () => {
    const { client } = scriptedClient([new Bitrix24Error('BOT_ID_ERROR', 400, 'Bot not found')]);
    const blocked = withMethodBlocks(client, createMemoryMethodBlocks(), captureLogger().logger);
    const error = await failure(blocked.call(stored, 'imbot.chat.sendTyping', {}, Deadline.in(1_000)));
    expect(error).toMatchObject({ code: 'BOT_ID_ERROR' });
    expect(error).not.toBeInstanceOf(ServiceError);
  });
});
