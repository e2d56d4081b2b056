/**
 * The typed client's keepTyping through the real POST /typing handler to the loopback portal, with time compressed
 * 10 times (the helper's clock and waits, and the service's coalescing window): what the portal sees over a piece
 * of work is what a chat would show. The handler is warmed first, so a cold secret read is not counted as a gap.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTypingHandler, typingDependencies } from '../../functions/typing.js';
import { createTypingClient } from '../../lib/client/index.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { random, webhookBotOn } from '../../devtools/fixtures.js';
import { httpEvent, lambdaContext } from '../../devtools/lambda.js';
import { captureLogger } from '../support/logs.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../support/secrets.js';

// One real millisecond stands for SCALE simulated ones.
const SCALE = 10;
const V1_LAPSE_MS = 35_000;

let portal: FakePortal;
let prefix: string;
let key: string;

beforeAll(async () => {
  portal = await startPortal();
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
  const bot = webhookBotOn(portal, 39);
  const botToken = random(16);
  portal.addBotV2({ botId: 567, botToken });
  await putSecret(`${prefix}/portals/${portal.domain}`, {
    ...bot.secret,
    bots: { '567': { api: 'v2', botToken } },
  });
});
afterAll(async () => {
  await portal.close();
});
beforeEach(() => {
  portal.resetCalls();
});

/** The typed client, its requests served in process by the real handler (no HTTP server in between). */
function clientOfService() {
  const deps = typingDependencies(
    {
      CREDENTIALS_SOURCE: 'secrets-manager',
      SECRETS_PREFIX: prefix,
      // The service's 10 s window, compressed like everything else.
      TYPING_COALESCE_MS: String(10_000 / SCALE),
      BITRIX24_TIMEOUT_MS: '1000',
    },
    { logger: captureLogger().logger },
  );
  const handler = createTypingHandler(deps);
  const serve: typeof fetch = async (_url, init) => {
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const answer = await handler(
      httpEvent({ path: '/typing', body: String(init?.body), headers }),
      lambdaContext(8_000),
    );
    return new Response(answer.body as string, {
      status: answer.statusCode,
      headers: answer.headers as Record<string, string>,
    });
  };
  return createTypingClient({ url: 'https://typing.example.test', key, fetch: serve });
}

async function warmClientOfService() {
  const client = clientOfService();
  await client.sendTyping({ portal: portal.domain, dialogId: '1' });
  portal.resetCalls();
  return client;
}

const compressed = {
  now: () => performance.now() * SCALE,
  sleep: (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms / SCALE);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    }),
};
const work = (simulatedMs: number) => new Promise((resolve) => setTimeout(resolve, simulatedMs / SCALE));
/** When the portal accepted each typing call, in simulated ms from `startedAt`. */
const typingAt = (startedAt: number) => portal.typingCalls().map((call) => (call.at - startedAt) * SCALE);

describe('keepTyping through the service', () => {
  it('keeps a v1 bot typing through 70 s of work: no gap of 35 s, at most 4 portal calls, none after', async () => {
    // Prepare
    const client = await warmClientOfService();
    const request = { portal: portal.domain, dialogId: 'chat12', botId: 39 };

    // Act
    const startedAt = Date.now();
    const result = await client.keepTyping(request, () => work(70_000).then(() => 'done'), compressed);
    const settled = (Date.now() - startedAt) * SCALE;
    const callsAtSettle = portal.typingCalls().length;
    await work(40_000);

    // Assess
    const at = typingAt(startedAt);
    const gaps = [0, ...at, settled].slice(1).map((t, i) => t - [0, ...at][i]!);
    console.info(
      'v1 keepTyping: portal calls at (simulated ms)',
      at.map(Math.round),
      'settled at',
      Math.round(settled),
    );
    expect(result).toBe('done');
    expect(portal.typingCalls().every((call) => call.method === 'imbot.chat.sendTyping')).toBe(true);
    expect(at.length).toBeGreaterThanOrEqual(3);
    expect(at.length).toBeLessThanOrEqual(4);
    expect(Math.max(...gaps)).toBeLessThan(V1_LAPSE_MS);
    expect(portal.typingCalls()).toHaveLength(callsAtSettle);
    expect(at.every((t) => t <= settled)).toBe(true);
  });

  it('asks a v2 bot once for the whole duration, the work ending inside it', async () => {
    // Prepare
    const client = await warmClientOfService();
    const request = {
      portal: portal.domain,
      dialogId: '27',
      botId: 567,
      durationSeconds: 120,
      status: 'thinking' as const,
    };

    // Act
    await client.keepTyping(request, () => work(70_000), compressed);
    await work(40_000);

    // Assess
    expect(
      portal.typingCalls().map((call) => [call.method, call.params.duration, call.params.statusMessageCode]),
    ).toEqual([['imbot.v2.Chat.InputAction.notify', 120, 'IMBOT_AGENT_ACTION_THINKING']]);
  });
});
