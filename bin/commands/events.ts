import { readdir, readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalizeDomain } from '../../lib/portal/index.js';
import { stringOption, type CommandContext, type CommandGroup, type CommandSpec } from '../command.js';
import { failed, notFound, usageError } from '../outcome.js';

export const EVENTS_PATH = '/bitrix/events';
const FIXTURE_EXTENSION = '.txt';
/** The built-in fixtures, named in the help; a test holds this list to bin/fixtures. */
export const BUILTIN_FIXTURES = [
  'message-webhook-bot',
  'command-webhook-bot',
  'join-chat-webhook-bot',
  'delete-webhook-bot',
  'install-oauth-app',
  'update-oauth-app',
];
const TIMEOUT_MS = 15_000;

// The bundled CLI (dist/cli.mjs) and the sources (bin/commands/events.ts) sit at different depths.
const BUILTIN_DIRS = [new URL('../fixtures/', import.meta.url), new URL('../bin/fixtures/', import.meta.url)].map(
  (url) => fileURLToPath(url),
);

/** A fixture: one decoded `key=value` pair a line, as the platform doc prints events; `#` starts a comment. */
export function parseFixture(text: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const at = line.indexOf('=');
    if (at <= 0) throw usageError(`fixture line ${index + 1} is not key=value: "${line.slice(0, 60)}"`);
    pairs.push([line.slice(0, at).trim(), line.slice(at + 1)]);
  });
  return pairs;
}

function override(pairs: Array<[string, string]>, key: string, value: string | undefined): void {
  if (value === undefined) return;
  const existing = pairs.find(([name]) => name === key);
  if (existing) existing[1] = value;
  else pairs.push([key, value]);
}

export async function builtinFixtures(): Promise<string[]> {
  for (const dir of BUILTIN_DIRS) {
    const names = await readdir(dir).catch(() => undefined);
    if (names)
      return names
        .filter((name) => name.endsWith(FIXTURE_EXTENSION))
        .map((name) => basename(name, FIXTURE_EXTENSION))
        .sort();
  }
  return [];
}

async function readFixture(cwd: string, argument: string): Promise<{ path: string; text: string }> {
  const candidates = [
    resolve(cwd, argument),
    ...BUILTIN_DIRS.flatMap((dir) => [resolve(dir, argument), resolve(dir, `${argument}${FIXTURE_EXTENSION}`)]),
  ];
  for (const path of candidates) {
    try {
      return { path, text: await readFile(path, 'utf8') };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EISDIR') throw error;
    }
  }
  const builtins = await builtinFixtures();
  throw notFound('FIXTURE_NOT_FOUND', `No fixture "${argument}" (built-in ones: ${builtins.join(', ') || 'none'}).`);
}

/**
 * What a genuine event from the portal would carry: the stored CLIENT_ID (webhook bot) or application token
 * (OAuth app) and member id. Used only when the operator asks with --stored-token, so the sandbox's
 * `events send ... --domain sandbox.bitrix24.test --stored-token` verifies without copying a secret by hand.
 */
async function storedAuth(
  ctx: CommandContext,
  domain: string,
): Promise<{ token?: string; memberId?: string; secret: string } | undefined> {
  const secrets = ctx.secrets();
  const normalized = normalizeDomain(domain);
  if (!normalized) return undefined;
  const portal = await ctx.progress(`Reading ${secrets.names.portal(normalized)}`, () =>
    secrets.credentials.portal(normalized),
  );
  if (!portal) return undefined;
  return {
    token: portal.applicationToken ?? portal.webhook?.clientId,
    memberId: portal.memberId,
    secret: secrets.names.portal(normalized),
  };
}

function eventsEndpoint(raw: string): URL {
  if (!URL.canParse(raw)) throw usageError(`--url: "${raw}" is not a URL`);
  const url = new URL(raw);
  if (!/^https?:$/.test(url.protocol)) throw usageError('--url must be http(s)');
  if (!url.pathname.endsWith(EVENTS_PATH)) url.pathname = `${url.pathname.replace(/\/+$/, '')}${EVENTS_PATH}`;
  return url;
}

// A stored token is a production credential: it may only travel encrypted, or stay on this machine.
const canCarrySecrets = (url: URL): boolean =>
  url.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);

/**
 * The auth[...] values to send: those given on the command line or, with --stored-token, the --domain portal's
 * stored ones; the notes say which token went out.
 */
async function eventAuth(
  ctx: CommandContext,
  url: URL,
): Promise<{ domain?: string; token?: string; memberId?: string; notes: string[] }> {
  const domain = stringOption(ctx.values, 'domain');
  let token = stringOption(ctx.values, 'token');
  let memberId = stringOption(ctx.values, 'member-id');
  const useStored = ctx.values['stored-token'] === true;
  const notes: string[] = [];
  if (useStored && domain === undefined) throw usageError('--stored-token needs --domain');
  if (useStored && token !== undefined) throw usageError('--stored-token and --token exclude each other');
  if (useStored && !canCarrySecrets(url)) {
    throw usageError(`--stored-token sends a stored secret: --url must be https (plain http only on loopback)`);
  }
  if (useStored && domain !== undefined) {
    ctx.secrets(); // a bad --source is still a usage error
    // A convenience only: an unreadable source must not stop a test event from going out.
    const stored = await storedAuth(ctx, domain).catch((error: unknown) => {
      notes.push(
        `Kept the fixture's auth[application_token]: the stored one could not be read (${(error as Error).message}).`,
      );
      return undefined;
    });
    if (stored?.token !== undefined) {
      token = stored.token;
      memberId ??= stored.memberId;
      notes.push(
        `Using the stored auth[application_token]${stored.memberId ? ' and auth[member_id]' : ''} of ${stored.secret}.`,
      );
    } else if (notes.length === 0) {
      notes.push(`No stored token for ${domain}: kept the fixture's auth[application_token].`);
    }
  }
  return { domain, token, memberId, notes };
}

