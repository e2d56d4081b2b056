import { ServiceError } from '../errors/index.js';
import { V2_TYPING_EVENTS, v2TypingTargets } from './v2-event.js';

/** The `auth[...]` block of an event. Every field is whatever the sender wrote: trust none before verification. */
export interface EventAuth {
  domain: string;
  memberId?: string;
  applicationToken?: string;
  accessToken?: string;
  refreshToken?: string;
  clientEndpoint?: string;
  serverEndpoint?: string;
}

export interface BotEvent {
  /** Upper-cased event name, e.g. `ONIMBOTMESSAGEADD`. */
  name: string;
  handlerId?: string;
  ts?: string;
  auth: EventAuth;
  data: Record<string, unknown>;
  /**
   * `eventsToken` from the query string of the URL the event was posted to: the proof a webhook portal's v2 bots
   * bring (see `WebhookCredentials.eventsToken`). Never logged or forwarded.
   */
  urlToken?: string;
}

/** One bot the event was delivered to, with the dialog to show typing in. */
export interface TypingTarget {
  botId: number;
  dialogId: string;
  /** The bot's own fresh token (OAuth application bots only). */
  accessToken?: string;
  /** `v2` for a chat-bot API v2 event, whose bot was registered through v2 and is called through it. */
  api?: 'v1' | 'v2';
  /** Identifies one delivery, so a duplicate makes no second portal call. */
  deliveryKey: string;
  /**
   * Set where the platform deliberately shows no typing for this delivery (it does for every other message,
   * command and join): an open-line chat, or a command pressed on a keyboard button.
   */
  platformSilent?: 'OPEN_LINE' | 'KEYBOARD_COMMAND';
}

// The join event is ONIMBOTJOINCHAT; no ONIMJOINCHAT event exists (only old parameter descriptions name one).
export const TYPING_EVENTS = new Set(['ONIMBOTMESSAGEADD', 'ONIMCOMMANDADD', 'ONIMBOTJOINCHAT', ...V2_TYPING_EVENTS]);
export const INSTALL_EVENTS = new Set(['ONAPPINSTALL', 'ONAPPUPDATE']);
// Five v1 bots per application is only the cloud's default; on-premise portals have no limit. This cap bounds the
// portal calls one event can cause (each is one unit of the portal's request budget) and is logged when reached.
export const MAX_BOTS_PER_EVENT = 20;

const record = (value: unknown): Record<string, unknown> | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

export function toBotEvent(form: Record<string, unknown>): BotEvent {
  const name = str(form.event)?.toUpperCase();
  const auth = record(form.auth);
  const domain = str(auth?.domain);
  if (!name || !/^[A-Z0-9_]{1,64}$/.test(name) || !auth || !domain) {
    throw new ServiceError('EVENT_INVALID', 'Body is not a Bitrix24 event: it needs event and auth[domain].');
  }
  return {
    name,
    handlerId: str(form.event_handler_id),
    ts: str(form.ts),
    auth: {
      domain,
      memberId: str(auth.member_id),
      applicationToken: str(auth.application_token),
      accessToken: str(auth.access_token),
      refreshToken: str(auth.refresh_token),
      clientEndpoint: str(auth.client_endpoint),
      serverEndpoint: str(auth.server_endpoint),
    },
    data: record(form.data) ?? {},
  };
}

function positiveInt(value: unknown): number | undefined {
  const text = typeof value === 'number' ? String(value) : value;
  return typeof text === 'string' && /^[1-9]\d{0,15}$/.test(text) ? Number(text) : undefined;
}

/**
 * The bots (and dialog) a message, command or join event asks us to show typing for.
 * Messages and joins name their bots under `data[BOT][<BOT_ID>]`; commands under `data[COMMAND][<COMMAND_ID>]`.
 */
export function typingTargets(event: BotEvent, onCapped?: (named: number) => void): TypingTarget[] {
  if (!TYPING_EVENTS.has(event.name)) return [];
  if (V2_TYPING_EVENTS.has(event.name)) return v2TypingTargets(event);
  const params = record(event.data.PARAMS);
  const dialogId = str(params?.DIALOG_ID);
  if (!dialogId) throw new ServiceError('EVENT_INVALID', `${event.name} without data[PARAMS][DIALOG_ID].`);
  // Ids are short numbers on the platform; the cut keeps a hostile one from growing the delivery memory.
  const messageId = (str(params?.MESSAGE_ID) ?? '').slice(0, 32);
  const isCommand = event.name === 'ONIMCOMMANDADD';
  const named = Object.entries(record(isCommand ? event.data.COMMAND : event.data.BOT) ?? {});
  if (named.length > MAX_BOTS_PER_EVENT) onCapped?.(named.length);
  const entries = named.slice(0, MAX_BOTS_PER_EVENT);
  const openLine = str(params?.CHAT_ENTITY_TYPE)?.toUpperCase() === 'LINES';
  const targets: TypingTarget[] = [];
  for (const [key, value] of entries) {
    const entry = record(value);
    const botId = positiveInt(entry?.BOT_ID) ?? (isCommand ? undefined : positiveInt(key));
    if (!entry || botId === undefined) continue;
    const kind = isCommand
      ? `command:${key.slice(0, 32)}`
      : event.name === 'ONIMBOTMESSAGEADD'
        ? 'message'
        : `join:${(event.ts ?? '').slice(0, 32)}`;
    // A command's context is in its own entry; the message parameters may repeat it.
    const context = str(entry.COMMAND_CONTEXT) ?? str(params?.COMMAND_CONTEXT);
    const keyboard = isCommand && context?.toUpperCase() === 'KEYBOARD';
    const platformSilent = openLine ? 'OPEN_LINE' : keyboard ? 'KEYBOARD_COMMAND' : undefined;
    targets.push({
      botId,
      dialogId,
      accessToken: str(entry.access_token) ?? str(record(entry.AUTH)?.access_token),
      deliveryKey: `${event.auth.domain}|${kind}|${messageId}|${dialogId}|${botId}`,
      ...(platformSilent ? { platformSilent } : {}),
    });
  }
  if (targets.length === 0) throw new ServiceError('EVENT_INVALID', `${event.name} names no bot.`);
  return targets;
}
