import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Bitrix24Error } from '../../lib/bitrix24/errors.js';
import {
  CredentialsFormatError,
  normalizeDomain,
  parsePortalCredentials,
  type PortalCredentials,
} from '../../lib/portal/index.js';
import { redactSecrets } from '../../lib/logging/index.js';
import { stringOption, type CommandContext, type CommandGroup, type CommandSpec } from '../command.js';
import { failed, notFound, usageError } from '../outcome.js';
import { callStoredPortal, modeOf } from '../portal-calls.js';
import { TAKES_EFFECT } from '../takes-effect.js';
import { botRecordOptions, botRecordsWith } from '../bot-records.js';

export function requireDomain(ctx: CommandContext, option = 'domain'): string {
  const raw = stringOption(ctx.values, option);
  if (raw === undefined) throw usageError(`--${option} is required`);
  const domain = normalizeDomain(raw);
  if (!domain) throw usageError(`--${option}: "${raw}" is not a host name such as example.bitrix24.com`);
  return domain;
}

export function positiveInteger(ctx: CommandContext, option: string): number | undefined {
  const raw = stringOption(ctx.values, option);
  if (raw === undefined) return undefined;
  if (!/^[1-9]\d{0,15}$/.test(raw)) throw usageError(`--${option} must be a positive integer, got "${raw}"`);
  return Number(raw);
}

export async function requirePortal(ctx: CommandContext, domain: string): Promise<PortalCredentials> {
  const secrets = ctx.secrets();
  const portal = await ctx.progress(`Reading ${secrets.names.portal(domain)}`, () =>
    secrets.credentials.portal(domain),
  );
  if (!portal) {
    throw notFound(
      'PORTAL_UNKNOWN',
      `No portal ${domain}: ${secrets.names.portal(domain)} does not exist in ${secrets.source}.`,
      { portal: domain },
    );
  }
  return portal;
}

/**
 * OAuth data as an operator has it at hand: our secret's `oauth` block (camelCase), or Bitrix24's own token
 * answer (snake_case) plus `client_id`/`client_secret` of the application.
 */
function oauthFrom(json: Record<string, unknown>): {
  oauth: Record<string, unknown>;
  memberId?: string;
  applicationToken?: string;
} {
  const source = json.oauth && typeof json.oauth === 'object' ? (json.oauth as Record<string, unknown>) : json;
  const pick = (...keys: string[]) => keys.map((key) => source[key] ?? json[key]).find((value) => value !== undefined);
  const expiresIn = Number(pick('expires_in'));
  const expiresAt =
    pick('expiresAt', 'expires') ??
    (Number.isFinite(expiresIn) ? Math.floor(Date.now() / 1000) + expiresIn : undefined);
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  return {
    oauth: {
      clientId: pick('clientId', 'client_id'),
      clientSecret: pick('clientSecret', 'client_secret'),
      accessToken: pick('accessToken', 'access_token'),
      refreshToken: pick('refreshToken', 'refresh_token'),
      expiresAt: typeof expiresAt === 'string' && /^\d+$/.test(expiresAt) ? Number(expiresAt) : expiresAt,
      clientEndpoint: pick('clientEndpoint', 'client_endpoint'),
      serverEndpoint: pick('serverEndpoint', 'server_endpoint'),
    },
    memberId: text(pick('memberId', 'member_id')),
    applicationToken: text(pick('applicationToken', 'application_token')),
  };
}

/** The stored portal, if any; `portal` is left out when the stored secret no longer parses. */
async function storedPortal(ctx: CommandContext, domain: string): Promise<{ portal?: PortalCredentials } | undefined> {
  const secrets = ctx.secrets();
  const name = secrets.names.portal(domain);
  const raw = await secrets.store.read(name);
  if (raw === undefined) return undefined;
  try {
    return { portal: parsePortalCredentials(raw, name, { allowLoopback: true }) };
  } catch (error) {
    if (error instanceof CredentialsFormatError) return {};
    throw error;
  }
}

/**
 * What a replacement keeps of the stored portal unless the operator gives it: the portal's member id and rate
 * limit always; in the same mode also what identifies its bot (the events' CLIENT_ID or application token, the
 * default bot and the per-bot records), without which the registered bot's events would fail verification.
 */
