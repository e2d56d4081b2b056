import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botEventsDependencies, createBotEventsHandler } from '../../functions/bot-events.js';
import { ServiceError } from '../../lib/errors/index.js';
import { toBotEvent, typingTargets } from '../../lib/events/bot-event.js';
import { FORM_LIMITS, parseFormBody } from '../../lib/events/form-body.js';
import { sanitizeEvent } from '../../lib/events/forwarding.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { encodeForm, messageEvent } from '../support/bot-events.js';
import { httpEvent, lambdaContext } from '../../devtools/lambda.js';
import { captureLogger } from '../support/logs.js';
import { recordScenario } from '../support/report.js';
import { uniquePrefix } from '../support/secrets.js';

/**
 * Property-based fuzzing of `POST /bitrix/events`: the route is open to the
 * internet, so arbitrary bodies, PHP-style key structures, encodings and base64 flags must each end in a clean
 * 4xx problem answer, never a 5xx or a throw, and never a call to any portal. The handler is the real one,
 * against moto, under a secrets prefix that holds nothing: no portal and no app credentials are known.
 */

const REFUSALS = [400, 401, 413, 415];
// A slow CI host runs fewer cases rather than timing out (five properties here: at most 20 s in all).
const HANDLER_TIME_LIMIT_MS = 4_000;
const MAX_BODY = 128 * 1024;

let portal: FakePortal;
let handlers: Array<ReturnType<typeof createBotEventsHandler>>;
/** Statuses answered across the properties, so the suite can show that each refusal path was reached. */
const seen = new Map<number, number>();

beforeAll(async () => {
  portal = await startPortal({ domain: 'fuzz.bitrix24.test' });
  const prefix = uniquePrefix();
  const deps = (env: Record<string, string>) =>
    botEventsDependencies(
      {
        CREDENTIALS_SOURCE: 'secrets-manager',
        TYPING_COALESCE_MS: '0',
        SECRETS_PREFIX: prefix,
        BITRIX24_TIMEOUT_MS: '1000',
        // Refusals here are about parsing; the floor that evens out their timing would only slow the runs.
        EVENTS_REFUSAL_FLOOR_MS: '0',
        ...env,
      },
      { logger: captureLogger().logger },
    );
  handlers = [
    createBotEventsHandler(deps({})),
    // Installs on, our OAuth server on loopback, every fuzzed domain allowed: still no app credentials stored.
    createBotEventsHandler(
      deps({
        INSTALLS_ENABLED: 'true',
        OAUTH_SERVER: portal.url,
        INSTALL_ALLOWED_DOMAINS: '*.test,*.com,*.bitrix24.com,a.b',
      }),
    ),
  ];
});
afterAll(async () => {
  await portal.close();
});

interface Delivery {
  body: string;
  base64: boolean;
  /** `undefined`: the header is absent. */
  contentType: string | undefined;
  installs: boolean;
  /** The URL's query: a v2 bot's `eventsToken`, present or not, right or not. */
  query?: Record<string, string>;
}

async function deliver({ body, base64, contentType, installs, query }: Delivery) {
  const headers: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType };
  const event = httpEvent({ path: '/bitrix/events', body, base64, headers, query });
  return (handlers[installs ? 1 : 0] as (typeof handlers)[number])(event, lambdaContext(5_000));
}

/** What every refusal must look like, from the portal's side and ours. */
async function expectCleanRefusal(delivery: Delivery): Promise<void> {
  const before = { calls: portal.calls.length, refreshes: portal.refreshCalls.length };
  const response = await deliver(delivery);
  seen.set(response.statusCode, (seen.get(response.statusCode) ?? 0) + 1);
  expect(REFUSALS).toContain(response.statusCode);
  expect(response.headers['content-type']).toBe('application/problem+json');
  const problem = JSON.parse(response.body as string) as Record<string, unknown>;
  expect(problem.status).toBe(response.statusCode);
  expect(typeof problem.code).toBe('string');
  expect({ calls: portal.calls.length, refreshes: portal.refreshCalls.length }).toEqual(before);
}

// ---- Arbitraries -------------------------------------------------------------------------------------------

const FORM = 'application/x-www-form-urlencoded';
const contentType = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      FORM,
      `${FORM}; charset=utf-8`,
      'Application/X-WWW-Form-Urlencoded',
      ` ${FORM} ;charset=latin1`,
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      undefined,
      '',
      'application/json',
      'text/plain',
      'multipart/form-data; boundary=x',
      `${FORM}x`,
      'x-www-form-urlencoded',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

