import { randomBytes } from 'node:crypto';
import { CredentialsFormatError, parsePortalCredentials, type PortalCredentials } from '../../../lib/portal/index.js';
import { stringOption, type CommandContext, type CommandSpec } from '../../command.js';
import { failed, usageError, type CommandOutput } from '../../outcome.js';
import { positiveInteger, requireDomain } from '../../options.js';
import { modeOf } from '../../portal-calls.js';
import { TAKES_EFFECT } from '../../takes-effect.js';
import { botRecordOptions, botRecordsWith } from '../../bot-records.js';
import { oauthFrom, parseGivenPortal, readOauthJson } from './given.js';

/** What `portal add` was asked to store. */
interface AddRequest {
  domain: string;
  webhookUrl?: string;
  oauthFile?: string;
  givenClientId?: string;
  botId?: number;
  memberId?: string;
  applicationToken?: string;
}

/** What the operator's credentials come to: the secret's webhook or oauth block and what the OAuth file adds. */
interface GivenCredentials {
  candidate: Record<string, unknown>;
  clientIdGenerated: boolean;
  memberId?: string;
  applicationToken?: string;
}

function addRequest(ctx: CommandContext): AddRequest {
  const domain = requireDomain(ctx);
  const webhookUrl = stringOption(ctx.values, 'webhook');
  const oauthFile = stringOption(ctx.values, 'oauth-json');
  const givenClientId = stringOption(ctx.values, 'client-id');
  if ((webhookUrl === undefined) === (oauthFile === undefined))
    throw usageError('give exactly one of --webhook or --oauth-json');
  if (givenClientId !== undefined && webhookUrl === undefined)
    throw usageError('--client-id belongs to --webhook (OAuth data carries its own client_id)');
  const botId = positiveInteger(ctx, 'bot-id');
  const memberId = stringOption(ctx.values, 'member-id');
  const applicationToken = stringOption(ctx.values, 'application-token');
  return { domain, webhookUrl, oauthFile, givenClientId, botId, memberId, applicationToken };
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

/** The stored portal a replacement starts from; one already stored is refused without --force. */
async function replaceablePortal(
  ctx: CommandContext,
  domain: string,
  name: string,
): Promise<{ portal?: PortalCredentials } | undefined> {
  const existing = await ctx.progress(`Reading ${name}`, () => storedPortal(ctx, domain));
  if (existing !== undefined && ctx.values.force !== true) {
    throw failed(
      'PORTAL_EXISTS',
      `${domain} is already stored as ${name} in ${ctx.secrets().source}` +
        `${existing.portal ? ` (${modeOf(existing.portal)}${existing.portal.botId ? `, bot ${existing.portal.botId}` : ''})` : ''}. ` +
        'To change its webhook URL run "portal rotate-webhook"; to replace it, add --force.',
      { portal: domain, secret: name },
    );
  }
  return existing;
}

/** The webhook or OAuth block to store; a replaced webhook portal keeps what its registered bots rely on. */
async function givenCredentials(
  ctx: CommandContext,
  request: AddRequest,
  previous: PortalCredentials | undefined,
): Promise<GivenCredentials> {
  const { webhookUrl, givenClientId } = request;
  if (webhookUrl !== undefined) {
    // Bitrix24 appends CLIENT_ID to the bot's handler URL and sends it as the event token: make it unguessable.
    // A replaced webhook portal keeps its CLIENT_ID: the registered bot's events carry it.
    const clientId = givenClientId ?? previous?.webhook?.clientId ?? randomBytes(24).toString('hex');
    return {
      // So are the eventsToken its v2 bots were registered with, and the bots themselves.
      candidate: { webhook: { url: webhookUrl, clientId, eventsToken: previous?.webhook?.eventsToken } },
      clientIdGenerated: givenClientId === undefined && previous?.webhook?.clientId === undefined,
      memberId: request.memberId,
      applicationToken: request.applicationToken,
    };
  }
  const parsed = oauthFrom(await readOauthJson(ctx.io.cwd, request.oauthFile as string));
  return {
    candidate: { oauth: parsed.oauth },
    clientIdGenerated: false,
    memberId: request.memberId ?? parsed.memberId,
    applicationToken: request.applicationToken ?? parsed.applicationToken,
  };
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

/** What `portal add` reports; the notes say what was generated or kept, and when the change takes effect. */
function addedOutput(
  portal: PortalCredentials,
  outcome: {
    domain: string;
    name: string;
    source: string;
    replaced: boolean;
    clientIdGenerated: boolean;
    kept: string[];
  },
): CommandOutput {
  const { domain, name, source, replaced, clientIdGenerated } = outcome;
  const mode = modeOf(portal);
  const notes: string[] = [];
  if (clientIdGenerated) notes.push('Generated a new CLIENT_ID for this portal\'s bot; "bot register" will use it.');
  if (replaced && outcome.kept.length > 0) notes.push(`Kept from the stored portal: ${outcome.kept.join(', ')}.`);
  notes.push(replaced ? TAKES_EFFECT.portalChanged : TAKES_EFFECT.portalAdded);
  return {
    json: {
      portal: domain,
      secret: name,
      source,
      mode,
      botId: portal.botId ?? null,
      replaced,
      clientIdGenerated,
    },
    human: [
      `${replaced ? 'Replaced' : 'Added'} ${domain} (${mode}${portal.botId ? `, bot ${portal.botId}` : ''}) as ${name} in ${source}.`,
    ],
    notes,
  };
}

export const add: CommandSpec = {
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
    const request = addRequest(ctx);
    const { domain, botId } = request;
    const secrets = ctx.secrets();
    const name = secrets.names.portal(domain);
    const existing = await replaceablePortal(ctx, domain, name);
    const given = await givenCredentials(ctx, request, existing?.portal);
    const givenMode = request.webhookUrl !== undefined ? 'webhook' : 'oauth';
    const kept = keptFrom(existing?.portal, givenMode, {
      clientId: request.givenClientId,
      botId,
      memberId: given.memberId,
      applicationToken: given.applicationToken,
    });
    const portal = parseGivenPortal(
      {
        domain,
        memberId: given.memberId ?? kept.memberId,
        applicationToken: given.applicationToken ?? kept.applicationToken,
        botId: kept.botId ?? botId,
        bots: botRecordsWith(ctx, givenMode, botId, kept.bots),
        rateLimit: kept.rateLimit,
        ...given.candidate,
      },
      name,
    );
    await ctx.progress(`Writing ${name}`, () => secrets.credentials.savePortal(portal));
    return addedOutput(portal, {
      domain,
      name,
      source: secrets.source,
      replaced: existing !== undefined,
      clientIdGenerated: given.clientIdGenerated,
      kept: kept.described,
    });
  },
};
