import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botEventsDependencies, createBotEventsHandler } from '../../functions/bot-events.js';
import { loadConfig } from '../../lib/config/index.js';
import { createLogger } from '../../lib/logging/index.js';
import { Credentials } from '../../lib/portal/index.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { webhookBotOn } from '../../devtools/fixtures.js';
import { httpEvent, lambdaContext } from '../../devtools/lambda.js';
import { MemoryStore } from '../support/memory-store.js';
import { countBy, recordScenario } from '../support/report.js';
import { startScriptedServer, type ScriptedServer } from '../support/scripted-server.js';

/**
 * Hostile events aimed at the logs and at the error paths: every field a sender controls made long, padded,
 * nested or odd, sent to a handler whose portal is known (so some events verify), to one whose secret store
 * is down (so 503s log their replay block), and to one proving installs at an OAuth server that answers
 * HTML. No answer may be a 500, and no log line may exceed 16 KiB, whatever the body held.
 */
const FILE = 'test/fuzz/hostile-events.fuzz.test.ts';
const MAX_LINE_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 128 * 1024;
const TIME_LIMIT_MS = 8_000;

let portal: FakePortal;
let oauthServer: ScriptedServer;
let bot: ReturnType<typeof webhookBotOn>;
const lines: string[] = [];
const statuses: number[] = [];
let longest = 0;
const targets: Array<{ name: string; handler: ReturnType<typeof createBotEventsHandler> }> = [];

function handlerWith(store: MemoryStore, env: Record<string, string>) {
  const config = loadConfig({ SECRETS_PREFIX: 'hostile/test', EVENTS_REFUSAL_FLOOR_MS: '0', ...env });
  const logger = createLogger({
    sink: (line) => {
      longest = Math.max(longest, Buffer.byteLength(line));
      if (Buffer.byteLength(line) > MAX_LINE_BYTES) lines.push(line.slice(0, 300));
    },
  });
  const credentials = Credentials.fromConfig(config, logger, store);
  return createBotEventsHandler(botEventsDependencies({}, { config, logger, credentials }));
}

beforeAll(async () => {
  portal = await startPortal({ domain: 'hostile.bitrix24.test' });
  oauthServer = await startScriptedServer({ status: 200, body: '<html>Service temporarily unavailable</html>' });
  bot = webhookBotOn(portal, 39);
  const known = new MemoryStore();
  known.values.set(`hostile/test/portals/${portal.domain}`, JSON.stringify(bot.secret));
  known.values.set('hostile/test/app', JSON.stringify({ clientId: 'app.hostile', clientSecret: 'x'.repeat(32) }));
  const down = new MemoryStore();
  down.failing = true;
  targets.push(
    { name: 'portal known', handler: handlerWith(known, {}) },
    { name: 'secret store down', handler: handlerWith(down, {}) },
    {
      name: 'installs proven at an OAuth server answering HTML',
      handler: handlerWith(known, {
        INSTALLS_ENABLED: 'true',
        INSTALL_ALLOWED_DOMAINS: '*.test,*.com',
        OAUTH_SERVER: oauthServer.url,
      }),
    },
  );
});
afterAll(async () => {
  await Promise.all([portal?.close(), oauthServer?.close()]);
});

/** Text a sender might write into one field: ordinary, huge, padded, control characters, PHP-key syntax. */
const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('hostile.bitrix24.test', ' HOSTILE.bitrix24.test. ', '../app', 'chat12', '27', '%00', '\u202e'),
  fc
    .tuple(
      fc.constantFrom(' ', 'a', '9', '\\', '"', '\u0000', 'я', '\u{1F600}'),
      fc.integer({ min: 1_000, max: 30_000 }),
    )
    .map(([ch, n]) => ch.repeat(n)),
  fc
    .tuple(fc.integer({ min: 0, max: 20_000 }), fc.constant('hostile.bitrix24.test'))
    .map(([n, d]) => `${' '.repeat(n)}${d}`),
);

const FIELDS = [
  'event',
  'ts',
  'auth[domain]',
  'auth[member_id]',
  'auth[application_token]',
  'auth[refresh_token]',
  'data[PARAMS][DIALOG_ID]',
  'data[PARAMS][MESSAGE_ID]',
  'data[BOT][39][BOT_ID]',
  'data[COMMAND][12][BOT_ID]',
  'data[BOT_ID]',
  'data[PARAMS][DIALOG_ID][nested]',
];

const hostileEvent = fc
  .record({
    name: fc.constantFrom(
      'ONIMBOTMESSAGEADD',
      'ONIMCOMMANDADD',
      'ONIMBOTJOINCHAT',
      'ONAPPINSTALL',
      'ONAPPUPDATE',
      'ONIMBOTDELETE',
    ),
    genuineToken: fc.boolean(),
    overrides: fc.array(fc.tuple(fc.constantFrom(...FIELDS), hostileText), { maxLength: 6 }),
  })
  .map(({ name, genuineToken, overrides }) => {
    const fields = new Map<string, string>([
      ['event', name],
      ['auth[domain]', 'hostile.bitrix24.test'],
      ['auth[member_id]', portal.memberId],
      ['auth[application_token]', genuineToken ? bot.clientId : 'wrong-token-0000000000000000'],
      ['auth[refresh_token]', 'refresh-token-0000000000000000'],
      ['data[BOT][39][BOT_ID]', '39'],
      ['data[PARAMS][DIALOG_ID]', '27'],
      ['data[PARAMS][MESSAGE_ID]', '1'],
    ]);
    for (const [key, value] of overrides) fields.set(key, value);
    return new URLSearchParams([...fields]).toString();
  })
  .filter((body) => Buffer.byteLength(body) <= MAX_BODY_BYTES);

describe('hostile events against the logs and the error paths', () => {
  it('hostile-events-logs: never a 500, never a log line over 16 KiB', async () => {
    // Act
    await fc.assert(
      fc.asyncProperty(hostileEvent, fc.nat({ max: 2 }), async (body, which) => {
        const event = httpEvent({
          path: '/bitrix/events',
          body,
          base64: true,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        const answer = await targets[which]!.handler(event, lambdaContext(10_000));
        statuses.push(answer.statusCode);
        expect(answer.statusCode).not.toBe(500);
      }),
      { numRuns: 600, interruptAfterTimeLimit: TIME_LIMIT_MS },
    );

    // Assess
    const seen = countBy(statuses);
    recordScenario({
      id: 'hostile/fuzz-event-logs',
      section: 'Hostile input',
      scenario:
        'Fuzzed events with every sender-written field huge (up to 30,000 characters), padded, nested or odd, against a known portal, a failing secret store and an OAuth server answering HTML',
      sent: `${statuses.length} events (fast-check), bodies up to 128 KiB, three handlers`,
      got: `statuses ${JSON.stringify(seen)}; longest log line ${longest} bytes`,
      figures: { events: statuses.length, longestLogLineBytes: longest, linesOver16KiB: lines.length },
      command: `node scripts/test.mjs ${FILE}`,
      observations: statuses.length,
    });
    expect(lines).toEqual([]);
    expect(longest).toBeLessThanOrEqual(MAX_LINE_BYTES);
    // Each path was reached: verified events, refusals, and the store outage's 503.
    expect(Object.keys(seen)).toEqual(expect.arrayContaining(['200', '401', '503']));
  }, 60_000);
});