const words = fc.constantFrom(
  'event',
  'auth',
  'data',
  'ts',
  'event_handler_id',
  'BOT',
  'COMMAND',
  'PARAMS',
  'USER',
  'AUTH',
  'DIALOG_ID',
  'MESSAGE_ID',
  'BOT_ID',
  'domain',
  'member_id',
  'application_token',
  'access_token',
  'refresh_token',
  'client_endpoint',
  'server_endpoint',
  'client_id',
  'bot',
  'chat',
  'dialogId',
  'id',
  'message',
  'command',
  'context',
  'entityType',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'length',
  '0',
  '1',
  '567',
  '4294967295',
  '-1',
  '1e3',
  '',
);
const unicode = fc.string({ unit: 'binary', maxLength: 12 });
const segment = fc.oneof(
  { weight: 6, arbitrary: words },
  { weight: 2, arbitrary: fc.nat({ max: 100_000 }).map(String) },
  { weight: 2, arbitrary: unicode },
);

const eventNames = fc.constantFrom(
  'ONIMBOTMESSAGEADD',
  'ONIMCOMMANDADD',
  'ONIMBOTJOINCHAT',
  'ONIMJOINCHAT',
  'ONIMBOTDELETE',
  'ONAPPINSTALL',
  'ONAPPUPDATE',
  'ONIMBOTV2MESSAGEADD',
  'ONIMBOTV2COMMANDADD',
  'ONIMBOTV2JOINCHAT',
  'ONIMBOTV2DELETE',
  'ONIMBOTV2REACTIONCHANGE',
  'onimbotv2messageadd',
  'onimbotmessageadd',
  'ONUNKNOWN',
  'A'.repeat(65),
  'ON IM',
  'ßtraße',
);
const domains = fc.oneof(
  fc.constantFrom(
    'fuzz.bitrix24.test',
    'unknown.bitrix24.com',
    'a.b',
    'A.B.',
    '../app',
    'x/../../typing-keys',
    '127.0.0.1',
    '',
    ' ',
    'ех.рф',
  ),
  fc.domain(),
);
const values = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 2, arbitrary: unicode },
  { weight: 2, arbitrary: eventNames },
  { weight: 2, arbitrary: domains },
  {
    weight: 2,
    arbitrary: fc.constantFrom('27', 'chat1157', '0', '-5', '99999999999999999999', 'chat', 'Y', '1771928985'),
  },
);

/** How one part (key or value) is put on the wire: each way a sender might, or might get wrong. */
type Encoding = 'uri' | 'raw' | 'plus' | 'brackets-encoded' | 'double' | 'odd-percent';
const encodings = fc.constantFrom<Encoding>('uri', 'raw', 'plus', 'brackets-encoded', 'double', 'odd-percent');
const ODD_PERCENT = [
  '%',
  '%G1',
  '%E0%A4',
  '%C0%AF',
  '%ED%A0%80',
  '%00',
  '%FF%FE',
  '%%',
  '%2',
  '%u0041',
  '%5b',
  '%5D%5B',
];

function encodePart(text: string, how: Encoding, oddIndex: number): string {
  switch (how) {
    case 'uri':
      return encodeURIComponent(text.replace(/[\uD800-\uDFFF]/g, '\uFFFD'));
    case 'raw':
      return text;
    case 'plus':
      return encodeURIComponent(text.replace(/[\uD800-\uDFFF]/g, '?')).replace(/%20/g, '+');
    case 'brackets-encoded':
      return text.replace(/\[/g, '%5B').replace(/\]/g, '%5D');
    case 'double':
      return encodeURIComponent(encodeURIComponent(text.replace(/[\uD800-\uDFFF]/g, '?')));
    case 'odd-percent':
      return `${text.slice(0, oddIndex % (text.length + 1))}${ODD_PERCENT[oddIndex % ODD_PERCENT.length] ?? '%'}${text.slice(oddIndex % (text.length + 1))}`;
  }
}

