import { createTypingClient, isTypingError, type TypingErrorCode } from '../../lib/client/index.js';
import { ServiceError } from '../../lib/errors/index.js';
import { validateDialogId } from '../../lib/imbot/send-typing.js';
import {
  TYPING_STATUSES,
  validateDurationSeconds,
  validateTypingStatus,
  type TypingStatus,
} from '../../lib/imbot/input-action.js';
import { stringOption, type CommandContext, type CommandGroup, type CommandSpec } from '../command.js';
import { CliError, EXIT, notFound, usageError } from '../outcome.js';
import { positiveInteger, requireDomain } from '../options.js';
import { readTypingKeys } from './keys.js';

export const DEFAULT_URL = 'http://localhost:3000';
const DEADLINE_MS = 15_000;
// The service's 404s: the portal or the bot does not exist, which scripts want to tell from other failures.
const NOT_FOUND_CODES: ReadonlySet<TypingErrorCode> = new Set(['PORTAL_UNKNOWN', 'BOT_ID_ERROR']);
// The service is idempotent by webhook-id; these two answers are about the id, not the portal, so say what
// they mean for the person who ran the command.
const HINTS: Partial<Record<TypingErrorCode, string>> = {
  REQUEST_IN_PROGRESS:
    'The first attempt of this request was still running when the retries ran out; it may still show typing. Running the command again sends a new request.',
  WEBHOOK_ID_REUSED:
    "The service has seen this request's webhook-id with another body; running the command again uses a new id.",
  BOT_NOT_IN_CHAT: 'A v2 bot can show its indicator only in chats it is a member of: add it to the chat first.',
  PORTAL_MISCONFIGURED:
    'The portal secret lacks what this bot needs (a v2 bot on a webhook portal needs its botToken): store it with "portal add ... --bot-id <n> --bot-api v2" and BITRIX24_BOT_TOKEN set.',
};

async function signingKey(ctx: CommandContext): Promise<string> {
  const given = stringOption(ctx.values, 'key') ?? (ctx.io.env.TYPING_KEY?.trim() || undefined);
  if (given !== undefined) return given;
  const secrets = ctx.secrets();
  const name = secrets.names.typingKeys;
  const keys = await ctx.progress(`Reading ${name}`, () => readTypingKeys(secrets));
  if (keys === undefined) {
    throw notFound(
      'KEYS_NOT_FOUND',
      `No signing key: pass --key, set TYPING_KEY, or create ${name} in ${secrets.source} with "keys rotate".`,
    );
  }
  return keys[0] as string;
}

