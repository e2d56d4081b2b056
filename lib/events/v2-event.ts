import { ServiceError } from '../errors/index.js';
import type { BotEvent, TypingTarget } from './bot-event.js';

/**
 * Chat-bot API v2 events in their webhook shape: camelCase, one bot per call (`data[bot][id]`, `data[bot][code]`,
 * `data[bot][auth][...]`), the chat in `data[chat][...]` (`dialogId`, `entityType`), the message in
 * `data[message][...]`, a join's dialog also in `data[dialogId]`, a command in `data[command][id, context]`; every
 * scalar a string. A bot receives these only if it was registered through `imbot.v2.Bot.register`.
 */
export const V2_TYPING_EVENTS = new Set(['ONIMBOTV2MESSAGEADD', 'ONIMBOTV2COMMANDADD', 'ONIMBOTV2JOINCHAT']);

/** Verified, logged and forwarded like any event, and never typed on: edits, deletions, reactions, context. */
export const V2_EVENT_PREFIX = 'ONIMBOTV2';

export function isV2Event(event: Pick<BotEvent, 'name'>): boolean {
  return event.name.startsWith(V2_EVENT_PREFIX);
}

const record = (value: unknown): Record<string, unknown> | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'string' && /^[1-9]\d{0,15}$/.test(value) ? Number(value) : undefined;
}

/** The bot a v2 event was delivered to; `data[bot][id]`, bounded for the log. */
export function v2BotId(event: BotEvent): string | undefined {
  return str(record(event.data.bot)?.id)?.slice(0, 20);
}

/** The dialog of a v2 event: a join names it at the top of `data` (and in its chat), the others in the chat. */
export function v2DialogId(event: BotEvent): string | undefined {
  return str(event.data.dialogId) ?? str(record(event.data.chat)?.dialogId);
}

/** The one typing target of a v2 message, command or join event. */
export function v2TypingTargets(event: BotEvent): TypingTarget[] {
  const dialogId = v2DialogId(event);
  if (!dialogId) throw new ServiceError('EVENT_INVALID', `${event.name} without data[chat][dialogId].`);
  const bot = record(event.data.bot);
  const botId = positiveInt(bot?.id);
  if (botId === undefined) throw new ServiceError('EVENT_INVALID', `${event.name} names no bot in data[bot][id].`);
  const chat = record(event.data.chat);
  const command = record(event.data.command);
  // Ids are short numbers on the platform; the cut keeps a hostile one from growing the delivery memory.
  const messageId = (str(record(event.data.message)?.id) ?? '').slice(0, 32);
  const kind =
    event.name === 'ONIMBOTV2COMMANDADD'
      ? `v2command:${(str(command?.id) ?? '').slice(0, 32)}`
      : event.name === 'ONIMBOTV2MESSAGEADD'
        ? 'v2message'
        : `v2join:${(event.ts ?? '').slice(0, 32)}`;
  // The v2 names of the places the platform shows no typing itself: an open-line chat, a keyboard button.
  const openLine = str(chat?.entityType)?.toUpperCase() === 'LINES';
  const keyboard = event.name === 'ONIMBOTV2COMMANDADD' && str(command?.context)?.toLowerCase() === 'keyboard';
  const platformSilent = openLine ? 'OPEN_LINE' : keyboard ? 'KEYBOARD_COMMAND' : undefined;
  return [
    {
      botId,
      dialogId,
      api: 'v2',
      accessToken: str(record(bot?.auth)?.access_token),
      deliveryKey: `${event.auth.domain}|${kind}|${messageId}|${dialogId}|${botId}`,
      ...(platformSilent ? { platformSilent } : {}),
    },
  ];
}