/** One `key[a][b]...=value` pair, with a PHP-style path of any depth (the limit is FORM_LIMITS.depth). */
const pair = fc
  .record({
    root: fc.oneof({ weight: 4, arbitrary: words }, { weight: 1, arbitrary: unicode }),
    path: fc.array(segment, { maxLength: FORM_LIMITS.depth + 4 }),
    // Brackets left open, closed twice, or dropped, as a careless or hostile client writes them.
    malformed: fc.constantFrom('', '', '', '', '[', ']', '[]', '][', '[[', '=', '&'),
    value: values,
    keyEncoding: encodings,
    valueEncoding: encodings,
    odd: fc.nat(),
    noValue: fc.boolean(),
  })
  .map((p) => {
    const key = `${p.root}${p.path.map((s) => `[${s}]`).join('')}${p.malformed}`;
    const encodedKey = encodePart(key, p.keyEncoding === 'uri' ? 'raw' : p.keyEncoding, p.odd);
    return p.noValue && p.odd % 4 === 0 ? encodedKey : `${encodedKey}=${encodePart(p.value, p.valueEncoding, p.odd)}`;
  });

/** A body that looks like an event: the fields verification needs, usually present, then fuzzed pairs. */
const eventLike = fc
  .record({
    event: fc.option(eventNames, { nil: undefined }),
    domain: fc.option(domains, { nil: undefined }),
    token: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
    member: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
    pairs: fc.array(pair, { maxLength: 40 }),
    separator: fc.constantFrom('&', '&', '&', '&&', ';', '&amp;'),
  })
  .map(({ event, domain, token, member, pairs, separator }) => {
    const head: string[] = [];
    if (event !== undefined) head.push(`event=${encodeURIComponent(event)}`);
    if (domain !== undefined) head.push(`auth[domain]=${encodeURIComponent(domain)}`);
    if (token !== undefined)
      head.push(`auth[application_token]=${encodeURIComponent(token.replace(/[\uD800-\uDFFF]/g, '?'))}`);
    if (member !== undefined)
      head.push(`auth[member_id]=${encodeURIComponent(member.replace(/[\uD800-\uDFFF]/g, '?'))}`);
    return [...head, ...pairs].join(separator);
  });

/** A documented message event for a portal nobody stored, with fields dropped, repeated or replaced. */
const mutatedEvent = fc
  .record({
    dialogId: fc.constantFrom('27', 'chat1157', '', 'chat', '0'),
    drop: fc.array(fc.nat(), { maxLength: 5 }),
    repeat: fc.array(fc.nat(), { maxLength: 5 }),
    replace: fc.array(fc.tuple(fc.nat(), values), { maxLength: 5 }),
    domain: domains,
  })
  .map(({ dialogId, drop, repeat, replace, domain }) => {
    const fields = messageEvent(
      {
        domain,
        memberId: 'bac1cd5c8940947a75e0d71b1a84e348',
        clientEndpoint: `${portal.url}/rest/`,
        applicationToken: 'f'.repeat(32),
      },
      { botId: 39, accessToken: 'a'.repeat(40) },
      { dialogId },
    );
    const out = fields.filter((_, i) => !drop.includes(i % fields.length));
    for (const i of repeat) out.push(fields[i % fields.length] as [string, string]);
    for (const [i, value] of replace) {
      const at = i % Math.max(1, out.length);
      if (out[at]) out[at] = [out[at][0], value.replace(/[\uD800-\uDFFF]/g, '?')];
    }
    return encodeForm(out);
  });

// The docs' v2 message (webhook shape, as PHP encodes it): the v2 parser and the eventsToken check get fuzzed too.
const V2_MESSAGE = [
  ...new URLSearchParams(
    readFileSync(join(process.cwd(), 'test', 'fixtures', 'events', 'raw', 'v2', 'v2-message-oauth-bot.txt'), 'latin1'),
  ),
];

/** The documented v2 message for a portal nobody stored, with fields dropped, repeated or replaced. */
const mutatedV2Event = fc
  .record({
    drop: fc.array(fc.nat(), { maxLength: 8 }),
    repeat: fc.array(fc.nat(), { maxLength: 5 }),
    replace: fc.array(fc.tuple(fc.nat(), values), { maxLength: 8 }),
    domain: domains,
  })
  .map(({ drop, repeat, replace, domain }) => {
    const fields = V2_MESSAGE.map(([key, value]): [string, string] => [key, key === 'auth[domain]' ? domain : value]);
    const out = fields.filter((_, i) => !drop.includes(i % fields.length));
    for (const i of repeat) out.push(fields[i % fields.length] as [string, string]);
    for (const [i, value] of replace) {
      const at = i % Math.max(1, out.length);
      if (out[at]) out[at] = [out[at][0], value.replace(/[\uD800-\uDFFF]/g, '?')];
    }
    return encodeForm(out);
  });