function keptFrom(
  previous: PortalCredentials | undefined,
  mode: 'webhook' | 'oauth',
  given: { clientId?: string; botId?: number; memberId?: string; applicationToken?: string },
): Pick<PortalCredentials, 'memberId' | 'rateLimit' | 'botId' | 'bots' | 'applicationToken'> & { described: string[] } {
  if (previous === undefined) return { ...given, described: [] as string[] };
  const same = modeOf(previous) === mode;
  const kept = {
    memberId: given.memberId ?? previous.memberId,
    rateLimit: previous.rateLimit,
    botId: given.botId ?? (same ? previous.botId : undefined),
    bots: same ? previous.bots : undefined,
    applicationToken: given.applicationToken ?? (same ? previous.applicationToken : undefined),
  };
  const described = [
    same && mode === 'webhook' && given.clientId === undefined && previous.webhook?.clientId ? 'CLIENT_ID' : '',
    given.botId === undefined && kept.botId !== undefined ? `bot ${kept.botId}` : '',
    given.memberId === undefined && kept.memberId !== undefined ? 'member id' : '',
    given.applicationToken === undefined && kept.applicationToken !== undefined ? 'application token' : '',
  ].filter(Boolean);
  return { ...kept, described };
}

const add: CommandSpec = {
  name: 'add',
  summary: "store a portal's credentials (inbound webhook or OAuth app)",
  description: [
    'Writes <prefix>/portals/<domain> to the credentials source. A portal already stored is refused: its bot is',
    "registered with its CLIENT_ID, and replacing that breaks the bot's events. To change only the webhook URL",
    '(a new webhook code), use "portal rotate-webhook". --force replaces it, keeping its member id and, in the same',
    'mode, what identifies its bot (CLIENT_ID or application token, botId, bots) unless given here.',
    'Webhook mode: the inbound webhook URL (https://<portal>/rest/<user>/<code>/, scope imbot) and the CLIENT_ID',
    '  the bot is (or will be) registered with. Without --client-id a long random one is generated for a new',
    '  portal: right for a bot you are about to register with "bot register".',
    "OAuth mode: a JSON file with the application's client_id/client_secret and the portal's token set, either",
    '  in our shape (clientId, clientSecret, accessToken, refreshToken, expiresAt, clientEndpoint, serverEndpoint)',
    "  or as Bitrix24's OAuth answer (access_token, refresh_token, expires|expires_in, client_endpoint,",
    '  server_endpoint, member_id) plus client_id and client_secret.',
    'A bot registered through the chat-bot API v2 (imbot.v2) is called through v2: --bot-id with --bot-api v2 records',
    `  it, with its botToken (from $BITRIX24_BOT_TOKEN) on a webhook portal. Bots without a record are v1.`,
    'Secrets are never printed.',
  ],
  options: {
    domain: { type: 'string', value: '<domain>', description: 'the portal, e.g. example.bitrix24.com (required)' },
    webhook: { type: 'string', value: '<url>', description: 'inbound webhook URL (webhook mode)' },
    'client-id': { type: 'string', value: '<id>', description: 'CLIENT_ID of the webhook bot (default: generated)' },
    'oauth-json': { type: 'string', value: '<file>', description: 'OAuth app data as JSON (OAuth mode)' },
    'bot-id': { type: 'string', value: '<n>', description: 'the bot to use when a caller names none' },
    ...botRecordOptions,
    'member-id': { type: 'string', value: '<id>', description: "the portal's member_id (events must match it)" },
    'application-token': {
      type: 'string',
      value: '<token>',
      description: 'auth[application_token] of OAuth app events',
    },
    force: { type: 'boolean', description: 'replace a stored portal (its bot identity is kept unless given)' },
  },
  usesSecrets: true,
  examples: [
    'bitrix24-typing portal add --domain example.bitrix24.com --webhook https://example.bitrix24.com/rest/1/abc123/',
    'bitrix24-typing portal add --domain example.bitrix24.com --oauth-json install.json --bot-id 39 --source secrets-manager',
    'BITRIX24_BOT_TOKEN=… bitrix24-typing portal add --domain example.bitrix24.com --webhook https://example.bitrix24.com/rest/1/abc123/ --bot-id 567 --bot-api v2',
  ],
  async run(ctx) {
    const domain = requireDomain(ctx);
    const webhookUrl = stringOption(ctx.values, 'webhook');
    const oauthFile = stringOption(ctx.values, 'oauth-json');
    const givenClientId = stringOption(ctx.values, 'client-id');
    if ((webhookUrl === undefined) === (oauthFile === undefined))
      throw usageError('give exactly one of --webhook or --oauth-json');
    if (givenClientId !== undefined && webhookUrl === undefined)
      throw usageError('--client-id belongs to --webhook (OAuth data carries its own client_id)');
    const botId = positiveInteger(ctx, 'bot-id');
    let memberId = stringOption(ctx.values, 'member-id');
    let applicationToken = stringOption(ctx.values, 'application-token');

    const secrets = ctx.secrets();
    const name = secrets.names.portal(domain);
    const existing = await ctx.progress(`Reading ${name}`, () => storedPortal(ctx, domain));
    if (existing !== undefined && ctx.values.force !== true) {
      throw failed(
        'PORTAL_EXISTS',
        `${domain} is already stored as ${name} in ${secrets.source}` +
          `${existing.portal ? ` (${modeOf(existing.portal)}${existing.portal.botId ? `, bot ${existing.portal.botId}` : ''})` : ''}. ` +
          'To change its webhook URL run "portal rotate-webhook"; to replace it, add --force.',
        { portal: domain, secret: name },
      );
    }
    const previous = existing?.portal;

    let candidate: Record<string, unknown>;
    let clientIdGenerated = false;
    if (webhookUrl !== undefined) {
      // Bitrix24 appends CLIENT_ID to the bot's handler URL and sends it as the event token: make it unguessable.
      // A replaced webhook portal keeps its CLIENT_ID: the registered bot's events carry it.
      const clientId = givenClientId ?? previous?.webhook?.clientId ?? randomBytes(24).toString('hex');
      clientIdGenerated = givenClientId === undefined && previous?.webhook?.clientId === undefined;
      // So are the eventsToken its v2 bots were registered with, and the bots themselves.
      candidate = { webhook: { url: webhookUrl, clientId, eventsToken: previous?.webhook?.eventsToken } };
    } else {
      const path = resolve(ctx.io.cwd, oauthFile as string);
      let json: unknown;
      try {
        json = JSON.parse(await readFile(path, 'utf8'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT')
          throw notFound('FILE_NOT_FOUND', `--oauth-json: ${path} does not exist`);
        throw usageError(`--oauth-json: ${path} is not a JSON file (${(error as Error).message})`);
      }
      if (json === null || typeof json !== 'object' || Array.isArray(json))
        throw usageError(`--oauth-json: ${path} must hold a JSON object`);
      const parsed = oauthFrom(json as Record<string, unknown>);
      candidate = { oauth: parsed.oauth };
      memberId ??= parsed.memberId;
      applicationToken ??= parsed.applicationToken;
    }
    const kept = keptFrom(previous, webhookUrl !== undefined ? 'webhook' : 'oauth', {
      clientId: givenClientId,
      botId,
      memberId,
      applicationToken,
    });
    memberId ??= kept.memberId;
    applicationToken ??= kept.applicationToken;
    let portal: PortalCredentials;
    try {
      portal = parsePortalCredentials(
        JSON.stringify({
          domain,
          memberId,
          applicationToken,
          botId: kept.botId ?? botId,
          bots: botRecordsWith(ctx, webhookUrl !== undefined ? 'webhook' : 'oauth', botId, kept.bots),
          rateLimit: kept.rateLimit,
          ...candidate,
        }),
        name,
        // The sandbox and the tests store loopback portals; a deployed function still refuses them.
        { allowLoopback: true },
      );
    } catch (error) {
      if (error instanceof CredentialsFormatError) throw usageError(error.message.replace(`secret ${name}: `, ''));
      throw error;
    }

    await ctx.progress(`Writing ${name}`, () => secrets.credentials.savePortal(portal));
    const replaced = existing !== undefined;
    const mode = modeOf(portal);
    const notes: string[] = [];
    if (clientIdGenerated) notes.push('Generated a new CLIENT_ID for this portal\'s bot; "bot register" will use it.');
    if (replaced && kept.described.length > 0) notes.push(`Kept from the stored portal: ${kept.described.join(', ')}.`);
    notes.push(replaced ? TAKES_EFFECT.portalChanged : TAKES_EFFECT.portalAdded);
    return {
      json: {
        portal: domain,
        secret: name,
        source: secrets.source,
        mode,
        botId: portal.botId ?? null,
        replaced,
        clientIdGenerated,
      },
      human: [
        `${replaced ? 'Replaced' : 'Added'} ${domain} (${mode}${portal.botId ? `, bot ${portal.botId}` : ''}) as ${name} in ${secrets.source}.`,
      ],
      notes,
    };
  },
};

const rotateWebhook: CommandSpec = {
  name: 'rotate-webhook',
  summary: 'give a webhook portal a new inbound webhook URL (new code), keeping its bot',
  description: [
    'Replaces only the webhook URL of <prefix>/portals/<domain>; the CLIENT_ID the bot is registered with, the',
    'default bot and the member id stay, so the bot keeps working. For a leaked code, or a webhook whose user left:',
    '  1. create a new inbound webhook (scope imbot) on the portal;',
    '  2. portal rotate-webhook --domain <domain> --webhook <new url>, then portal check --domain <domain>;',
    '  3. once running containers have dropped the old URL (see the note), delete the old webhook on the portal.',
  ],
  options: {
    domain: { type: 'string', value: '<domain>', description: 'the portal (required)' },
    webhook: { type: 'string', value: '<url>', description: 'the new inbound webhook URL (required)' },
  },
  usesSecrets: true,
  examples: [
    'bitrix24-typing portal rotate-webhook --stage prod --domain example.bitrix24.com --webhook https://example.bitrix24.com/rest/1/newcode/',
  ],
  async run(ctx) {
    const domain = requireDomain(ctx);
    const url = stringOption(ctx.values, 'webhook');
    if (url === undefined) throw usageError('--webhook is required');
    const portal = await requirePortal(ctx, domain);
    const secrets = ctx.secrets();
    const name = secrets.names.portal(domain);
    if (!portal.webhook) {
      throw failed('NOT_A_WEBHOOK_PORTAL', `${domain} is stored as an OAuth application: it has no webhook URL.`, {
        portal: domain,
      });
    }
    let rotated: PortalCredentials;
    try {
      rotated = parsePortalCredentials(JSON.stringify({ ...portal, webhook: { ...portal.webhook, url } }), name, {
        allowLoopback: true,
      });
    } catch (error) {
      if (error instanceof CredentialsFormatError) throw usageError(error.message.replace(`secret ${name}: `, ''));
      throw error;
    }
    await ctx.progress(`Writing ${name}`, () => secrets.credentials.savePortal(rotated));
    const bot = portal.botId ? `bot ${portal.botId} and ` : '';
    return {
      json: { portal: domain, secret: name, source: secrets.source, botId: portal.botId ?? null },
      human: [`Rotated the webhook of ${domain} in ${secrets.source}, keeping ${bot}its CLIENT_ID.`],
      notes: [TAKES_EFFECT.portalChanged, 'Delete the old webhook on the portal after that.'],
    };
  },
};

const list: CommandSpec = {
  name: 'list',
  summary: 'list the portals that have credentials',
  description: ['Prints the domain of every <prefix>/portals/<domain> secret, one a line. Reads no secret values.'],
  options: {},
  usesSecrets: true,
  examples: ['bitrix24-typing portal list --source secrets-manager --stage prod'],
  async run(ctx) {
    const secrets = ctx.secrets();
    const portals = await ctx.progress('Listing portals', () => secrets.listPortals());
    return {
      json: { prefix: secrets.prefix, source: secrets.source, portals },
      human: portals,
      notes: portals.length === 0 ? [`No portals under ${secrets.prefix}/portals/ in ${secrets.source}.`] : [],
    };
  },
};

const check: CommandSpec = {
  name: 'check',
  summary: "prove a portal's stored credentials work (one harmless REST call)",
  description: [
    'Calls app.info (OAuth) or profile (inbound webhook) with the stored credentials and prints OK or the',
    "portal's error code. An expired OAuth access token is refreshed and the new pair stored, as the service does.",
  ],
  options: { domain: { type: 'string', value: '<domain>', description: 'the portal (required)' } },
  usesSecrets: true,
  examples: ['bitrix24-typing portal check --domain example.bitrix24.com'],
  async run(ctx) {
    const domain = requireDomain(ctx);
    const portal = await requirePortal(ctx, domain);
    const mode = modeOf(portal);
    const method = portal.oauth ? 'app.info' : 'profile';
    const fields = { portal: domain, mode, method };
    try {
      const out = await ctx.progress(`Calling ${method} on ${domain}`, () => callStoredPortal(ctx, portal, method, {}));
      return {
        json: { ...fields, status: out.status, refreshed: out.refreshed },
        human: [`${ctx.out.paint('green', 'OK')} ${domain}: ${method} answered ${out.status} (${mode})`],
        notes: out.refreshed ? ['The access token had expired; it was refreshed and the new pair stored.'] : [],
      };
    } catch (error) {
      if (!(error instanceof Bitrix24Error)) throw error;
      const description = error.description ? ` (${redactSecrets(error.description)})` : '';
      throw failed(error.code, `${domain}: ${method} failed with ${error.code}${description}`, fields, {
        status: error.status,
        description: redactSecrets(error.description),
      });
    }
  },
};

export const portalGroup: CommandGroup = {
  name: 'portal',
  summary: 'portal credentials',
  commands: [add, rotateWebhook, list, check],
};