/** Posts the event form-encoded, as a portal does; no answer at all is the CLI's NETWORK_ERROR. */
async function postEvent(
  ctx: CommandContext,
  url: URL,
  pairs: Array<[string, string]>,
  sent: { event: string | null; fixture: string },
): Promise<{ status: number; text: string }> {
  try {
    return await ctx.progress(`Posting ${sent.event ?? 'event'} to ${url.origin}`, async () => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(pairs).toString(),
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: 'manual',
      });
      return { status: response.status, text: await response.text() };
    });
  } catch (error) {
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${TIMEOUT_MS / 1000} s`
        : (((error as Error).cause as Error | undefined)?.message ?? (error as Error).message);
    throw failed('NETWORK_ERROR', `POST ${url} failed: ${reason}`, {
      url: url.toString(),
      event: sent.event,
      fixture: sent.fixture,
    });
  }
}

const send: CommandSpec = {
  name: 'send',
  summary: 'post a Bitrix24 bot event from a fixture to a running events endpoint',
  args: ['<fixture>'],
  description: [
    'Reads <fixture> (a file of decoded key=value lines, e.g. data[PARAMS][DIALOG_ID]=27; # comments) and posts it',
    'form-encoded, as a portal does, to <url>/bitrix/events. Prints the status and the body of the answer.',
    '--domain, --token and --member-id replace auth[domain], auth[application_token] and auth[member_id]: for a',
    "webhook bot the token is its CLIENT_ID, for an OAuth app bot the portal's application token.",
    "With --stored-token, the token and member id come from the --domain portal's stored secret (a note on",
    'stderr says so); the URL must then be https or loopback, so a stored secret never travels in the clear.',
    "Without it the fixture's token is sent.",
    'A bare name picks a built-in fixture (bin/fixtures/<name>.txt), one for every event the service handles:',
    `  ${BUILTIN_FIXTURES.join(', ')}.`,
    'Exit code 0 on a 2xx answer of {"ok": true} (what the service answers every accepted event), 1 otherwise.',
  ],
  options: {
    url: { type: 'string', value: '<url>', description: 'the service base URL or the full events URL (required)' },
    domain: { type: 'string', value: '<domain>', description: 'sets auth[domain]' },
    token: { type: 'string', value: '<token>', description: 'sets auth[application_token]' },
    'member-id': { type: 'string', value: '<id>', description: 'sets auth[member_id]' },
    'stored-token': {
      type: 'boolean',
      description: "send the --domain portal's stored token and member id (https or loopback URLs only)",
    },
  },
  usesSecrets: true,
  examples: [
    'bitrix24-typing events send message-webhook-bot --url http://localhost:3000 --domain sandbox.bitrix24.test --stored-token',
    'bitrix24-typing events send command-webhook-bot --url https://api.example.com --domain example.bitrix24.com --token "$CLIENT_ID"',
    'bitrix24-typing events send bin/fixtures/join-chat-webhook-bot.txt --url http://localhost:3000 --domain sandbox.bitrix24.test --stored-token',
  ],
  async run(ctx) {
    const rawUrl = stringOption(ctx.values, 'url');
    if (rawUrl === undefined) throw usageError('--url is required');
    const url = eventsEndpoint(rawUrl);
    const fixture = await readFixture(ctx.io.cwd, ctx.positionals[0] as string);
    const pairs = parseFixture(fixture.text);
    const auth = await eventAuth(ctx, url);
    override(pairs, 'auth[domain]', auth.domain);
    override(pairs, 'auth[application_token]', auth.token);
    override(pairs, 'auth[member_id]', auth.memberId);
    const event = pairs.find(([key]) => key === 'event')?.[1] ?? null;

    const { status, text } = await postEvent(ctx, url, pairs, { event, fixture: fixture.path });
    let body: unknown = text;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON: keep the text as it came
    }
    const fields = { url: url.toString(), event, fixture: fixture.path, status, body };
    const shown = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
    if (status < 200 || status > 299) {
      const problemCode = (body as { code?: unknown } | null)?.code;
      throw failed(
        typeof problemCode === 'string' ? problemCode : `HTTP_${status}`,
        `POST ${url} answered ${status}${shown ? `:\n${shown}` : ''}`,
        fields,
      );
    }
    // The service answers every accepted event {"ok": true}. Anything else with a 2xx is not the service: e.g.
    // serverless-offline reports a function that failed to load (Runtime.ImportModuleError) as a 200.
    if ((body as { ok?: unknown } | null)?.ok !== true) {
      throw failed(
        'UNEXPECTED_RESPONSE',
        `POST ${url} answered ${status}, but not with the service's {"ok": true}${shown ? `:\n${shown}` : ''}`,
        fields,
      );
    }
    return {
      json: fields,
      human: [`POST ${url} → ${ctx.out.paint('green', String(status))}`, ...(shown ? [shown] : [])],
      notes: auth.notes,
    };
  },
};

export const eventsGroup: CommandGroup = {
  name: 'events',
  summary: 'Bitrix24 bot events, for testing',
  commands: [send],
};
