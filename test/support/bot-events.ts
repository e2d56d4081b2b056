import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { random } from '../../devtools/fixtures.js';

/**
 * Bot events shaped as Bitrix24 delivers them (from the official REST docs' examples):
 * PHP-style keys, every value a string, form-encoded the way PHP's http_build_query does it.
 */
export type EventFields = Array<[string, string]>;

export interface EventPortal {
  domain: string;
  memberId: string;
  clientEndpoint: string;
  /** The event token: OAuth application_token, or the webhook bot's CLIENT_ID. */
  applicationToken: string;
}

/** A bot as the event names it: webhook bots carry only BOT_ID/BOT_CODE, OAuth bots their own token set. */
export interface EventBot {
  botId: number;
  code?: string;
  /** OAuth bots only. */
  accessToken?: string;
  clientId?: string;
}

export function encodeForm(fields: EventFields): string {
  return fields.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&');
}

/** Reads a fixture of `key=value` lines (as in the platform doc) into fields. */
export function readFixture(name: string): EventFields {
  const text = readFileSync(join(process.cwd(), 'test', 'fixtures', 'events', name), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.includes('='))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
}

/**
 * The top-level `auth[...]` block. OAuth application events carry the token set; `refresh_token` only on message
 * and command events (joins, deletions and the rest have none). Webhook bots' events carry no tokens at all.
 */
function authBlock(portal: EventPortal, oauth: boolean, userId = '27', withRefreshToken = true): EventFields {
  const block: EventFields = [
    ['domain', portal.domain],
    ['client_endpoint', portal.clientEndpoint],
    ['server_endpoint', 'https://oauth.bitrix.info/rest/'],
    ['member_id', portal.memberId],
    ['application_token', portal.applicationToken],
  ];
  if (oauth) {
    block.unshift(
      ['access_token', random(22)],
      ['expires', String(Math.floor(Date.now() / 1000) + 3600)],
      ['expires_in', '3600'],
      ['scope', 'imbot'],
    );
    block.push(['status', 'F'], ['user_id', userId]);
    if (withRefreshToken) block.push(['refresh_token', random(23)]);
  }
  return block.map(([k, v]) => [`auth[${k}]`, v]);
}

function botBlock(prefix: string, portal: EventPortal, bot: EventBot): EventFields {
  const fields: EventFields = [];
  if (bot.accessToken) {
    const tokens: EventFields = [
      ['access_token', bot.accessToken],
      ['expires', String(Math.floor(Date.now() / 1000) + 3600)],
      ['expires_in', '3600'],
      ['scope', 'imbot'],
      ['domain', portal.domain],
      ['server_endpoint', 'https://oauth.bitrix.info/rest/'],
      ['status', 'F'],
      ['client_endpoint', portal.clientEndpoint],
      ['member_id', portal.memberId],
      ['refresh_token', random(16)],
      ['user_id', String(bot.botId)],
      ['client_id', bot.clientId ?? random(16)],
      ['application_token', portal.applicationToken],
    ];
    for (const [k, v] of tokens) fields.push([`${prefix}[${k}]`, v]);
    for (const [k, v] of tokens) fields.push([`${prefix}[AUTH][${k}]`, v]);
  }
  fields.push([`${prefix}[BOT_ID]`, String(bot.botId)], [`${prefix}[BOT_CODE]`, bot.code ?? `bot${bot.botId}`]);
  return fields;
}

function messageParams(dialogId: string, messageId: string, mentionedBotId?: number): EventFields {
  const group = dialogId.startsWith('chat');
  const params: EventFields = [
    ['MESSAGE', 'Hello'],
    ['MESSAGE_TYPE', group ? 'C' : 'P'],
    ['FROM_USER_ID', '27'],
    ['DIALOG_ID', dialogId],
    ['TO_CHAT_ID', group ? dialogId.slice(4) : '1407'],
    ['MESSAGE_ID', messageId],
    ['CHAT_TYPE', group ? 'C' : 'P'],
    ['LANGUAGE', 'en'],
  ];
  if (group) params.push(['CHAT_ID', dialogId.slice(4)], ['CHAT_TITLE', 'Support']);
  // Mentions are keyed by user id, the value repeating it: MENTIONED_LIST[567]=567.
  if (group && mentionedBotId !== undefined) params.push([`MENTIONED_LIST][${mentionedBotId}`, String(mentionedBotId)]);
  return params.map(([k, v]) => [`data[PARAMS][${k}]`, v]);
}

const common = (event: string): EventFields => [
  ['event', event],
  ['event_handler_id', '403'],
];
const user: EventFields = [
  ['data[USER][ID]', '27'],
  ['data[USER][NAME]', 'Svetlana Ivanova'],
];
const ts = (): EventFields => [['ts', String(Math.floor(Date.now() / 1000))]];