const send: CommandSpec = {
  name: 'send',
  summary: 'sign and send POST /typing, print the outcome',
  description: [
    'Sends one signed POST /typing through the typed client (retrying 429/5xx within 15 s) and prints the',
    "outcome or the service's problem code. Success means the portal accepted the call.",
    'The key is --key, else $TYPING_KEY, else the first key of <prefix>/typing-keys in the credentials source.',
    'Prefer $TYPING_KEY to --key: command lines end up in shell history and process lists.',
  ],
  options: {
    portal: { type: 'string', value: '<domain>', description: 'the portal (required)' },
    dialog: { type: 'string', value: '<id>', description: 'a user id (27) or a group chat (chat12) (required)' },
    bot: { type: 'string', value: '<n>', description: "the bot (default: the portal's stored bot)" },
    duration: {
      type: 'string',
      value: '<seconds>',
      description: 'how long a v2 bot shows it, 1–600 (a v1 bot: about 35 s whatever is asked)',
    },
    status: {
      type: 'string',
      value: '<status>',
      description: `typing (default) or a v2 agent status: ${TYPING_STATUSES.slice(1).join(', ')}`,
    },
    url: { type: 'string', value: '<url>', description: `the service's base URL (default: ${DEFAULT_URL})` },
    key: {
      type: 'string',
      value: '<whsec_…>',
      description: 'the signing key (default: $TYPING_KEY, else the stored one)',
    },
  },
  usesSecrets: true,
  examples: [
    'bitrix24-typing typing send --portal example.bitrix24.com --dialog chat12',
    'TYPING_KEY=whsec_… bitrix24-typing typing send --url https://api.example.com --portal example.bitrix24.com --dialog 27 --bot 39',
    'bitrix24-typing typing send --portal sandbox.bitrix24.test --dialog chat1 --bot 567 --duration 60 --status thinking',
  ],
  async run(ctx) {
    const portal = requireDomain(ctx, 'portal');
    const rawDialog = stringOption(ctx.values, 'dialog');
    if (rawDialog === undefined) throw usageError('--dialog is required');
    let dialogId: string;
    try {
      dialogId = validateDialogId(rawDialog);
    } catch (error) {
      if (error instanceof ServiceError) throw usageError(`--dialog: ${error.message}`);
      throw error;
    }
    const botId = positiveInteger(ctx, 'bot');
    const { durationSeconds, status } = indicatorOptions(ctx);
    const url = stringOption(ctx.values, 'url') ?? DEFAULT_URL;
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
      throw usageError(`--url: "${url}" is not an http(s) URL`);
    const key = await signingKey(ctx);
    let client;
    try {
      client = createTypingClient({ url, key });
    } catch (error) {
      throw usageError(`--key: ${(error as Error).message.replace(/^createTypingClient: /, '')}`);
    }
    const fields = { portal, dialogId, botId: botId ?? null, durationSeconds, status, url };
    let shows: number | undefined;
    try {
      const answer = await ctx.progress(`Sending typing to ${dialogId} on ${portal}`, () =>
        client.sendTyping({ portal, dialogId, botId, durationSeconds, status }, { deadlineMs: DEADLINE_MS }),
      );
      shows = answer.indicatorSeconds;
    } catch (error) {
      if (!isTypingError(error)) throw error;
      const status = error.status ? ` ${error.status}` : '';
      throw new CliError(
        NOT_FOUND_CODES.has(error.code) ? EXIT.notFound : EXIT.failed,
        error.code,
        `${error.code}${status}: ${error.detail}${error.requestId ? ` (request ${error.requestId})` : ''}` +
          (HINTS[error.code] ? `\n${HINTS[error.code]}` : ''),
        fields,
        (({ code: _code, ...details }) => details)(error.toJSON()),
      );
    }
    const bot = botId === undefined ? 'the default bot' : `bot ${botId}`;
    const doing = status === undefined ? 'typing' : status.replace('_', ' ');
    return {
      json: { ...fields, indicatorSeconds: shows ?? null },
      human: [`${ctx.out.paint('green', '✓')} ${bot} is ${doing} in ${dialogId} on ${portal}${showsFor(shows)}`],
    };
  },
};

/** `--duration` and `--status`, checked here as the service checks them, so a typo costs no request. */
function indicatorOptions(ctx: CommandContext): { durationSeconds?: number; status?: TypingStatus } {
  const rawDuration = stringOption(ctx.values, 'duration');
  const rawStatus = stringOption(ctx.values, 'status');
  try {
    const durationSeconds = validateDurationSeconds(
      rawDuration === undefined ? undefined : /^\d+$/.test(rawDuration) ? Number(rawDuration) : rawDuration,
    );
    const status = validateTypingStatus(rawStatus);
    return { ...(durationSeconds !== undefined ? { durationSeconds } : {}), ...(status ? { status } : {}) };
  } catch (error) {
    if (error instanceof ServiceError)
      throw usageError(`--${error.code === 'STATUS_INVALID' ? 'status' : 'duration'}: ${error.message}`);
    throw error;
  }
}

const showsFor = (seconds: number | undefined) =>
  seconds === undefined ? '' : ` (the indicator shows for about ${seconds} s)`;

export const typingGroup: CommandGroup = { name: 'typing', summary: 'POST /typing', commands: [send] };