/** The URL's query: usually none, else an eventsToken of any kind, or stray keys. */
const queries = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.record({ eventsToken: fc.oneof(fc.string({ maxLength: 48 }), unicode) }) },
  { weight: 1, arbitrary: fc.dictionary(fc.oneof(words, unicode), fc.string({ maxLength: 16 }), { maxKeys: 4 }) },
);

/** Bodies at and past the key-count limit: wide (many keys), deep-wide (many bots) or repeated (one key). */
const manyKeys = fc
  .record({
    count: fc.oneof(
      fc.integer({ min: FORM_LIMITS.keys - 5, max: FORM_LIMITS.keys + 5 }),
      fc.integer({ min: 1, max: 6_000 }),
    ),
    shape: fc.constantFrom('wide', 'bots', 'repeated', 'nested-repeated'),
  })
  .map(({ count, shape }) => {
    const head = [
      'event=ONIMBOTMESSAGEADD',
      'auth[domain]=unknown.bitrix24.com',
      'auth[application_token]=x',
      'data[PARAMS][DIALOG_ID]=27',
    ];
    const pairs = Array.from({ length: count }, (_, i) =>
      shape === 'wide'
        ? `k${i}=${i}`
        : shape === 'bots'
          ? `data[BOT][${i + 1}][BOT_ID]=${i + 1}`
          : shape === 'repeated'
            ? `data=${i}`
            : `data[BOT][1][BOT_ID]=${i}`,
    );
    return [...head, ...pairs].join('&');
  });

/** Nesting from shallow to absurd, through brackets, encoded brackets, or both. */
const deepKeys = fc
  .record({ depth: fc.integer({ min: 0, max: 3_000 }), encoded: fc.boolean(), withEvent: fc.boolean() })
  .map(({ depth, encoded, withEvent }) => {
    const open = encoded ? '%5B' : '[';
    const close = encoded ? '%5D' : ']';
    const deep = `data${`${open}x${close}`.repeat(depth)}=1`;
    return withEvent ? `event=ONIMBOTMESSAGEADD&auth[domain]=unknown.bitrix24.com&${deep}` : deep;
  });

const anyBody = fc.oneof(
  { weight: 2, arbitrary: fc.string({ maxLength: 512 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 512 }) },
  { weight: 6, arbitrary: eventLike },
  { weight: 3, arbitrary: mutatedEvent },
  { weight: 3, arbitrary: mutatedV2Event },
);

// Gateways base64-encode form posts; emulators may not, and a hostile caller may lie about it either way.
const base64Flag = fc.boolean();

// ---- Properties --------------------------------------------------------------------------------------------