export function messageEvent(
  portal: EventPortal,
  bot: EventBot,
  options: { dialogId?: string; messageId?: string } = {},
): EventFields {
  const oauth = bot.accessToken !== undefined;
  return [
    ...common('ONIMBOTMESSAGEADD'),
    ...botBlock(`data[BOT][${bot.botId}]`, portal, bot),
    ...messageParams(
      options.dialogId ?? '27',
      options.messageId ?? String(80_000 + Math.floor(Math.random() * 1e6)),
      bot.botId,
    ),
    ...user,
    ...ts(),
    ...authBlock(portal, oauth),
  ];
}

export function commandEvent(
  portal: EventPortal,
  bot: EventBot,
  options: { dialogId?: string; messageId?: string; commandId?: number } = {},
): EventFields {
  const commandId = options.commandId ?? 12;
  const prefix = `data[COMMAND][${commandId}]`;
  return [
    ...common('ONIMCOMMANDADD'),
    ...botBlock(prefix, portal, bot),
    [`${prefix}[COMMAND]`, 'echo'],
    [`${prefix}[COMMAND_ID]`, String(commandId)],
    [`${prefix}[COMMAND_PARAMS]`, 'hi'],
    [`${prefix}[COMMAND_CONTEXT]`, 'TEXTAREA'],
    [`${prefix}[MESSAGE_ID]`, options.messageId ?? '90001'],
    ...messageParams(options.dialogId ?? '27', options.messageId ?? '90001'),
    ...user,
    ...ts(),
    ...authBlock(portal, bot.accessToken !== undefined),
  ];
}

export function joinEvent(portal: EventPortal, bot: EventBot, options: { dialogId?: string } = {}): EventFields {
  const dialogId = options.dialogId ?? 'chat1157';
  return [
    ...common('ONIMBOTJOINCHAT'),
    ...botBlock(`data[BOT][${bot.botId}]`, portal, bot),
    ['data[PARAMS][DIALOG_ID]', dialogId],
    ['data[PARAMS][BOT_ID]', String(bot.botId)],
    ['data[PARAMS][CHAT_TYPE]', dialogId.startsWith('chat') ? 'C' : 'P'],
    ['data[PARAMS][MESSAGE_TYPE]', dialogId.startsWith('chat') ? 'C' : 'P'],
    ['data[PARAMS][USER_ID]', '27'],
    ...user,
    ...ts(),
    ...authBlock(portal, bot.accessToken !== undefined, '27', false),
  ];
}

export function deleteEvent(portal: EventPortal, bot: EventBot): EventFields {
  return [
    ...common('ONIMBOTDELETE'),
    ['data[BOT_ID]', String(bot.botId)],
    ['data[BOT_CODE]', bot.code ?? `bot${bot.botId}`],
    ...ts(),
    ...authBlock(portal, bot.accessToken !== undefined, '27', false),
  ];
}

/**
 * ONAPPINSTALL as an OAuth application receives it: no `event_handler_id` (neither has ONAPPUPDATE in the docs'
 * example), `data[VERSION, ACTIVE, INSTALLED, LANGUAGE_ID]`, and the auth block with the portal's first
 * token pair. ONAPPUPDATE carries `data[VERSION, PREVIOUS_VERSION, LANGUAGE_ID]` instead.
 */
export function installEvent(
  portal: EventPortal,
  tokens: { accessToken: string; refreshToken: string },
  name = 'ONAPPINSTALL',
): EventFields {
  const data: EventFields =
    name === 'ONAPPUPDATE'
      ? [
          ['data[VERSION]', '2'],
          ['data[PREVIOUS_VERSION]', '1'],
          ['data[LANGUAGE_ID]', 'en'],
        ]
      : [
          ['data[VERSION]', '1'],
          ['data[ACTIVE]', 'Y'],
          ['data[INSTALLED]', 'Y'],
          ['data[LANGUAGE_ID]', 'en'],
        ];
  return [
    ['event', name],
    ...data,
    ...ts(),
    ['auth[access_token]', tokens.accessToken],
    ['auth[expires]', String(Math.floor(Date.now() / 1000) + 3600)],
    ['auth[expires_in]', '3600'],
    ['auth[scope]', 'imbot'],
    ['auth[domain]', portal.domain],
    ['auth[server_endpoint]', 'https://oauth.bitrix.info/rest/'],
    ['auth[status]', 'L'],
    ['auth[client_endpoint]', portal.clientEndpoint],
    ['auth[member_id]', portal.memberId],
    ['auth[user_id]', '1'],
    ['auth[refresh_token]', tokens.refreshToken],
    ['auth[application_token]', portal.applicationToken],
  ];
}

/** Replaces (or adds) one field. */
export function withField(fields: EventFields, key: string, value: string | undefined): EventFields {
  const out = fields.filter(([k]) => k !== key);
  if (value !== undefined) out.push([key, value]);
  return out;
}