describe('POST /bitrix/events under fuzzing (no portal known)', () => {
  it('answers arbitrary bodies, key structures and encodings with a clean 4xx and no portal call', async () => {
    await fc.assert(
      fc.asyncProperty(
        anyBody,
        base64Flag,
        contentType,
        fc.boolean(),
        queries,
        async (body, base64, type, installs, query) => {
          await expectCleanRefusal({ body, base64, contentType: type, installs, query });
        },
      ),
      { numRuns: 400, interruptAfterTimeLimit: HANDLER_TIME_LIMIT_MS },
    );
  });

  it('answers key counts up to the limit and beyond with a clean 4xx and no portal call', async () => {
    await fc.assert(
      fc.asyncProperty(manyKeys, base64Flag, fc.boolean(), async (body, base64, installs) => {
        await expectCleanRefusal({ body, base64, contentType: FORM, installs });
      }),
      { numRuns: 60, interruptAfterTimeLimit: HANDLER_TIME_LIMIT_MS },
    );
  });

  it('answers any nesting depth with a clean 4xx and no portal call', async () => {
    await fc.assert(
      fc.asyncProperty(deepKeys, base64Flag, async (body, base64) => {
        await expectCleanRefusal({ body, base64, contentType: FORM, installs: false });
      }),
      { numRuns: 100, interruptAfterTimeLimit: HANDLER_TIME_LIMIT_MS },
    );
  });

  it('answers bodies around the 128 KiB limit, and bodies that lie about being base64, with a clean 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: MAX_BODY - 64, max: MAX_BODY + 64 }),
        fc.constantFrom('x', '%41', 'é', '€', '𝄞'),
        base64Flag,
        async (size, unit, base64) => {
          const head = 'event=ONIMBOTMESSAGEADD&auth[domain]=unknown.bitrix24.com&data[PARAMS][MESSAGE]=';
          const body = head + unit.repeat(Math.max(0, Math.floor((size - head.length) / Buffer.byteLength(unit))));
          await expectCleanRefusal({ body, base64, contentType: FORM, installs: false });
        },
      ),
      { numRuns: 40, interruptAfterTimeLimit: HANDLER_TIME_LIMIT_MS },
    );
  });

  it('answers a body flagged base64 that is not base64 with a clean 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 256 }), fc.string({ unit: 'binary', maxLength: 256 }), eventLike),
        fc.boolean(),
        async (text, installs) => {
          // httpEvent encodes for us when base64 is set; here the raw text itself is flagged as base64.
          const event = {
            ...httpEvent({ path: '/bitrix/events', body: text, headers: { 'content-type': FORM } }),
            isBase64Encoded: true,
          };
          const before = portal.calls.length + portal.refreshCalls.length;
          const response = await (handlers[installs ? 1 : 0] as (typeof handlers)[number])(event, lambdaContext(5_000));
          expect(REFUSALS).toContain(response.statusCode);
          expect(response.headers['content-type']).toBe('application/problem+json');
          expect(portal.calls.length + portal.refreshCalls.length).toBe(before);
        },
      ),
      { numRuns: 150, interruptAfterTimeLimit: HANDLER_TIME_LIMIT_MS },
    );
  });

  it('reached every refusal path: 400, 401, 413 and 415', () => {
    console.info('statuses answered under fuzzing', Object.fromEntries(seen));
    expect([...seen.keys()].sort()).toEqual(REFUSALS);
  });

  it('made no call at all to the loopback portal or its OAuth endpoint', () => {
    const deliveries = [...seen.values()].reduce((a, b) => a + b, 0);
    recordScenario({
      id: 'hostile/fuzz-bot-events',
      section: 'Hostile input',
      scenario: 'POST /bitrix/events under property-based fuzzing (fast-check), handler level',
      sent: 'arbitrary strings, PHP-style key structures (deep, huge, repeated, odd encodings, unicode), random base64 flags and content types; installs on and off',
      got: Object.entries(Object.fromEntries(seen))
        .map(([status, n]) => `${n}× ${status}`)
        .join(', '),
      figures: {
        deliveries,
        fiveHundreds: [...seen.keys()].filter((s) => s >= 500).length,
        portalCalls: portal.calls.length,
        oauthCalls: portal.refreshCalls.length,
      },
      command: 'npm test -- test/fuzz/bot-events.fuzz.test.ts',
      observations: deliveries,
    });
    expect(portal.calls).toEqual([]);
    expect(portal.refreshCalls).toEqual([]);
  });
});

/** Every key anywhere in a JSON value. */
function keysOf(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) => [key, ...keysOf(inner)]);
}
const SECRET_KEYS = /token|secret|password|^client_id$|^auth$/i;

describe('form parser and event shaping under fuzzing', () => {
  it('refuse arbitrary bodies only ever with EVENT_INVALID; what they accept yields at most 5 valid targets and forwards no secret-named key', () => {
    fc.assert(
      fc.property(fc.oneof(anyBody, deepKeys), (body) => {
        let form: Record<string, unknown>;
        try {
          form = parseFormBody(Buffer.from(body, 'utf8'));
        } catch (error) {
          expect(error).toBeInstanceOf(ServiceError);
          expect((error as ServiceError).code).toBe('EVENT_INVALID');
          return;
        }
        expect(Object.getPrototypeOf(form)).toBeNull();
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        try {
          const event = toBotEvent(form);
          const targets = typingTargets(event);
          expect(targets.length).toBeLessThanOrEqual(5);
          for (const target of targets) {
            expect(Number.isSafeInteger(target.botId) && target.botId > 0).toBe(true);
            expect(typeof target.dialogId).toBe('string');
          }
          const forwarded = JSON.parse(JSON.stringify(sanitizeEvent(event))) as unknown;
          expect(keysOf(forwarded).filter((key) => SECRET_KEYS.test(key))).toEqual([]);
        } catch (error) {
          expect(error).toBeInstanceOf(ServiceError);
          expect((error as ServiceError).code).toBe('EVENT_INVALID');
        }
      }),
      { numRuns: 500 },
    );
  });
});
